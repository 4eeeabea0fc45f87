import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyMaaToken } from '../../../src/attest/maa/index.js';
import {
  allIds,
  compact,
  FIXTURE_ISSUER,
  FIXTURE_JWKS,
  FIXTURE_NOW,
  FIXTURE_TOKEN,
  failedIds,
  fixtureParts,
  hs256,
  local,
  localJwk,
} from './tokens.js';

const trusted = { issuers: [FIXTURE_ISSUER], jwks: FIXTURE_JWKS, now: FIXTURE_NOW };

describe('verifyMaaToken on the real sharedeus2 token', () => {
  it('verifies with the clock pinned inside its window and the issuer allow-listed', async () => {
    const result = await verifyMaaToken(FIXTURE_TOKEN, trusted);
    expect(failedIds(result.checks)).toEqual([]);
    expect(allIds(result.checks)).toEqual([
      'maa.alg',
      'maa.iss',
      'maa.jku',
      'maa.kid',
      'maa.x5c',
      'maa.x5c.validity',
      'maa.key',
      'maa.signature',
      'maa.exp',
      'maa.nbf',
    ]);
    expect(result.header.kid).toBe(FIXTURE_JWKS.keys[0]?.kid);
    expect(result.claims['x-ms-attestation-type']).toBe('azurevm');
    expect(result.claims['x-ms-isolation-tee']).toMatchObject({ 'x-ms-attestation-type': 'sevsnpvm' });
    expect(result.claims.iss).toBe(FIXTURE_ISSUER);
  });

  it('uses the signing certificate, not the certificates embedded in its extension', async () => {
    const x5c = FIXTURE_JWKS.keys[0]?.x5c[0] ?? '';
    // Handed DER, Node's parser finds an embedded PEM certificate first: the pitfall the PEM wrapping avoids.
    expect(new X509Certificate(Buffer.from(x5c, 'base64')).subject).toContain('Intel SGX PCK Platform CA');
    const result = await verifyMaaToken(FIXTURE_TOKEN, trusted);
    const x5cCheck = result.checks.find((c) => c.id === 'maa.x5c');
    expect(x5cCheck?.message).toContain('CN=https://sharedeus2.eus2.attest.azure.net');
  });

  it('accepts an allow-listed issuer written with a trailing slash', async () => {
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, issuers: [`${FIXTURE_ISSUER}/`] });
    expect(failedIds(result.checks)).toEqual([]);
  });

  it('is expired when the clock is not pinned', async () => {
    const { now: _, ...unpinned } = trusted;
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, unpinned)).checks)).toEqual(['maa.exp']);
    const later = { ...trusted, now: new Date('2025-12-16T03:25:09Z') };
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, later)).checks)).toEqual(['maa.exp']);
  });

  it('allows the documented clock skew at exp and nbf', async () => {
    const justAfterExp = { ...trusted, now: new Date('2025-12-16T03:24:30Z') };
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, justAfterExp)).checks)).toEqual([]);
    const early = { ...trusted, now: new Date('2025-12-15T19:23:30Z') };
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, early)).checks)).toEqual([]);
    const tooEarly = { ...trusted, now: new Date('2025-12-15T19:22:00Z') };
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, tooEarly)).checks)).toEqual(['maa.nbf']);
  });

  it('fails the signature when one payload byte is edited', async () => {
    const [h, p = '', s] = FIXTURE_TOKEN.split('.');
    const json = Buffer.from(p, 'base64url').toString();
    const edited = json.replace('"x-ms-attestation-type":"azurevm"', '"x-ms-attestation-type":"azurevn"');
    expect(edited).not.toBe(json);
    const token = `${h}.${Buffer.from(edited).toString('base64url')}.${s}`;
    const result = await verifyMaaToken(token, trusted);
    expect(failedIds(result.checks)).toEqual(['maa.signature']);
    expect(result.claims['x-ms-attestation-type']).toBe('azurevn');
  });

  it('fails the signature when the signature is edited', async () => {
    const [h, p, s = ''] = FIXTURE_TOKEN.split('.');
    const flipped = s.slice(0, 100) + (s[100] === 'A' ? 'B' : 'A') + s.slice(101);
    const result = await verifyMaaToken(`${h}.${p}.${flipped}`, trusted);
    expect(failedIds(result.checks)).toEqual(['maa.signature']);
  });

  it('refuses alg none', async () => {
    const { header, payload } = fixtureParts();
    const token = compact({ ...header, alg: 'none' }, payload, () => Buffer.alloc(0));
    expect(token.endsWith('.')).toBe(true);
    const result = await verifyMaaToken(token, trusted);
    expect(failedIds(result.checks)).toEqual(['maa.alg', 'maa.signature']);
    expect(result.checks.find((c) => c.id === 'maa.alg')?.message).toContain('"none"');
  });

  it('refuses HS256 keyed with the RSA modulus (key confusion)', async () => {
    const { header, payload } = fixtureParts();
    const x5c = FIXTURE_JWKS.keys[0]?.x5c[0] ?? '';
    const pem = `-----BEGIN CERTIFICATE-----\n${x5c.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`;
    const pub = new X509Certificate(pem).publicKey;
    const modulus = Buffer.from(pub.export({ format: 'jwk' }).n ?? '', 'base64url');
    const spkiPem = Buffer.from(pub.export({ type: 'spki', format: 'pem' }));
    for (const secret of [modulus, spkiPem]) {
      const token = compact({ ...header, alg: 'HS256' }, payload, hs256(secret));
      const result = await verifyMaaToken(token, trusted);
      expect(failedIds(result.checks)).toEqual(['maa.alg', 'maa.signature']);
    }
  });

  it('refuses ES256 and PS256 headers', async () => {
    const [, p, s] = FIXTURE_TOKEN.split('.');
    for (const alg of ['ES256', 'PS256', 'RS512']) {
      const { header } = fixtureParts();
      const h = Buffer.from(JSON.stringify({ ...header, alg })).toString('base64url');
      const result = await verifyMaaToken(`${h}.${p}.${s}`, trusted);
      expect(failedIds(result.checks)).toEqual(['maa.alg', 'maa.signature']);
    }
  });

  it('fails maa.kid for a kid the key set does not hold', async () => {
    const jwks = { keys: FIXTURE_JWKS.keys.map((k) => ({ ...k, kid: 'another-kid' })) };
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, jwks });
    expect(failedIds(result.checks)).toEqual(['maa.kid', 'maa.signature']);
  });

  it('fails maa.kid when two keys carry the kid', async () => {
    const jwks = { keys: [...FIXTURE_JWKS.keys, ...FIXTURE_JWKS.keys] };
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, jwks });
    expect(failedIds(result.checks)).toEqual(['maa.kid', 'maa.signature']);
  });

  it('fails maa.iss for an issuer not in the list, and when no issuer is given', async () => {
    const other = { ...trusted, issuers: ['https://sharedweu.weu.attest.azure.net'] };
    expect(failedIds((await verifyMaaToken(FIXTURE_TOKEN, other)).checks)).toEqual(['maa.iss']);
    const { issuers: _, ...none } = trusted;
    const result = await verifyMaaToken(FIXTURE_TOKEN, none);
    expect(failedIds(result.checks)).toEqual(['maa.iss']);
    expect(result.checks.find((c) => c.id === 'maa.iss')?.message).toContain('no issuer is trusted');
  });

  it('fails maa.x5c when the certificate does not hold the JWK key', async () => {
    const kid = FIXTURE_JWKS.keys[0]?.kid ?? '';
    const x5c = FIXTURE_JWKS.keys[0]?.x5c ?? [];
    const jwks = { keys: [{ ...localJwk, kid, x5c }] };
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, jwks });
    expect(failedIds(result.checks)).toEqual(['maa.x5c', 'maa.signature']);
    expect(local.publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('fails maa.x5c.validity before the signing certificate was valid', async () => {
    const at = new Date('2018-06-01T00:00:00Z');
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, now: at });
    expect(failedIds(result.checks)).toEqual(['maa.x5c.validity', 'maa.nbf']);
  });

  it('fails maa.x5c for an entry that is not a certificate', async () => {
    const jwks = { keys: FIXTURE_JWKS.keys.map((k) => ({ ...k, x5c: ['AAAA'] })) };
    const result = await verifyMaaToken(FIXTURE_TOKEN, { ...trusted, jwks });
    expect(failedIds(result.checks)).toEqual(['maa.x5c', 'maa.key', 'maa.signature']);
  });
});
