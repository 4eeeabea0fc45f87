/** Test helpers for release: policies, a broker signer, and tokens with chosen claims. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SIM_DEFAULT_MEASUREMENT } from '../../../src/attest/index.js';
import { type ReleaseKeyInput, releaseKey } from '../../../src/broker/release/index.js';
import { parseReleasePolicy } from '../../../src/policy/index.js';
import { BROKER_URL, type broker, brokerKey, NOW, runtimeKey } from '../attestation/fixtures.js';

export const SNP_MEASUREMENT = 'ab'.repeat(48);

/** A policy for the broker's sim tokens that admits sim and pins the default sim measurement. */
export const simPolicy = parseReleasePolicy({
  version: '1.0.0',
  anyOf: [
    {
      authority: BROKER_URL,
      allOf: [
        { claim: 'x-ms-attestation-type', equals: 'sim' },
        { claim: 'x-ms-sim-launchmeasurement', equals: SIM_DEFAULT_MEASUREMENT },
        { claim: 'x-ms-sim-is-debuggable', equals: false },
      ],
    },
  ],
});

/** A hardware policy: SEV-SNP, a pinned measurement, debug off. */
export const snpPolicy = parseReleasePolicy({
  version: '1.0.0',
  anyOf: [
    {
      authority: BROKER_URL,
      allOf: [
        { claim: 'x-ms-attestation-type', equals: 'sevsnpvm' },
        { claim: 'x-ms-sevsnpvm-launchmeasurement', equals: SNP_MEASUREMENT },
        { claim: 'x-ms-sevsnpvm-is-debuggable', equals: false },
      ],
    },
  ],
});

/** The runtime key as sealtrain's envelopes name it. */
export const runtimeJwk = (key: KeyObject = runtimeKey.publicKey, kid = 'runtime') => ({
  ...key.export({ format: 'jwk' }),
  kid,
});

/** SEV-SNP-shaped claims, as the broker issues for verified hardware evidence. */
export function snpClaims(over: Record<string, unknown> = {}) {
  return {
    'x-ms-attestation-type': 'sevsnpvm',
    'x-ms-sevsnpvm-launchmeasurement': SNP_MEASUREMENT,
    'x-ms-sevsnpvm-is-debuggable': false,
    'x-ms-runtime': { keys: [runtimeJwk()] },
    ...over,
  } as never;
}

export const dataKey = Buffer.alloc(32, 0x5a);
export const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
export const signer = { privateKey: brokerKey.privateKey, kid: 'broker-1' };

/** A release input trusting the broker `b`, for the oct data key under `policy`. */
export function request(
  b: ReturnType<typeof broker>,
  target: string,
  over: Partial<ReleaseKeyInput> = {},
): ReleaseKeyInput {
  return {
    key: { kid: `${BROKER_URL}/keys/data/1`, kty: 'oct', material: dataKey },
    policy: simPolicy,
    target,
    trusted: { issuers: [BROKER_URL], jwks: { [BROKER_URL]: b.issuer.jwks() } },
    allowSimulated: true,
    signer,
    now: new Date(b.clock.ms),
    ...over,
  };
}

export const release = (input: ReleaseKeyInput) => releaseKey(input);
export { NOW };
