/** Test helpers: a broker issuer, a nonce store on a pinned clock, and sim evidence bound to a runtime key. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Check } from '../../../src/attest/index.js';
import { collectEvidence } from '../../../src/attest/index.js';
import {
  attestEvidence,
  createNonceStore,
  createTokenIssuer,
  type NonceStore,
  type TokenIssuer,
} from '../../../src/broker/attestation/index.js';
import { isSealtrainError, type SealtrainError } from '../../../src/errors/index.js';

export const NOW = new Date('2030-01-01T00:00:00Z');
export const BROKER_URL = 'https://127.0.0.1:8443';
export const simKey = generateKeyPairSync('ed25519');
export const brokerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
export const runtimeKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** A nonce store and issuer on a clock the test moves with `advance(ms)`. */
export function broker(options: { max?: number; ttlMs?: number } = {}): {
  nonces: NonceStore;
  issuer: TokenIssuer;
  clock: { ms: number };
  advance: (ms: number) => void;
} {
  const clock = { ms: NOW.getTime() };
  const nonces = createNonceStore({ ...options, now: () => clock.ms });
  const issuer = createTokenIssuer({
    privateKey: brokerKey.privateKey,
    issuer: BROKER_URL,
    kid: 'broker-1',
    now: () => new Date(clock.ms),
  });
  return { nonces, issuer, clock, advance: (ms) => (clock.ms += ms) };
}

/** Simulated evidence bound to `nonce` (the broker's base64url string) and the runtime key, as bytes. */
export async function simEvidence(
  nonce: string,
  options: { runtime?: KeyObject; now?: Date } = {},
): Promise<Uint8Array> {
  const envelope = await collectEvidence({
    nonce: Buffer.from(nonce, 'base64url'),
    runtimeKey: options.runtime ?? runtimeKey.publicKey,
    sim: { privateKey: simKey.privateKey },
    now: options.now ?? NOW,
  });
  return Buffer.from(JSON.stringify(envelope));
}

/** Issues a nonce and attests sim evidence for it: the broker's token for the runtime key. */
export async function simToken(b: ReturnType<typeof broker>, runtime?: KeyObject): Promise<string> {
  const nonce = b.nonces.issue();
  const input = await simEvidence(nonce, runtime ? { runtime } : {});
  const { token } = await attestEvidence(input, {
    nonces: b.nonces,
    issuer: b.issuer,
    allowSimulated: true,
    simPublicKey: simKey.publicKey,
    now: new Date(b.clock.ms),
  });
  return token;
}

export const failedIds = (checks: readonly Check[]): string[] => checks.filter((c) => !c.ok).map((c) => c.id);

/** The SealtrainError a promise rejects with (fails the test if it resolves or throws anything else). */
export async function rejection(promise: Promise<unknown>): Promise<SealtrainError> {
  try {
    await promise;
  } catch (error) {
    if (isSealtrainError(error)) return error;
    throw error;
  }
  throw new Error('expected a SealtrainError, but the call succeeded');
}

/** The decoded parts of a compact JWS. */
export function partsOf(jws: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h = '', p = ''] = jws.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}
