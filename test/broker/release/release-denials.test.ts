import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenIssuer } from '../../../src/broker/attestation/index.js';
import { parseReleasePolicy } from '../../../src/policy/index.js';
import { BROKER_URL, broker, rejection, runtimeKey, simToken } from '../attestation/fixtures.js';
import { dataKey, release, request, runtimeJwk, SNP_MEASUREMENT, snpClaims, snpPolicy } from './fixtures.js';

describe('releaseKey denials name every failed check', () => {
  it('wrong measurement: the policy pins another', async () => {
    const b = broker();
    const token = b.issuer.issue(snpClaims({ 'x-ms-sevsnpvm-launchmeasurement': 'cd'.repeat(48) }));
    const error = await rejection(release(request(b, token, { policy: snpPolicy })));
    expect(error.code).toBe('ERR_RELEASE_DENIED');
    expect(error.details.failures).toEqual(['policy.condition']);
    expect(error.details.reasons).toEqual([
      `policy.condition: anyOf[0].allOf[1]: x-ms-sevsnpvm-launchmeasurement found "${'cd'.repeat(48)}"; wanted equals "${SNP_MEASUREMENT}".`,
    ]);
    expect(error.message).toContain('x-ms-sevsnpvm-launchmeasurement');
  });

  it('debug evidence', async () => {
    const b = broker();
    const token = b.issuer.issue(snpClaims({ 'x-ms-sevsnpvm-is-debuggable': true }));
    const error = await rejection(release(request(b, token, { policy: snpPolicy })));
    expect(error.details.failures).toEqual(['policy.condition']);
    expect(String(error.details.reasons)).toContain(
      'anyOf[0].allOf[2]: x-ms-sevsnpvm-is-debuggable found true',
    );
  });

  it('an expired token', async () => {
    const b = broker();
    const token = await simToken(b);
    b.advance((300 + 60) * 1000);
    const error = await rejection(release(request(b, token)));
    expect(error.details.failures).toEqual(['maa.exp']);
    expect(error.message).toMatch(/maa\.exp: The token expired at 2030-01-01T00:05:00\.000Z/);
  });

  it('a token from an untrusted issuer, even one that signs correctly', async () => {
    const b = broker();
    const evilKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const evil = createTokenIssuer({
      privateKey: evilKey,
      issuer: 'https://evil.example',
      kid: 'broker-1',
      now: () => new Date(b.clock.ms),
    });
    const token = evil.issue(snpClaims());
    const error = await rejection(release(request(b, token, { policy: snpPolicy })));
    expect(error.details.failures).toEqual(['maa.iss', 'maa.jwks', 'maa.signature', 'policy.authority']);
    expect(String(error.details.reasons)).toContain('The token\'s iss is "https://evil.example"');
  });

  it("a token from another issuer forging the broker's iss fails the signature", async () => {
    const b = broker();
    const forger = createTokenIssuer({
      privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      issuer: BROKER_URL,
      kid: 'broker-1',
      now: () => new Date(b.clock.ms),
    });
    const error = await rejection(release(request(b, forger.issue(snpClaims()), { policy: snpPolicy })));
    expect(error.details.failures).toEqual(['maa.signature']);
  });

  it('sim through a rule that does not require sim, although another rule names sim', async () => {
    const b = broker();
    const policy = parseReleasePolicy({
      version: '1.0.0',
      anyOf: [
        { authority: BROKER_URL, allOf: [{ claim: 'x-ms-attestation-type', notEquals: 'sevsnpvm' }] },
        {
          authority: 'https://other-dev-broker.example',
          allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }],
        },
        {
          authority: BROKER_URL,
          anyOf: [
            { claim: 'x-ms-attestation-type', equals: 'sim' },
            { claim: 'secureboot', equals: true },
          ],
        },
      ],
    });
    const error = await rejection(release(request(b, await simToken(b), { policy })));
    expect(error.details.failures).toEqual(['release.sim.policy']);
  });

  it('sim when the policy does not admit sim', async () => {
    const b = broker();
    const policy = parseReleasePolicy({
      version: '1.0.0',
      anyOf: [{ authority: BROKER_URL, allOf: [{ claim: 'x-ms-sim-is-debuggable', equals: false }] }],
    });
    const error = await rejection(release(request(b, await simToken(b), { policy })));
    expect(error.details.failures).toEqual(['release.sim.policy']);
  });

  it('sim when the broker disallows simulated attestation', async () => {
    const b = broker();
    const error = await rejection(release(request(b, await simToken(b), { allowSimulated: false })));
    expect(error.details.failures).toEqual(['release.sim.broker']);
    expect(error.message).toContain('the broker was not started with --allow-simulated');
  });

  it('a sim token against a hardware policy fails the policy and the sim checks together', async () => {
    const b = broker();
    const error = await rejection(
      release(request(b, await simToken(b), { policy: snpPolicy, allowSimulated: false })),
    );
    expect(error.details.failures).toEqual([
      'policy.condition',
      'policy.condition',
      'policy.condition',
      'release.sim.broker',
      'release.sim.policy',
    ]);
  });

  it('no usable runtime key: missing, not RSA, too small, ambiguous, a kid over 256 characters', async () => {
    const b = broker();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const cases: [unknown, RegExp][] = [
      [undefined, /has no x-ms-runtime\.keys array/],
      [{ keys: [runtimeJwk(ec)] }, /holds no RSA key \(kty "EC"\)/],
      [{ keys: [runtimeJwk(small)] }, /is RSA-1024, under 2048 bits/],
      [{ keys: [runtimeJwk(runtimeKey.publicKey, 'a'), runtimeJwk(other, 'b')] }, /holds 2 RSA keys/],
      [{ keys: [{ ...runtimeJwk(), key_ops: ['verify'] }] }, /allow none of encrypt, wrapKey/],
      [{ keys: [runtimeJwk(runtimeKey.publicKey, 'k'.repeat(257))] }, /kid is 257 characters, over 256\.$/],
    ];
    for (const [runtime, why] of cases) {
      const error = await rejection(
        release(request(b, b.issuer.issue(snpClaims({ 'x-ms-runtime': runtime })), { policy: snpPolicy })),
      );
      expect(error.details.failures).toEqual(['release.runtime-key']);
      expect(error.message).toMatch(why);
    }
  });

  it('a malformed or tampered token', async () => {
    const b = broker();
    const garbage = await rejection(release(request(b, 'not-a-token')));
    expect(garbage.details.failures).toEqual(['maa.token']);
    const token = await simToken(b);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    payload['x-ms-sim-launchmeasurement'] = SNP_MEASUREMENT;
    const edited = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const error = await rejection(release(request(b, edited)));
    expect(error.details.failures).toEqual(['maa.signature', 'policy.condition', 'release.sim.policy']);
  });

  it('never puts key material in the error', async () => {
    const b = broker();
    const error = await rejection(release(request(b, await simToken(b), { allowSimulated: false })));
    const text = JSON.stringify(error.toJSON()) + error.message;
    expect(text).not.toContain(dataKey.toString('hex'));
    expect(text).not.toContain(dataKey.toString('base64'));
  });

  it('refuses bad input as usage errors', async () => {
    const b = broker();
    const token = await simToken(b);
    const cases: [Record<string, unknown>, string][] = [
      [{ key: { kid: '', kty: 'oct', material: dataKey } }, 'key.kid'],
      [{ key: { kid: 'k', kty: 'EC', material: dataKey } }, 'key.kty'],
      [{ key: { kid: 'k', kty: 'RSA', material: dataKey } }, 'key.material'],
      [{ key: { kid: 'k', kty: 'oct', material: Buffer.alloc(0) } }, 'key.material'],
      [{ signer: { privateKey: runtimeKey.publicKey, kid: 's' } }, 'signer.privateKey'],
      [{ enc: 'A256KW' }, 'enc'],
    ];
    for (const [over, field] of cases) {
      const error = await rejection(release({ ...request(b, token), ...over } as never));
      expect([error.code, error.details.field]).toEqual(['ERR_USAGE_INVALID', field]);
    }
  });
});
