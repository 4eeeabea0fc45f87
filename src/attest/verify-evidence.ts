import { createPublicKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import {
  azureCvmClaims,
  parseAzureCvmEvidence,
  validateAzureCvmPcrs,
  verifyAzureCvmEvidence,
} from './azure-cvm/index.js';
import { runtimeBinding } from './binding.js';
import { type Check, CheckList } from './check.js';
import { CLAIM, type Claims, type ClaimValue, type EvidenceKind } from './claims.js';
import { type Evidence, runtimeKeyOf } from './evidence.js';
import { type MaaVerifyOptions, verifyMaaToken } from './maa/index.js';
import { type AttestationPolicy, DEFAULT_POLICY } from './policy.js';
import { verifySimEvidence } from './sim/index.js';
import { type SnpVerifyOptions, validateSnpReport, verifySnpReport } from './snp/index.js';
import { validateSnpClaims } from './validate-claims.js';

/** Options for {@link verifyEvidence}. Every trust input has a safe default. */
export interface VerifyEvidenceOptions {
  /** What the evidence must show; default {@link DEFAULT_POLICY} (real hardware, debug off). */
  readonly policy?: AttestationPolicy;
  /** The clock for certificate and token validity; default now. */
  readonly now?: Date;
  /** The nonce this verifier issued. Without it freshness is not checked (the verdict says so). */
  readonly nonce?: Uint8Array;
  /** SEV-SNP trust roots, certificate cache and fetcher. */
  readonly snp?: Omit<SnpVerifyOptions, 'now' | 'certificates'>;
  /** MAA signing keys (a JWKS) or a fetcher for them. Issuers come from the policy. */
  readonly maa?: Omit<MaaVerifyOptions, 'now' | 'issuers'>;
  /** The public key of the local `sim` attester; `sim` evidence cannot verify without it. */
  readonly simPublicKey?: KeyObject;
}

/** The outcome of verifying and validating one piece of evidence. */
export interface Verdict {
  /** True only when every check passed. */
  readonly ok: boolean;
  readonly kind: EvidenceKind;
  /** True for simulated evidence, which proves nothing about hardware. */
  readonly sim: boolean;
  /** The clock the checks used (ISO 8601). */
  readonly at: string;
  /** Whether the evidence was bound to a nonce this verifier issued. */
  readonly fresh: boolean;
  /** Every check, verify step first, then validate. */
  readonly checks: readonly Check[];
  /** The failed checks. */
  readonly failures: readonly Check[];
  /** The claims, in MAA's names (src/attest/claims.ts). */
  readonly claims: Claims;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Pads to 64 bytes, as report data is. */
function pad64(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(64);
  Buffer.from(bytes).copy(out);
  return out;
}

function runtimeClaim(evidence: Evidence): Claims {
  return evidence.runtimeKeys.length === 0
    ? {}
    : { [CLAIM.runtime]: { keys: evidence.runtimeKeys as unknown as ClaimValue } };
}

async function verifySnpKind(
  evidence: Extract<Evidence, { kind: 'sevsnp' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Claims> {
  const result = await verifySnpReport(evidence.report, {
    ...options.snp,
    ...(options.now ? { now: options.now } : {}),
    certificates: evidence.certificates,
  });
  list.addAll(result.checks);
  if (options.nonce !== undefined) {
    const wanted = pad64(runtimeBinding(options.nonce, runtimeKeyOf(evidence)));
    list.add(
      'evidence.binding',
      sameBytes(wanted, Buffer.from(result.report.reportData, 'hex')),
      'The report data must equal the nonce this verifier issued, bound to the runtime key.',
    );
  }
  list.addAll(validateSnpReport(result.report, policy.snp ?? {}));
  return { ...result.claims, ...runtimeClaim(evidence) };
}

async function verifyAzureKind(
  evidence: Extract<Evidence, { kind: 'azure-cvm' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Claims> {
  const parsed = parseAzureCvmEvidence(evidence.azure);
  const nonce =
    options.nonce === undefined ? undefined : runtimeBinding(options.nonce, runtimeKeyOf(evidence));
  const azure = verifyAzureCvmEvidence(parsed, nonce === undefined ? {} : { nonce });
  list.addAll(azure.checks);
  const snp = await verifySnpReport(azure.snpReport, {
    ...options.snp,
    ...(options.now ? { now: options.now } : {}),
    certificates: azure.vcek === undefined ? {} : { vcek: azure.vcek },
  });
  list.addAll(snp.checks);
  list.addAll(validateSnpReport(snp.report, policy.snp ?? {}));
  if (policy.pcrs !== undefined)
    list.addAll(
      validateAzureCvmPcrs(
        azure.pcrs,
        Object.fromEntries(Object.entries(policy.pcrs).map(([k, v]) => [Number(k), v])),
      ),
    );
  return azureCvmClaims(azure.runtimeClaims, snp.claims, {
    ...(evidence.runtimeKeys.length > 0
      ? { clientRuntime: { keys: evidence.runtimeKeys as unknown as ClaimValue } }
      : {}),
  });
}

async function verifyMaaKind(
  evidence: Extract<Evidence, { kind: 'maa' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Claims> {
  const result = await verifyMaaToken(evidence.token, {
    ...options.maa,
    ...(options.now ? { now: options.now } : {}),
    issuers: policy.maa?.issuers ?? [],
  });
  list.addAll(result.checks);
  list.addAll(validateSnpClaims(result.claims, policy.snp ?? {}));
  return result.claims;
}

function verifySimKind(
  evidence: Extract<Evidence, { kind: 'sim' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Claims {
  list.add(
    'policy.allow-sim',
    policy.allowSim,
    policy.allowSim
      ? 'The policy allows simulated evidence (allowSim): this proves nothing about hardware.'
      : 'Simulated evidence is refused: the policy does not set allowSim (never set it in production).',
  );
  if (options.simPublicKey === undefined) {
    list.fail('sim.signature', 'No sim public key was given, so sim evidence cannot be verified.');
    return { [CLAIM.attestationType]: 'sim' };
  }
  const result = verifySimEvidence(evidence.sim, {
    publicKey: options.simPublicKey,
    ...(options.now ? { now: options.now } : {}),
  });
  list.addAll(result.checks);
  const reportData = result.claims['x-ms-sim-reportdata'];
  if (options.nonce !== undefined) {
    const wanted = pad64(runtimeBinding(options.nonce, runtimeKeyOf(evidence))).toString('hex');
    list.add(
      'evidence.binding',
      reportData === wanted,
      'The sim report data must equal the nonce this verifier issued, bound to the runtime key.',
    );
  }
  const allowed = policy.sim?.measurements;
  if (allowed !== undefined) {
    const m = result.claims['x-ms-sim-launchmeasurement'];
    list.add(
      'policy.measurement',
      typeof m === 'string' && allowed.includes(m),
      `x-ms-sim-launchmeasurement is ${JSON.stringify(m)}; the policy's sim allow-list has ${allowed.length}.`,
    );
  }
  return { ...result.claims, ...runtimeClaim(evidence) };
}

/**
 * Verifies evidence of any kind (signatures, certificate chain to pinned roots, freshness), then
 * validates it against the policy, running every check and reporting every failure.
 */
export async function verifyEvidence(
  evidence: Evidence,
  options: VerifyEvidenceOptions = {},
): Promise<Verdict> {
  const policy = options.policy ?? DEFAULT_POLICY;
  const list = new CheckList();
  let claims: Claims;
  if (evidence.kind === 'sevsnp') claims = await verifySnpKind(evidence, list, options, policy);
  else if (evidence.kind === 'azure-cvm') claims = await verifyAzureKind(evidence, list, options, policy);
  else if (evidence.kind === 'maa') claims = await verifyMaaKind(evidence, list, options, policy);
  else claims = verifySimKind(evidence, list, options, policy);
  return {
    ok: list.ok,
    kind: evidence.kind,
    sim: evidence.kind === 'sim',
    at: (options.now ?? new Date()).toISOString(),
    fresh: options.nonce !== undefined,
    checks: list.all,
    failures: list.failures,
    claims,
  };
}

/** Reads a PEM or JWK public key (for `--sim-key` and embedders). */
export function publicKeyFrom(material: string): KeyObject {
  const text = material.trim();
  return text.startsWith('{')
    ? createPublicKey({ key: JSON.parse(text), format: 'jwk' })
    : createPublicKey(text);
}
