import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenIssuer } from '../../../src/broker/attestation/index.js';
import { unwrapReleasedKey } from '../../../src/broker/release/index.js';
import { parseReleasePolicy } from '../../../src/policy/index.js';
import { respelt } from '../../helpers/respelt.js';
import { BROKER_URL, broker, brokerKey, partsOf, runtimeKey, simToken } from '../attestation/fixtures.js';
import { dataKey, release, request, rsaKey, runtimeJwk, signer, snpClaims, snpPolicy } from './fixtures.js';

/** The broker's JWKS as a workload gets it, and a key set with another key under the same kid. */
const trueJwks = { keys: [{ ...brokerKey.publicKey.export({ format: 'jwk' }), kid: 'broker-1' }] };
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
const publicJwks = { keys: [{ ...otherKey.export({ format: 'jwk' }), kid: 'broker-1' }] };

describe('releaseKey round trip', () => {
  it('releases an oct key to the sim workload, which unwraps exactly the key', async () => {
    const b = broker();
    const result = await release(request(b, await simToken(b), { nonce: 'client-1' }));
    expect(result.decision).toEqual({
      issuer: BROKER_URL,
      attestationType: 'sim',
      matchedRule: 0,
      runtimeKid: 'runtime',
      enc: 'CKM_RSA_AES_KEY_WRAP',
    });
    const released = await unwrapReleasedKey(result.value, runtimeKey.privateKey, {
      brokerJwks: trueJwks,
      nonce: 'client-1',
    });
    expect(released.kty).toBe('oct');
    expect(released.material).toEqual(dataKey);
  });

  it('releases an RSA key with every enc, recovering the same private key', async () => {
    const b = broker();
    for (const enc of ['CKM_RSA_AES_KEY_WRAP', 'RSA_AES_KEY_WRAP_256', 'RSA_AES_KEY_WRAP_384'] as const) {
      const key = { kid: `${BROKER_URL}/keys/rsa/1`, kty: 'RSA' as const, material: rsaKey };
      const { value } = await release(request(b, await simToken(b), { key, enc }));
      const released = await unwrapReleasedKey(value, runtimeKey.privateKey, { brokerJwks: trueJwks });
      expect(released).toMatchObject({ kid: key.kid, kty: 'RSA', enc });
      if (released.kty !== 'RSA') throw new Error('expected an RSA key');
      expect(released.material.export({ format: 'jwk' })).toEqual(rsaKey.export({ format: 'jwk' }));
    }
  });

  it("answers in the shape of Key Vault's release: request, response.key.key with key_hsm", async () => {
    const b = broker();
    const key = { kid: `${BROKER_URL}/keys/rsa/7`, kty: 'RSA' as const, material: rsaKey };
    const { value } = await release(
      request(b, await simToken(b), {
        key,
        requestKid: `${BROKER_URL}/keys/rsa`,
        nonce: 'n-1',
        keyBundle: { attributes: { exportable: true } },
      }),
    );
    const { header, payload } = partsOf(value);
    expect(header).toEqual({ alg: 'RS256', kid: 'broker-1', typ: 'JWT' });
    const pub = rsaKey.export({ format: 'jwk' });
    const keyHsm = (payload as { response: { key: { key: { key_hsm: string } } } }).response.key.key.key_hsm;
    expect(payload).toEqual({
      request: {
        'api-version': '7.4',
        enc: 'CKM_RSA_AES_KEY_WRAP',
        kid: `${BROKER_URL}/keys/rsa`,
        nonce: 'n-1',
      },
      response: {
        key: {
          attributes: { exportable: true },
          key: {
            kid: key.kid,
            kty: 'RSA',
            key_ops: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
            n: pub.n,
            e: pub.e,
            key_hsm: keyHsm,
          },
        },
      },
    });
    const hsm = JSON.parse(Buffer.from(keyHsm, 'base64url').toString());
    expect(hsm.schema_version).toBe('1.0');
    expect(hsm.header).toEqual({ kid: 'runtime', alg: 'dir', enc: 'CKM_RSA_AES_KEY_WRAP' });
    const pkcs8 = rsaKey.export({ format: 'der', type: 'pkcs8' }).length;
    expect(Buffer.from(hsm.ciphertext, 'base64url')).toHaveLength(256 + Math.ceil(pkcs8 / 8) * 8 + 8);
  });

  it('adds x5c and x5t#S256 when the signer has a certificate', async () => {
    const b = broker();
    const { value } = await release(request(b, await simToken(b), { signer: { ...signer, x5c: ['AAEC'] } }));
    expect(partsOf(value).header).toMatchObject({
      x5c: ['AAEC'],
      'x5t#S256': expect.stringMatching(/^[\w-]{43}$/),
    });
  });

  it('releases to a hardware token that satisfies the SNP policy, picking TpmEphemeralEncryptionKey', async () => {
    const b = broker();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const keys = [
      runtimeJwk(other, 'HCLAkPub'),
      runtimeJwk(runtimeKey.publicKey, 'TpmEphemeralEncryptionKey'),
    ];
    const token = b.issuer.issue(snpClaims({ 'x-ms-runtime': { keys } }));
    const result = await release(request(b, token, { policy: snpPolicy, allowSimulated: false }));
    expect(result.decision).toMatchObject({
      attestationType: 'sevsnpvm',
      runtimeKid: 'TpmEphemeralEncryptionKey',
    });
    expect(
      (await unwrapReleasedKey(result.value, runtimeKey.privateKey, { brokerJwks: trueJwks })).material,
    ).toEqual(dataKey);
  });

  it('trusts a second issuer with its own keys (as for MAA)', async () => {
    const b = broker();
    const maaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const maa = createTokenIssuer({
      privateKey: maaKey,
      issuer: 'https://shared.eus2.attest.azure.net',
      kid: 'm',
      now: () => new Date(b.clock.ms),
    });
    const policy = parseReleasePolicy({
      version: '1.0.0',
      anyOf: [
        {
          authority: 'https://shared.eus2.attest.azure.net/',
          allOf: [{ claim: 'x-ms-attestation-type', equals: 'sevsnpvm' }],
        },
      ],
    });
    const trusted = {
      issuers: [BROKER_URL, maa.issuer],
      jwks: { [BROKER_URL]: b.issuer.jwks(), [`${maa.issuer}/`]: maa.jwks() },
    };
    const result = await release(request(b, maa.issue(snpClaims()), { policy, trusted }));
    expect(result.decision.issuer).toBe(maa.issuer);
  });
});

describe('unwrapReleasedKey', () => {
  it('refuses a tampered answer, a wrong broker key, a wrong runtime key and a wrong nonce', async () => {
    const b = broker();
    const { value } = await release(request(b, await simToken(b), { nonce: 'n-1' }));
    const [h, p, s = ''] = value.split('.');
    const forged = `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), runtimeKey.privateKey).toString('base64url')}`;
    const wrongRuntime = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cases: [() => Promise<unknown>, string][] = [
      [() => unwrapReleasedKey(forged, runtimeKey.privateKey, { brokerJwks: trueJwks }), 'the JWS signature'],
      [
        () => unwrapReleasedKey(value, runtimeKey.privateKey, { brokerJwks: publicJwks }),
        'the JWS signature',
      ],
      [
        () => unwrapReleasedKey(value, runtimeKey.privateKey, { brokerJwks: { keys: [] } }),
        'the JWS header kid',
      ],
      [() => unwrapReleasedKey(value, wrongRuntime, { brokerJwks: trueJwks }), 'ciphertext'],
      [
        () => unwrapReleasedKey(value, runtimeKey.privateKey, { brokerJwks: trueJwks, nonce: 'n-2' }),
        'request.nonce',
      ],
      [() => unwrapReleasedKey('a.b', runtimeKey.privateKey, { brokerJwks: trueJwks }), 'the answer'],
      // The true signature respelt (an unused bit of its last character set): the same bytes to
      // Node's decoder, and refused.
      [
        () => unwrapReleasedKey(`${h}.${p}.${respelt(s)}`, runtimeKey.privateKey, { brokerJwks: trueJwks }),
        'the JWS signature',
      ],
      [
        () => unwrapReleasedKey(`${h}=.${p}.${s}`, runtimeKey.privateKey, { brokerJwks: trueJwks }),
        'the JWS header',
      ],
    ];
    expect(Buffer.from(respelt(s), 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    for (const [call, field] of cases) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED', details: { field } });
    }
  });
});
