import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/index.js';
import {
  brokerWithPrincipals,
  cryptoClient,
  keyClient,
  StaticToken,
  sdkFailure,
  tempDir,
} from './helpers.js';

let broker: RunningBroker;
let owner: string;
let workload: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  ({ broker, owner, workload } = await brokerWithPrincipals(temp.dir));
});
afterAll(async () => {
  await broker?.close();
  await cleanup?.();
});

describe('the real @azure/keyvault-keys clients against the broker over TLS', () => {
  it('creates, gets, rotates and lists an RSA key', async () => {
    const client = keyClient(broker, owner);
    const created = await client.createRsaKey('rsa-kek', { keySize: 3072 });
    expect(created.name).toBe('rsa-kek');
    expect(created.keyType).toBe('RSA');
    expect(created.key?.n?.length).toBe(384);
    expect(created.key?.d).toBeUndefined();
    expect(created.keyOperations).toEqual(['wrapKey', 'unwrapKey']);
    expect(created.id).toBe(`${broker.url}/keys/rsa-kek/${created.properties.version}`);

    const rotated = await client.rotateKey('rsa-kek');
    expect(rotated.properties.version).not.toBe(created.properties.version);
    const latest = await client.getKey('rsa-kek');
    expect(latest.properties.version).toBe(rotated.properties.version);
    const first = await client.getKey('rsa-kek', { version: created.properties.version ?? '' });
    expect(Buffer.from(first.key?.n ?? [])).toEqual(Buffer.from(created.key?.n ?? []));

    const versions: string[] = [];
    for await (const p of client.listPropertiesOfKeyVersions('rsa-kek')) versions.push(p.version ?? '');
    expect(versions).toEqual([created.properties.version, rotated.properties.version]);
  });

  it('wraps and unwraps with RSA-OAEP-256 through CryptographyClient, on every version', async () => {
    const client = keyClient(broker, owner);
    const v1 = await client.createRsaKey('wrap-rsa');
    const v2 = await client.rotateKey('wrap-rsa');
    for (const key of [v1, v2]) {
      const crypto = cryptoClient(broker, key.id ?? '', owner);
      const dek = randomBytes(32);
      const wrapped = await crypto.wrapKey('RSA-OAEP-256', dek);
      expect(wrapped.keyID).toBe(key.id);
      const unwrapped = await crypto.unwrapKey('RSA-OAEP-256', wrapped.result);
      expect(Buffer.from(unwrapped.result)).toEqual(dek);
    }
  });

  it('wraps and unwraps with A256KW under an oct key', async () => {
    const key = await keyClient(broker, owner).createOctKey('wrap-oct');
    expect(key.keyType).toBe('oct');
    expect(key.key?.k).toBeUndefined();
    const crypto = cryptoClient(broker, key.id ?? '', owner);
    const dek = randomBytes(32);
    const wrapped = await crypto.wrapKey('A256KW', dek);
    expect(wrapped.result.length).toBe(40);
    expect(Buffer.from((await crypto.unwrapKey('A256KW', wrapped.result)).result)).toEqual(dek);
  });

  it('refuses a tampered wrapped key with a generic error', async () => {
    const key = await keyClient(broker, owner).createOctKey('tamper-oct');
    const crypto = cryptoClient(broker, key.id ?? '', owner);
    const wrapped = Buffer.from((await crypto.wrapKey('A256KW', randomBytes(32))).result);
    wrapped[5] = (wrapped[5] ?? 0) ^ 1;
    const failure = await sdkFailure(crypto.unwrapKey('A256KW', wrapped));
    expect(failure).toMatchObject({ status: 400, code: 'BadParameter' });
    expect(failure.message).toContain('does not open under this key version');
  });

  it('answers the first, unauthenticated request with the Key Vault challenge', async () => {
    const credential = new StaticToken(owner);
    const client = keyClient(broker, owner);
    await client.createOctKey('challenge-oct');
    const { KeyClient } = await import('@azure/keyvault-keys');
    const fresh = new KeyClient(broker.url, credential, {
      agent: new (await import('node:https')).Agent({ ca: broker.caCertificate }),
      disableChallengeResourceVerification: true,
    });
    expect((await fresh.getKey('challenge-oct')).name).toBe('challenge-oct');
    expect(credential.scopes).toEqual(['https://vault.azure.net/.default']);
  });

  it('without disableChallengeResourceVerification the SDK refuses the challenge for 127.0.0.1', async () => {
    const { KeyClient } = await import('@azure/keyvault-keys');
    const strict = new KeyClient(broker.url, new StaticToken(owner), {
      agent: new (await import('node:https')).Agent({ ca: broker.caCertificate }),
    });
    await expect(strict.getKey('challenge-oct')).rejects.toThrow(/does not match the requested domain/);
  });

  it('lets a workload read a public key but not create, rotate or unwrap (403)', async () => {
    const key = await keyClient(broker, owner).createRsaKey('workload-rsa');
    const asWorkload = keyClient(broker, workload);
    expect((await asWorkload.getKey('workload-rsa')).key?.n).toBeDefined();
    expect(await sdkFailure(asWorkload.createRsaKey('nope'))).toMatchObject({
      status: 403,
      code: 'Forbidden',
    });
    expect(await sdkFailure(asWorkload.rotateKey('workload-rsa'))).toMatchObject({
      status: 403,
      code: 'Forbidden',
    });
    const crypto = cryptoClient(broker, key.id ?? '', workload);
    const wrapped = await cryptoClient(broker, key.id ?? '', owner).wrapKey('RSA-OAEP-256', randomBytes(32));
    const failure = await sdkFailure(crypto.unwrapKey('RSA-OAEP-256', wrapped.result));
    expect(failure).toMatchObject({ status: 403, code: 'Forbidden' });
    expect(failure.message).toContain('Principal "trainer" (workload) may not perform keys.unwrap');
  });

  it('answers 404 KeyNotFound for unknown keys and versions', async () => {
    const client = keyClient(broker, owner);
    expect(await sdkFailure(client.getKey('missing'))).toMatchObject({ status: 404, code: 'KeyNotFound' });
    await client.createOctKey('one-version');
    expect(
      await sdkFailure(client.getKey('one-version', { version: 'ffffffffffffffffffffffffffffffff' })),
    ).toMatchObject({
      status: 404,
      code: 'KeyNotFound',
    });
  });

  it('refuses an exportable key without a release policy and an unsupported key type', async () => {
    const client = keyClient(broker, owner);
    const noPolicy = await sdkFailure(client.createRsaKey('exp', { exportable: true }));
    expect(noPolicy).toMatchObject({ status: 400, code: 'BadParameter' });
    expect(noPolicy.message).toBe('Field "release_policy" is required for an exportable key.');
    const ec = await sdkFailure(client.createEcKey('ec'));
    expect(ec.message).toContain('Field "kty" is "EC"');
  });

  it('disables a version through updateKeyProperties and then refuses to use it', async () => {
    const client = keyClient(broker, owner);
    const key = await client.createOctKey('disable-me');
    const updated = await client.updateKeyProperties('disable-me', key.properties.version ?? '', {
      enabled: false,
    });
    expect(updated.properties.enabled).toBe(false);
    const crypto = cryptoClient(broker, key.id ?? '', owner);
    const failure = await sdkFailure(crypto.wrapKey('A256KW', randomBytes(32)));
    expect(failure.status).toBe(403);
    expect(failure.message).toContain('is disabled');
  });
});
