import type { KeyObject } from 'node:crypto';
import {
  type Check,
  CLAIM,
  type Claims,
  type ClaimValue,
  DEFAULT_POLICY,
  type Evidence,
  parseEvidence,
  type Verdict,
  type VerifyEvidenceOptions,
  verifyEvidence,
} from '../../attest/index.js';
import { SealtrainError } from '../../errors/index.js';
import type { NonceStatus, NonceStore } from './nonce-store.js';
import type { TokenIssuer } from './token-issuer.js';

/** Options for {@link attestEvidence}. */
export interface AttestEvidenceOptions {
  /** The store that issued the challenge; the evidence's nonce is consumed from it. */
  readonly nonces: NonceStore;
  /** Signs the token for evidence that passes. */
  readonly issuer: TokenIssuer;
  /** Whether the broker accepts `sim` evidence (`--allow-simulated`); sets the policy's `allowSim`. */
  readonly allowSimulated: boolean;
  /** The `sim` attester's public key; `sim` evidence cannot verify without it. */
  readonly simPublicKey?: KeyObject;
  /** Attestation policy, SEV-SNP roots and certificates, MAA keys; the nonce is always the consumed one. */
  readonly verify?: Omit<VerifyEvidenceOptions, 'nonce' | 'now'>;
  /** The clock; default now. */
  readonly now?: Date;
}

/** What {@link attestEvidence} returns for evidence that passed. */
export interface AttestResult {
  /** The signed attestation token (RS256 JWT, MAA-shaped). */
  readonly token: string;
  /** The verdict it was issued for. */
  readonly verdict: Verdict;
}

const SOURCE = 'the request body';

function malformed(field: string, why: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `Evidence ${SOURCE}: ${field} ${why}.`, {
    details: { source: SOURCE, field },
  });
}

const NONCE_REASON: Record<Exclude<NonceStatus, 'live'>, string> = {
  spent: 'was already used (a replay)',
  expired: 'has expired; ask for a new one',
  unknown: 'was not issued by this broker (or expired long ago)',
};

function rejected(checks: readonly Check[], kind: string): SealtrainError {
  const reasons = checks.map((c) => `${c.id}: ${c.message}`);
  return new SealtrainError(
    'ERR_ATTEST_REJECTED',
    `Evidence ${SOURCE} (${kind}) was rejected: ${reasons.join(' ')}`,
    { details: { source: SOURCE, kind, failures: checks.map((c) => c.id), reasons } },
  );
}

/** Spends the evidence's nonce; throws ERR_ATTEST_REJECTED naming why it is not acceptable. */
function spendNonce(evidence: Evidence, nonces: NonceStore): Buffer {
  if (evidence.nonce === undefined)
    throw malformed('nonce', 'is missing: send an evidence envelope made for a nonce this broker issued');
  if (evidence.runtimeKeys.length === 0)
    throw malformed('runtime.keys', 'is missing: the evidence must bind the workload key to release to');
  const text = evidence.nonce.toString('base64url');
  const status = nonces.status(text);
  if (nonces.consume(text)) return evidence.nonce;
  const why = NONCE_REASON[status === 'live' ? 'expired' : status];
  throw rejected([{ id: 'attest.nonce', ok: false, message: `The nonce ${why}.` }], evidence.kind);
}

/** The verdict's claims plus `x-ms-runtime.client-payload.nonce`, as MAA carries the client's nonce. */
function tokenClaims(verdict: Verdict, nonce: Buffer): Claims {
  const runtime = verdict.claims[CLAIM.runtime];
  const base = runtime !== null && typeof runtime === 'object' && !Array.isArray(runtime) ? runtime : {};
  const clientPayload: ClaimValue = { nonce: nonce.toString('base64') };
  return { ...verdict.claims, [CLAIM.runtime]: { ...base, 'client-payload': clientPayload } };
}

/**
 * The broker's attestation step: parses `input` (an evidence envelope, docs/spec/evidence-v1.md),
 * consumes its nonce from `nonces` (unknown, expired and replayed nonces are refused, the nonce is
 * spent before anything else so a failed attempt cannot be retried), verifies the evidence with that
 * nonce (so the runtime key binding is checked and proven fresh) under the policy with `allowSim`
 * set from `allowSimulated`, and issues a token carrying the verdict's claims, with the workload's
 * runtime key in `x-ms-runtime.keys`.
 *
 * Throws `ERR_ATTEST_MALFORMED` for input that does not parse or lacks a nonce or runtime key,
 * `ERR_ATTEST_UNSUPPORTED` for an unknown envelope version or kind, and `ERR_ATTEST_REJECTED` whose
 * `details.failures` lists every failed check id (`attest.nonce`, `policy.allow-sim`, …).
 */
export async function attestEvidence(
  input: Uint8Array,
  options: AttestEvidenceOptions,
): Promise<AttestResult> {
  if (!(input instanceof Uint8Array)) throw malformed('the input', 'is not bytes');
  if (typeof options.allowSimulated !== 'boolean')
    throw new SealtrainError('ERR_USAGE_INVALID', 'attestEvidence: allowSimulated is not a boolean.', {
      details: { field: 'allowSimulated' },
    });
  const evidence = parseEvidence(input, SOURCE);
  const nonce = spendNonce(evidence, options.nonces);
  const policy = { ...(options.verify?.policy ?? DEFAULT_POLICY), allowSim: options.allowSimulated };
  const verdict = await verifyEvidence(evidence, {
    ...options.verify,
    policy,
    nonce,
    ...(options.simPublicKey ? { simPublicKey: options.simPublicKey } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  if (!verdict.ok) throw rejected(verdict.failures, evidence.kind);
  if (!verdict.fresh)
    throw rejected(
      [{ id: 'attest.fresh', ok: false, message: 'No check proved the evidence was made for this nonce.' }],
      evidence.kind,
    );
  return { token: options.issuer.issue(tokenClaims(verdict, nonce)), verdict };
}
