import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyMaaToken } from '../../../src/attest/index.js';
import { attestEvidence } from '../../../src/broker/attestation/index.js';
import {
  BROKER_URL,
  broker,
  failedIds,
  NOW,
  rejection,
  runtimeKey,
  simEvidence,
  simKey,
} from './fixtures.js';

function attest(b: ReturnType<typeof broker>, input: Uint8Array, allowSimulated = true) {
  return attestEvidence(input, {
    nonces: b.nonces,
    issuer: b.issuer,
    allowSimulated,
    simPublicKey: simKey.publicKey,
    now: new Date(b.clock.ms),
  });
}

describe('attestEvidence', () => {
  it('turns sim evidence bound to an issued nonce into a token carrying the runtime key', async () => {
    const b = broker();
    const nonce = b.nonces.issue();
    const { token, verdict } = await attest(b, await simEvidence(nonce));
    expect(verdict).toMatchObject({ ok: true, fresh: true, sim: true, kind: 'sim' });
    const result = await verifyMaaToken(token, { issuers: [BROKER_URL], jwks: b.issuer.jwks(), now: NOW });
    expect(failedIds(result.checks)).toEqual([]);
    expect(result.claims['x-ms-attestation-type']).toBe('sim');
    expect(result.claims['x-ms-runtime']).toEqual({
      keys: [{ ...runtimeKey.publicKey.export({ format: 'jwk' }), kid: 'runtime' }],
      'client-payload': { nonce: Buffer.from(nonce, 'base64url').toString('base64') },
    });
  });

  it('refuses a replayed nonce, naming the replay', async () => {
    const b = broker();
    const input = await simEvidence(b.nonces.issue());
    await attest(b, input);
    const error = await rejection(attest(b, input));
    expect(error.code).toBe('ERR_ATTEST_REJECTED');
    expect(error.details.failures).toEqual(['attest.nonce']);
    expect(error.message).toContain('was already used (a replay)');
  });

  it('refuses a nonce the broker never issued', async () => {
    const b = broker();
    b.nonces.issue();
    const error = await rejection(attest(b, await simEvidence(Buffer.alloc(32, 1).toString('base64url'))));
    expect(error.details.failures).toEqual(['attest.nonce']);
    expect(error.message).toContain('was not issued by this broker');
  });

  it('refuses an expired nonce', async () => {
    const b = broker();
    const input = await simEvidence(b.nonces.issue());
    b.advance(120_000);
    const error = await rejection(attest(b, input));
    expect(error.details.failures).toEqual(['attest.nonce']);
    expect(error.message).toContain('has expired');
  });

  it('refuses sim evidence when the broker does not allow simulated attestation, and spends the nonce', async () => {
    const b = broker();
    const nonce = b.nonces.issue();
    const error = await rejection(attest(b, await simEvidence(nonce), false));
    expect(error.code).toBe('ERR_ATTEST_REJECTED');
    expect(error.details.failures).toEqual(['policy.allow-sim']);
    expect(b.nonces.status(nonce)).toBe('spent');
  });

  it('refuses evidence whose report data binds another runtime key (wrong binding)', async () => {
    const b = broker();
    const nonce = b.nonces.issue();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const envelope = JSON.parse(Buffer.from(await simEvidence(nonce, { runtime: other })).toString());
    envelope.runtime.keys = [{ ...runtimeKey.publicKey.export({ format: 'jwk' }), kid: 'runtime' }];
    const error = await rejection(attest(b, Buffer.from(JSON.stringify(envelope))));
    expect(error.details.failures).toEqual(['evidence.binding']);
  });

  it('refuses evidence made for one nonce but sent with another issued nonce', async () => {
    const b = broker();
    const first = b.nonces.issue();
    const second = b.nonces.issue();
    const envelope = JSON.parse(Buffer.from(await simEvidence(first)).toString());
    envelope.nonce = second;
    const error = await rejection(attest(b, Buffer.from(JSON.stringify(envelope))));
    expect(error.details.failures).toEqual(['evidence.binding']);
  });

  it('refuses stale sim evidence and evidence signed by another sim key', async () => {
    const b = broker();
    const stale = await simEvidence(b.nonces.issue(), { now: new Date(NOW.getTime() - 600_000) });
    expect((await rejection(attest(b, stale))).details.failures).toEqual(['sim.freshness']);
    const input = await simEvidence(b.nonces.issue());
    const error = await rejection(
      attestEvidence(input, {
        nonces: b.nonces,
        issuer: b.issuer,
        allowSimulated: true,
        simPublicKey: generateKeyPairSync('ed25519').publicKey,
        now: NOW,
      }),
    );
    expect(error.details.failures).toEqual(['sim.signature', 'sim.key-id']);
  });

  it('names a missing nonce, a missing runtime key and unparsable input as malformed', async () => {
    const b = broker();
    const envelope = JSON.parse(Buffer.from(await simEvidence(b.nonces.issue())).toString());
    const { nonce: _n, ...noNonce } = envelope;
    const { runtime: _r, ...noRuntime } = envelope;
    const cases: [unknown, string][] = [
      [noNonce, 'nonce'],
      [noRuntime, 'runtime.keys'],
    ];
    for (const [value, field] of cases) {
      const error = await rejection(attest(b, Buffer.from(JSON.stringify(value))));
      expect([error.code, error.details.field]).toEqual(['ERR_ATTEST_MALFORMED', field]);
    }
    const garbage = await rejection(attest(b, Buffer.from('{not json')));
    expect(garbage.code).toBe('ERR_ATTEST_MALFORMED');
    const oversized = await rejection(attest(b, new Uint8Array(1024 * 1024 + 1)));
    expect(oversized.code).toBe('ERR_ATTEST_MALFORMED');
  });
});
