import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvidence } from '../../src/attest/index.js';
import { readAuditEntries } from '../../src/audit/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { unwrapReleasedKey } from '../../src/broker/release/index.js';
import { brokerWithPrincipals, cryptoClient, keyClient, raw, sdkFailure, tempDir } from './helpers.js';

const simKey = generateKeyPairSync('ed25519');
const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
let broker: RunningBroker;
let strict: RunningBroker;
let owner: string;
let workload: string;
let strictWorkload: string;
let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  ({ broker, owner, workload, stateDir } = await brokerWithPrincipals(temp.dir, {
    allowSimulated: true,
    simPublicKey: simKey.publicKey,
  }));
  ({ broker: strict, workload: strictWorkload } = await brokerWithPrincipals(join(temp.dir, 'strict'), {
    simPublicKey: simKey.publicKey,
  }));
});
afterAll(async () => {
  await broker?.close();
  await strict?.close();
  await cleanup?.();
});

/** A policy that admits `sim` tokens from this broker. */
function simPolicy(b: RunningBroker): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      version: '1.0.0',
      anyOf: [{ authority: b.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
    }),
  );
}

/** The workload's attestation: nonce → sim evidence bound to the runtime key → the broker's token. */
async function attest(
  b: RunningBroker,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const nonce = ((await (await raw(b, '/attest/nonce', { token })).json()) as { nonce: string }).nonce;
  const envelope = await collectEvidence({
    nonce: Buffer.from(nonce, 'base64url'),
    runtimeKey: runtime.publicKey,
    sim: { privateKey: simKey.privateKey },
  });
  const res = await raw(b, '/attest/evidence', { method: 'POST', token, body: JSON.stringify(envelope) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Secure Key Release through KeyClient.releaseKey', () => {
  it('releases an oct key to a sim token, and the workload unwraps it with its runtime key', async () => {
    const key = await keyClient(broker, owner).createOctKey('release-oct', {
      exportable: true,
      releasePolicy: { encodedPolicy: simPolicy(broker) },
    });
    const dek = randomBytes(32);
    const wrapped = (await cryptoClient(broker, key.id ?? '', owner).wrapKey('A256KW', dek)).result;
    const { status, body } = await attest(broker, workload);
    expect(status).toBe(200);
    const released = await keyClient(broker, workload).releaseKey('release-oct', String(body.token), {
      nonce: 'client-nonce-1',
    });
    const jwks = await (await raw(broker, '/certs')).json();
    const out = await unwrapReleasedKey(released.value, runtime.privateKey, {
      brokerJwks: jwks,
      nonce: 'client-nonce-1',
    });
    expect(out.kty).toBe('oct');
    expect(out.kid).toBe(key.id);
    // The released key is the broker's key: it wraps the DEK to the same bytes.
    const material = out.material as Buffer;
    const kw = createCipheriv('id-aes256-wrap', material, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
    expect(Buffer.concat([kw.update(dek), kw.final()])).toEqual(Buffer.from(wrapped));
    material.fill(0);

    const entries = await readAuditEntries(join(stateDir, 'audit'), { action: 'broker.keys.release' });
    expect(entries.at(-1)).toMatchObject({
      actor: 'trainer',
      outcome: 'ok',
      key: { uri: 'broker:release-oct', version: key.properties.version },
      details: { attestationType: 'sim', issuer: broker.url, status: 200 },
    });
  });

  it('releases an RSA key to a sim token as a private key matching its public key', async () => {
    const key = await keyClient(broker, owner).createRsaKey('release-rsa', {
      exportable: true,
      releasePolicy: { encodedPolicy: simPolicy(broker) },
    });
    const { body } = await attest(broker, workload);
    const released = await keyClient(broker, workload).releaseKey('release-rsa', String(body.token), {
      version: key.properties.version ?? '',
    });
    const out = await unwrapReleasedKey(released.value, runtime.privateKey, {
      brokerJwks: await (await raw(broker, '/certs')).json(),
    });
    expect(out.kty).toBe('RSA');
    const jwk = (out.material as import('node:crypto').KeyObject).export({ format: 'jwk' });
    expect(Buffer.from(String(jwk.n), 'base64url')).toEqual(Buffer.from(key.key?.n ?? []));
  });

  it('denies an owner (403 Forbidden) and a key without policy (403 AccessDenied), naming why', async () => {
    await keyClient(broker, owner).createOctKey('no-policy');
    const { body } = await attest(broker, workload);
    const asOwner = await sdkFailure(keyClient(broker, owner).releaseKey('no-policy', String(body.token)));
    expect(asOwner).toMatchObject({ status: 403, code: 'Forbidden' });
    expect(asOwner.message).toContain('may not perform keys.release');
    const noPolicy = await sdkFailure(
      keyClient(broker, workload).releaseKey('no-policy', String(body.token)),
    );
    expect(noPolicy).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(noPolicy.message).toMatch(/^Key "no-policy" version [0-9a-f]{32} is not exportable\.$/);
    const metrics = await (await raw(broker, '/metrics', { token: owner })).text();
    expect(metrics).toContain(
      'sealtrain_broker_releases_total{outcome="denied",reason="release.not-exportable"} 1',
    );
    expect(metrics).toContain('sealtrain_broker_releases_total{outcome="allowed",reason="ok"}');
    expect(metrics).toContain('sealtrain_broker_attestations_total{type="sim",result="ok"}');
  });

  it('denies a policy that does not match the token, naming the failed condition', async () => {
    const policy = {
      version: '1.0.0',
      anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sevsnpvm' }] }],
    };
    await keyClient(broker, owner).createOctKey('snp-only', {
      exportable: true,
      releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
    });
    const { body } = await attest(broker, workload);
    const denied = await sdkFailure(keyClient(broker, workload).releaseKey('snp-only', String(body.token)));
    expect(denied).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(denied.message).toContain('x-ms-attestation-type');
  });

  it('refuses a replayed nonce and refuses sim evidence on a broker without --allow-simulated', async () => {
    const nonce = (
      (await (await raw(broker, '/attest/nonce', { token: workload })).json()) as { nonce: string }
    ).nonce;
    const envelope = await collectEvidence({
      nonce: Buffer.from(nonce, 'base64url'),
      runtimeKey: runtime.publicKey,
      sim: { privateKey: simKey.privateKey },
    });
    const body = JSON.stringify(envelope);
    expect((await raw(broker, '/attest/evidence', { method: 'POST', token: workload, body })).status).toBe(
      200,
    );
    const replay = await raw(broker, '/attest/evidence', { method: 'POST', token: workload, body });
    expect(replay.status).toBe(403);
    expect(((await replay.json()) as { error: { message: string } }).error.message).toContain('attest.nonce');

    const refused = await attest(strict, strictWorkload);
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('policy.allow-sim');
  });
});
