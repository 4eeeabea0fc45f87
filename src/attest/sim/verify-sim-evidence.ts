import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { type Check, CheckList } from '../check.js';
import type { Claims } from '../claims.js';
import type { SimEvidence } from './create-sim-evidence.js';
import {
  decodeBase64,
  malformedSim,
  parseSimPayload,
  type SimPayload,
  simKeyId,
} from './internal/payload.js';

/** How old simulated evidence may be by default, in seconds. */
export const SIM_MAX_AGE_SECONDS = 300;

/** How far in the future `createdAt` may be, in seconds (clock skew between machines). */
export const SIM_CLOCK_SKEW_SECONDS = 60;

/** MAA-style names for the claims simulated evidence yields; none is a real-hardware claim. */
export const SIM_CLAIM = {
  launchMeasurement: 'x-ms-sim-launchmeasurement',
  isDebuggable: 'x-ms-sim-is-debuggable',
  vmpl: 'x-ms-sim-vmpl',
  reportData: 'x-ms-sim-reportdata',
} as const;

/** Options for {@link verifySimEvidence}. */
export interface VerifySimEvidenceOptions {
  /** The `sim` public key the evidence must be signed by (a private key is reduced to its public half). */
  readonly publicKey: KeyObject;
  /** The clock for freshness; default: the current time. */
  readonly now?: Date;
  /** The oldest evidence accepted, in seconds; default {@link SIM_MAX_AGE_SECONDS}. */
  readonly maxAgeSeconds?: number;
}

/** What {@link verifySimEvidence} found. */
export interface SimVerifyResult {
  /** `sim.signature`, `sim.key-id`, `sim.freshness`, passed or failed. */
  readonly checks: readonly Check[];
  /** The claims, in MAA's shape, with `x-ms-attestation-type` `sim` at both levels. */
  readonly claims: Claims;
}

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `verifySimEvidence: ${field} ${reason}.`, {
    details: { field },
  });
}

function readOptions(options: VerifySimEvidenceOptions): { key: KeyObject; now: Date; maxAge: number } {
  const k = options.publicKey;
  if (k?.asymmetricKeyType !== 'ed25519' || (k.type !== 'public' && k.type !== 'private'))
    throw usage('publicKey', 'is not an Ed25519 key');
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw usage('now', 'is not a valid Date');
  const maxAge = options.maxAgeSeconds ?? SIM_MAX_AGE_SECONDS;
  if (!Number.isFinite(maxAge) || maxAge <= 0) throw usage('maxAgeSeconds', 'is not a positive number');
  return { key: k.type === 'private' ? createPublicKey(k) : k, now, maxAge };
}

function checkFreshness(createdAt: string, now: Date, maxAge: number, checks: CheckList): void {
  const age = (now.getTime() - Date.parse(createdAt)) / 1000;
  if (age < -SIM_CLOCK_SKEW_SECONDS)
    checks.fail('sim.freshness', `The evidence was created at ${createdAt}, after ${now.toISOString()}.`);
  else if (age > maxAge)
    checks.fail(
      'sim.freshness',
      `The evidence was created at ${createdAt}, ${Math.round(age)} s ago (at most ${maxAge}).`,
    );
  else checks.pass('sim.freshness', `The evidence was created at ${createdAt}, within ${maxAge} s.`);
}

/** The claims for a payload: `x-ms-sim-*` at the top level and under `x-ms-isolation-tee`. */
export function simClaims(payload: SimPayload): Claims {
  const sim = {
    [SIM_CLAIM.launchMeasurement]: payload.measurement.toLowerCase(),
    [SIM_CLAIM.isDebuggable]: payload.debug,
    [SIM_CLAIM.vmpl]: payload.vmpl,
    [SIM_CLAIM.reportData]: payload.reportData.toLowerCase(),
  };
  return {
    'x-ms-attestation-type': 'sim',
    'x-ms-isolation-tee': {
      'x-ms-attestation-type': 'sim',
      'x-ms-compliance-status': 'sim-insecure',
      ...sim,
    },
    ...sim,
  };
}

/**
 * Verifies simulated evidence against the one `sim` public key: the Ed25519 signature over the
 * payload bytes (`sim.signature`), the payload's key id against that key (`sim.key-id`) and its
 * age at `now` (`sim.freshness`). All three always run. Only proves the evidence came from whoever
 * holds the `sim` key, never that anything ran in a TEE. Throws `ERR_ATTEST_MALFORMED` naming the
 * field for undecodable evidence, `ERR_ATTEST_UNSUPPORTED` for another payload version.
 */
export function verifySimEvidence(evidence: SimEvidence, options: VerifySimEvidenceOptions): SimVerifyResult {
  const { key, now, maxAge } = readOptions(options);
  if (evidence === null || typeof evidence !== 'object') throw malformedSim('evidence', 'is not an object');
  const bytes = decodeBase64(evidence.payload, 'payload');
  const signature = decodeBase64(evidence.signature, 'signature');
  if (signature.length !== 64) throw malformedSim('signature', 'is not 64 bytes (Ed25519)');
  const payload = parseSimPayload(bytes);
  const checks = new CheckList();
  if (verify(null, bytes, key, signature)) checks.pass('sim.signature', 'The Ed25519 signature verifies.');
  else checks.fail('sim.signature', 'The Ed25519 signature does not verify with the sim public key.');
  const keyId = simKeyId(key);
  if (payload.keyId.toLowerCase() === keyId) checks.pass('sim.key-id', `The key id is ${keyId}.`);
  else checks.fail('sim.key-id', `The payload names key ${payload.keyId}; the sim public key is ${keyId}.`);
  checkFreshness(payload.createdAt, now, maxAge, checks);
  return { checks: checks.all, claims: simClaims(payload) };
}
