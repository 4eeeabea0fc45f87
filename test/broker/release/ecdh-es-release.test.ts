import { generateKeyPairSync } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ECDH_ES_RELEASE,
  ecdhEsUnwrap,
  ecdhEsWrap,
  MAX_WRAPPED_KEY_BYTES,
  unwrapReleasedKey,
} from '../../../src/broker/release/index.js';
import { signRelease } from '../../../src/broker/release/internal/payload.js';
import {
  BROKER_URL,
  broker,
  brokerKey,
  partsOf,
  rejection,
  runtimeKey,
  simToken,
} from '../attestation/fixtures.js';
import { dataKey, release, request, rsaKey, runtimeJwk, signer, snpClaims, snpPolicy } from './fixtures.js';

const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const trueJwks = {
  keys: [{ kty: 'RSA', kid: 'broker-1', ...brokerKey.publicKey.export({ format: 'jwk' }) }],
};
const enc = ECDH_ES_RELEASE;

/** The release answer's payload with `key_hsm` replaced, signed again by the broker. */
function resigned(value: string, edit: (hsm: Record<string, unknown>) => void): string {
  const payload = partsOf(value).payload as { response: { key: { key: { key_hsm: string } } } };
  const bundle = payload.response.key.key;
  const hsm = JSON.parse(Buffer.from(bundle.key_hsm, 'base64url').toString('utf8'));
  edit(hsm);
  bundle.key_hsm = Buffer.from(JSON.stringify(hsm)).toString('base64url');
  return signRelease(payload, signer);
}

describe('ECDH_ES_A256GCM: release to an elliptic-curve runtime key', () => {
  it('releases an oct key to a sim workload with a P-256 key, which unwraps exactly the key', async () => {
    const b = broker();
    const result = await release(request(b, await simToken(b, ec256.publicKey), { enc, nonce: 'n-1' }));
    expect(result.decision).toMatchObject({ attestationType: 'sim', runtimeKid: 'runtime', enc });
    const hsm = JSON.parse(
      Buffer.from(
        (partsOf(result.value).payload as { response: { key: { key: { key_hsm: string } } } }).response.key
          .key.key_hsm,
        'base64url',
      ).toString('utf8'),
    );
    expect(hsm.header).toEqual({ kid: 'runtime', alg: 'dir', enc });
    // The ciphertext is a compact JWE whose protected header names ECDH-ES, A256GCM and the runtime key.
    const jwe = Buffer.from(hsm.ciphertext, 'base64url').toString('utf8').split('.');
    expect(jwe).toHaveLength(5);
    expect(JSON.parse(Buffer.from(jwe[0] as string, 'base64url').toString('utf8'))).toMatchObject({
      alg: 'ECDH-ES',
      enc: 'A256GCM',
      kid: 'runtime',
      epk: { kty: 'EC', crv: 'P-256' },
    });
    expect(jwe.join('.')).not.toContain(dataKey.toString('base64url'));
    const released = await unwrapReleasedKey(result.value, ec256.privateKey, {
      brokerJwks: trueJwks,
      nonce: 'n-1',
    });
    expect(released).toMatchObject({ kty: 'oct', enc });
    expect(released.material).toEqual(dataKey);
  });

  it('releases an RSA key to a P-384 runtime key of a hardware token, as the same private key', async () => {
    const b = broker();
    const token = b.issuer.issue(snpClaims({ 'x-ms-runtime': { keys: [runtimeJwk(ec384.publicKey)] } }));
    const key = { kid: `${BROKER_URL}/keys/rsa/1`, kty: 'RSA' as const, material: rsaKey };
    const { value } = await release(
      request(b, token, { key, enc, policy: snpPolicy, allowSimulated: false }),
    );
    const released = await unwrapReleasedKey(value, ec384.privateKey, { brokerJwks: trueJwks });
    if (released.kty !== 'RSA') throw new Error('expected an RSA key');
    expect(released.material.export({ format: 'jwk' })).toEqual(rsaKey.export({ format: 'jwk' }));
  });

  it('denies ECDH_ES_A256GCM when the runtime key is RSA, and an RSA wrapping when it is EC', async () => {
    const b = broker();
    const toRsa = await rejection(release(request(b, await simToken(b), { enc })));
    expect(toRsa.code).toBe('ERR_RELEASE_DENIED');
    expect(toRsa.message).toMatch(/release\.runtime-key: .*holds no EC key \(kty "RSA"\)/);
    const toEc = await rejection(release(request(b, await simToken(b, ec256.publicKey))));
    expect(toEc.message).toMatch(/release\.runtime-key: .*holds no RSA key \(kty "EC"\)/);
  });

  it('denies a runtime key on another curve, off its curve, without deriveKey, or not the only one', async () => {
    const b = broker();
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey;
    const p256 = runtimeJwk(ec256.publicKey);
    // A point not on P-256: y changed.
    const y = Buffer.from(String(p256.y), 'base64url');
    y[31] = (y[31] ?? 0) ^ 1;
    const cases: [unknown[], RegExp][] = [
      [[runtimeJwk(p521)], /curve "P-521" is not P-256 or P-384/],
      [[{ ...p256, y: y.toString('base64url') }], /x and y are not a point of its curve/],
      [[{ ...p256, key_ops: ['sign'] }], /key_ops \["sign"\] allow none of deriveKey, deriveBits/],
      [[p256, runtimeJwk(ec384.publicKey, 'second')], /holds 2 EC keys/],
    ];
    for (const [keys, reason] of cases) {
      const token = b.issuer.issue(snpClaims({ 'x-ms-runtime': { keys } }));
      const error = await rejection(
        release(request(b, token, { enc, policy: snpPolicy, allowSimulated: false })),
      );
      expect(error.code).toBe('ERR_RELEASE_DENIED');
      expect((error.details as { failures: string[] }).failures).toEqual(['release.runtime-key']);
      expect(error.message).toMatch(reason);
    }
  });

  it('refuses an answer for another runtime key, a tampered ciphertext, or an enc that does not fit the key', async () => {
    const b = broker();
    const { value } = await release(request(b, await simToken(b, ec256.publicKey), { enc }));
    const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const flipped = resigned(value, (hsm) => {
      const bytes = Buffer.from(String(hsm.ciphertext), 'base64url');
      const last = bytes.length - 30; // inside the base64url of the GCM ciphertext
      bytes[last] = bytes[last] === 0x41 ? 0x42 : 0x41;
      hsm.ciphertext = bytes.toString('base64url');
    });
    const relabelled = resigned(value, (hsm) => {
      (hsm.header as Record<string, unknown>).enc = 'CKM_RSA_AES_KEY_WRAP';
    });
    const cases: [() => Promise<unknown>, string][] = [
      [() => unwrapReleasedKey(value, otherEc, { brokerJwks: trueJwks }), 'ciphertext'],
      [() => unwrapReleasedKey(flipped, ec256.privateKey, { brokerJwks: trueJwks }), 'ciphertext'],
      [() => unwrapReleasedKey(value, runtimeKey.privateKey, { brokerJwks: trueJwks }), 'key_hsm.header.enc'],
      [() => unwrapReleasedKey(relabelled, ec256.privateKey, { brokerJwks: trueJwks }), 'key_hsm.header.enc'],
    ];
    for (const [call, field] of cases) {
      const error = await rejection(call());
      expect(error).toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED', details: { field } });
      // Decryption failures do not say where they failed.
      if (field === 'ciphertext')
        expect(error.message).toBe('The released key could not be unwrapped with this key.');
    }
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    expect(await rejection(unwrapReleasedKey(value, p521, { brokerJwks: trueJwks }))).toMatchObject({
      code: 'ERR_USAGE_INVALID',
    });
  });
});

describe('ecdhEsWrap / ecdhEsUnwrap', () => {
  it('round-trips, and makes a different ciphertext each time (a fresh ephemeral key)', async () => {
    const a = await ecdhEsWrap(dataKey, ec256.publicKey, 'runtime');
    const b = await ecdhEsWrap(dataKey, ec256.publicKey, 'runtime');
    expect(a).not.toEqual(b);
    expect(await ecdhEsUnwrap(a, ec256.privateKey)).toEqual(dataKey);
    expect(await ecdhEsUnwrap(b, ec256.privateKey)).toEqual(dataKey);
  });

  it('accepts only ECDH-ES with A256GCM, not another JWE a sender could choose', async () => {
    for (const header of [
      { alg: 'ECDH-ES+A256KW', enc: 'A256GCM' },
      { alg: 'ECDH-ES', enc: 'A128GCM' },
      { alg: 'ECDH-ES', enc: 'A256CBC-HS512' },
      // Compressed: inflating would leave an unwiped copy of the key.
      { alg: 'ECDH-ES', enc: 'A256GCM', zip: 'DEF' },
    ]) {
      const jwe = await new CompactEncrypt(dataKey).setProtectedHeader(header).encrypt(ec256.publicKey);
      const error = await rejection(ecdhEsUnwrap(Buffer.from(jwe), ec256.privateKey));
      expect(error).toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED', details: { field: 'ciphertext' } });
    }
    expect((await rejection(ecdhEsUnwrap(Buffer.from('not a jwe'), ec256.privateKey))).code).toBe(
      'ERR_KMS_UNWRAP_FAILED',
    );
  });

  it('refuses empty or oversized material and a key that is not a public P-256 or P-384 key', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => ecdhEsWrap(new Uint8Array(0), ec256.publicKey, 'r'), 'material'],
      [() => ecdhEsWrap(new Uint8Array(MAX_WRAPPED_KEY_BYTES + 1), ec256.publicKey, 'r'), 'material'],
      [() => ecdhEsWrap(dataKey, ec256.privateKey, 'r'), 'publicKey'],
      [() => ecdhEsWrap(dataKey, runtimeKey.publicKey, 'r'), 'publicKey'],
    ];
    for (const [call, field] of cases)
      expect(await rejection(call())).toMatchObject({ code: 'ERR_USAGE_INVALID', details: { field } });
  });
});
