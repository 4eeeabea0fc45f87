import { createPublicKey, type JsonWebKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import {
  azureCvmClaims,
  parseAzureCvmEvidence,
  validateAzureCvmPcrs,
  verifyAzureCvmEvidence,
} from './azure-cvm/index.js';
import { runtimeBinding } from './binding.js';
import { type Check, CheckList } from './check.js';
import { CLAIM, type Claims, type ClaimValue, claimAt, type EvidenceKind } from './claims.js';
import { type Evidence, runtimeKeyOf, type SnpCertificates } from './evidence.js';
import { type MaaVerifyOptions, verifyMaaToken } from './maa/index.js';
import { type AttestationPolicy, DEFAULT_POLICY } from './policy.js';
import { SIM_CLAIM, verifySimEvidence } from './sim/index.js';
import { type SnpVerifyOptions, validateSnpReport, verifySnpReport } from './snp/index.js';
import { validateSnpClaims } from './validate-claims.js';
import { validateSim } from './validate-sim.js';

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
  /** Certificates the operator supplies (VCEK/VLEK, ASK/ASVK); they win over those in the evidence. */
  readonly certificates?: SnpCertificates;
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
  /** True only when a check proved the evidence was made for the nonce this verifier issued. */
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

/**
 * The binding to check: from the nonce this verifier issued (fresh), else from the envelope's own
 * nonce (binds the runtime key, proves nothing about freshness). Evidence that names a runtime key
 * but has no nonce at all fails `evidence.binding`: an unbound key must never reach the claims.
 */
function bindingOf(evidence: Evidence, options: VerifyEvidenceOptions, list: CheckList) {
  const nonce = options.nonce ?? evidence.nonce;
  if (nonce === undefined) {
    if (evidence.runtimeKeys.length > 0)
      list.fail(
        'evidence.binding',
        'The evidence names a runtime key but carries no nonce, so the key is not bound.',
      );
    return undefined;
  }
  const fresh = options.nonce !== undefined;
  return { binding: runtimeBinding(nonce, runtimeKeyOf(evidence)), fresh };
}

/** Compares report data with the binding; returns whether it proved freshness. */
function checkReportData(
  evidence: Evidence,
  options: VerifyEvidenceOptions,
  list: CheckList,
  actual: Buffer,
): boolean {
  const b = bindingOf(evidence, options, list);
  if (b === undefined) return false;
  const ok = list.add(
    'evidence.binding',
    sameBytes(pad64(b.binding), actual),
    b.fresh
      ? 'The report data must equal the nonce this verifier issued, bound to the runtime key.'
      : "The report data must equal the envelope's own nonce bound to the runtime key (pass --nonce to check freshness).",
  );
  return ok && b.fresh;
}

function cannotShow(list: CheckList, policy: AttestationPolicy, kind: EvidenceKind): void {
  if (policy.pcrs !== undefined)
    list.fail(
      'policy.pcr',
      `The policy sets pcrs, which ${kind} evidence cannot show (only Azure CVM evidence quotes PCRs).`,
    );
}

type Outcome = { claims: Claims; fresh: boolean };

async function verifySnpKind(
  evidence: Extract<Evidence, { kind: 'sevsnp' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Outcome> {
  const result = await verifySnpReport(evidence.report, {
    ...options.snp,
    ...(options.now ? { now: options.now } : {}),
    certificates: { ...evidence.certificates, ...options.certificates },
  });
  list.addAll(result.checks);
  const fresh = checkReportData(evidence, options, list, Buffer.from(result.report.reportData, 'hex'));
  list.addAll(validateSnpReport(result.report, policy.snp ?? {}));
  cannotShow(list, policy, 'sevsnp');
  return { claims: { ...result.claims, ...runtimeClaim(evidence) }, fresh };
}

async function verifyAzureKind(
  evidence: Extract<Evidence, { kind: 'azure-cvm' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Outcome> {
  const parsed = parseAzureCvmEvidence(evidence.azure);
  const b = bindingOf(evidence, options, list);
  const azure = verifyAzureCvmEvidence(parsed, b === undefined ? {} : { nonce: b.binding });
  list.addAll(azure.checks);
  const snp = await verifySnpReport(azure.snpReport, {
    ...options.snp,
    ...(options.now ? { now: options.now } : {}),
    certificates: { ...(azure.vcek === undefined ? {} : { vcek: azure.vcek }), ...options.certificates },
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
  const claims = azureCvmClaims(azure.runtimeClaims, snp.claims, {
    ...(evidence.runtimeKeys.length > 0
      ? { clientRuntime: { keys: evidence.runtimeKeys as unknown as ClaimValue } }
      : {}),
  });
  const nonceOk = azure.checks.some((c) => c.id === 'azure.quote.nonce' && c.ok);
  return { claims, fresh: b?.fresh === true && nonceOk };
}

/**
 * MAA tokens carry the client's runtime data as issued; sealtrain's convention is the nonce in
 * `x-ms-runtime.client-payload.nonce`, standard base64 (docs/attestation.md).
 */
function checkTokenNonce(claims: Claims, options: VerifyEvidenceOptions, list: CheckList): boolean {
  if (options.nonce === undefined) return false;
  const found = claimAt(claims, `${CLAIM.runtime}.client-payload.nonce`);
  const wanted = Buffer.from(options.nonce).toString('base64');
  return list.add(
    'evidence.binding',
    typeof found === 'string' && sameBytes(Buffer.from(found), Buffer.from(wanted)),
    `x-ms-runtime.client-payload.nonce is ${JSON.stringify(found ?? null)}; the nonce this verifier issued is ${wanted}.`,
  );
}

async function verifyMaaKind(
  evidence: Extract<Evidence, { kind: 'maa' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Promise<Outcome> {
  const result = await verifyMaaToken(evidence.token, {
    ...options.maa,
    ...(options.now ? { now: options.now } : {}),
    issuers: policy.maa?.issuers ?? [],
  });
  list.addAll(result.checks);
  const fresh = checkTokenNonce(result.claims, options, list);
  list.addAll(validateSnpClaims(result.claims, policy.snp ?? {}));
  cannotShow(list, policy, 'maa');
  return { claims: result.claims, fresh };
}

function verifySimKind(
  evidence: Extract<Evidence, { kind: 'sim' }>,
  list: CheckList,
  options: VerifyEvidenceOptions,
  policy: AttestationPolicy,
): Outcome {
  if (options.simPublicKey === undefined) {
    list.fail('sim.signature', 'No sim public key was given, so sim evidence cannot be verified.');
    list.addAll(validateSim({}, { version: 1, allowSim: policy.allowSim }));
    return { claims: { [CLAIM.attestationType]: 'sim' }, fresh: false };
  }
  const result = verifySimEvidence(evidence.sim, {
    publicKey: options.simPublicKey,
    ...(options.now ? { now: options.now } : {}),
  });
  list.addAll(result.checks);
  const reportData = Buffer.from(String(result.claims[SIM_CLAIM.reportData] ?? ''), 'hex');
  const fresh = checkReportData(evidence, options, list, reportData);
  list.addAll(validateSim(result.claims, policy));
  cannotShow(list, policy, 'sim');
  return { claims: { ...result.claims, ...runtimeClaim(evidence) }, fresh };
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
  const outcome =
    evidence.kind === 'sevsnp'
      ? await verifySnpKind(evidence, list, options, policy)
      : evidence.kind === 'azure-cvm'
        ? await verifyAzureKind(evidence, list, options, policy)
        : evidence.kind === 'maa'
          ? await verifyMaaKind(evidence, list, options, policy)
          : verifySimKind(evidence, list, options, policy);
  return {
    ok: list.ok,
    kind: evidence.kind,
    sim: evidence.kind === 'sim',
    at: (options.now ?? new Date()).toISOString(),
    fresh: outcome.fresh,
    checks: list.all,
    failures: list.failures,
    claims: outcome.claims,
  };
}

/** Reads a PEM or JWK public key (for `--sim-key`, `--runtime-key` and embedders); `source` names it in errors. */
export function publicKeyFrom(material: string, source = 'the key'): KeyObject {
  const text = material.trim();
  try {
    const key = text.startsWith('{')
      ? createPublicKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' })
      : createPublicKey(text);
    return key;
  } catch (cause) {
    throw new SealtrainError('ERR_ATTEST_MALFORMED', `${source} is not a public key (PEM or JWK).`, {
      cause,
      details: { source },
    });
  }
}
