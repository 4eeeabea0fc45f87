import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyMaaToken } from '../../../src/attest/index.js';
import { createTokenIssuer } from '../../../src/broker/attestation/index.js';
import { BROKER_URL, brokerKey, failedIds, NOW, partsOf } from './fixtures.js';

const issuer = createTokenIssuer({
  privateKey: brokerKey.privateKey,
  issuer: `${BROKER_URL}/`,
  kid: 'broker-1',
  now: () => NOW,
  random: () => new Uint8Array(32).fill(7),
});
const trusted = { issuers: [BROKER_URL], jwks: issuer.jwks(), now: NOW };
const claims = { 'x-ms-attestation-type': 'sim', 'x-ms-runtime': { keys: [{ kty: 'RSA', kid: 'runtime' }] } };

function resign(token: string, edit: (payload: Record<string, unknown>) => void, key = brokerKey.privateKey) {
  const { header, payload } = partsOf(token);
  edit(payload);
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return { input, signed: `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}` };
}

describe('createTokenIssuer', () => {
  it('issues an RS256 token that verifyMaaToken accepts with the issuer allow-listed', async () => {
    const token = issuer.issue({ ...claims, iss: 'https://evil.example', exp: 1 });
    const result = await verifyMaaToken(token, trusted);
    expect(failedIds(result.checks)).toEqual([]);
    expect(result.header).toEqual({ typ: 'JWT', kid: 'broker-1', jku: `${BROKER_URL}/certs`, alg: 'RS256' });
    const iat = NOW.getTime() / 1000;
    expect(result.claims).toEqual({
      ...claims,
      iss: BROKER_URL,
      iat,
      nbf: iat,
      exp: iat + 300,
      jti: '07'.repeat(32),
      'x-ms-ver': '1.0',
    });
  });

  it('serves its public key only, as the JWKS at /certs', () => {
    const [jwk] = issuer.jwks().keys;
    expect(jwk).toEqual({
      ...brokerKey.publicKey.export({ format: 'jwk' }),
      kid: 'broker-1',
      use: 'sig',
      alg: 'RS256',
    });
    expect(Object.keys(jwk ?? {})).not.toContain('d');
  });

  it('defaults the kid to the RFC 7638 thumbprint', () => {
    const plain = createTokenIssuer({ privateKey: brokerKey.privateKey, issuer: BROKER_URL });
    const { header } = partsOf(plain.issue({}));
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(plain.jwks().keys[0]?.kid).toBe(header.kid);
  });

  it('a token with an edited claim, or signed by another key, fails maa.signature', async () => {
    const token = issuer.issue(claims);
    const s = token.split('.')[2];
    const { input } = resign(token, (p) => {
      p['x-ms-attestation-type'] = 'sevsnpvm';
    });
    const edited = `${input}.${s}`;
    expect(failedIds((await verifyMaaToken(edited, trusted)).checks)).toEqual(['maa.signature']);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = resign(token, () => {}, other).signed;
    expect(failedIds((await verifyMaaToken(forged, trusted)).checks)).toEqual(['maa.signature']);
  });

  it('is expired after ttlSeconds and not trusted without the issuer allow-listed', async () => {
    const token = issuer.issue(claims);
    const later = new Date(NOW.getTime() + (300 + 60) * 1000);
    expect(failedIds((await verifyMaaToken(token, { ...trusted, now: later })).checks)).toEqual(['maa.exp']);
    const other = { ...trusted, issuers: ['https://sharedeus2.eus2.attest.azure.net'] };
    expect(failedIds((await verifyMaaToken(token, other)).checks)).toEqual(['maa.iss']);
  });

  it('refuses a small or public key, a plain-http remote issuer and a bad ttl', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const base = { privateKey: brokerKey.privateKey, issuer: BROKER_URL };
    expect(() => createTokenIssuer({ ...base, privateKey: small })).toThrow(
      /privateKey is not a private RSA key/,
    );
    expect(() => createTokenIssuer({ ...base, privateKey: brokerKey.publicKey })).toThrow(/privateKey/);
    expect(() => createTokenIssuer({ ...base, issuer: 'http://broker.example' })).toThrow(
      /issuer must be an https URL/,
    );
    expect(() => createTokenIssuer({ ...base, issuer: 'https://b.example/?x=1' })).toThrow(/query/);
    expect(() => createTokenIssuer({ ...base, ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(createTokenIssuer({ ...base, issuer: 'http://localhost:8080' }).issuer).toBe(
      'http://localhost:8080',
    );
  });
});
