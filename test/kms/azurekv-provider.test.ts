// The azurekv: provider against sealtrain's broker over TLS: the Azure SDK on one side, the broker
// on the other, nothing mocked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/index.js';
import { isSealtrainError } from '../../src/errors/index.js';
import { AzureKeyVaultProvider } from '../../src/kms/index.js';
import { sealBuffer, unsealBuffer } from '../../src/seal/index.js';
import { brokerWithPrincipals, clientOptions, StaticToken, tempDir } from '../broker/helpers.js';

let broker: RunningBroker;
let owner: string;
let workload: string;
let cleanup: () => Promise<void>;
const provider = (token: string) =>
  new AzureKeyVaultProvider({
    vaultUrl: broker.url,
    credential: new StaticToken(token),
    clientOptions: clientOptions(broker),
    keySize: 2048,
  });
const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  return isSealtrainError(e) ? e.code : `not a coded error: ${String(e)}`;
};

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  ({ broker, owner, workload } = await brokerWithPrincipals(t.dir));
});
afterAll(async () => {
  await broker.close();
  await cleanup();
});

describe('azurekv: provider against the broker', () => {
  it('creates, wraps and unwraps, rotates, and keeps old versions unwrapping', async () => {
    const kv = provider(owner);
    const v1 = await kv.create('hospital-a');
    expect(v1.uri).toBe(`azurekv://${new URL(broker.url).host}/keys/hospital-a`);
    expect(await codeOf(kv.create('hospital-a'))).toBe('ERR_KMS_KEY_EXISTS');
    const dek = Buffer.alloc(32, 7);
    const w1 = await kv.wrap(v1.uri, dek);
    expect(w1).toMatchObject({ version: v1.version, alg: 'RSA-OAEP-256' });
    expect(Buffer.from(await kv.unwrap(w1))).toEqual(dek);
    const v2 = await kv.rotate('hospital-a');
    expect(v2.version).not.toBe(v1.version);
    const w2 = await kv.wrap(v1.uri, dek);
    expect(w2.version).toBe(v2.version);
    expect(Buffer.from(await kv.unwrap(w1))).toEqual(dek);
    expect((await kv.listVersions('hospital-a')).map((v) => v.version).sort()).toEqual(
      [v1.version, v2.version].sort(),
    );
    const tampered = { ...w2, wrapped: Buffer.from(w2.wrapped).fill(1, 0, 8) };
    expect(await codeOf(kv.unwrap(tampered))).toBe('ERR_KMS_UNWRAP_FAILED');
    await kv.disableVersion('hospital-a', v1.version);
    expect(await codeOf(kv.unwrap(w1))).toBe('ERR_KMS_KEY_DISABLED');
  });

  it('seals for an azurekv: recipient and unseals through the vault', async () => {
    const kv = provider(owner);
    const key = await kv.create('dataset-owner');
    const plaintext = Buffer.from('age,bp\n54,130\n61,142\n');
    const sealed = await sealBuffer(plaintext, { recipients: [key.uri], providers: [kv] });
    expect(Buffer.from(await unsealBuffer(sealed, { providers: [kv] }))).toEqual(plaintext);
  });

  it('names the refusal when a workload principal tries owner operations, and a foreign vault URI', async () => {
    expect(await codeOf(provider(workload).create('not-allowed'))).toBe('ERR_BROKER_AUTH');
    expect(await codeOf(provider(owner).wrap('azurekv://other-vault/keys/x', Buffer.alloc(32)))).toBe(
      'ERR_KMS_BAD_URI',
    );
    expect(
      await codeOf(
        provider(owner).wrap(`azurekv://${new URL(broker.url).host}/keys/missing`, Buffer.alloc(32)),
      ),
    ).toBe('ERR_KMS_KEY_NOT_FOUND');
  });
});
