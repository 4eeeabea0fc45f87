import {
  CLAIM,
  type Claims,
  type ClaimValue,
  type EvidenceKind,
  SIM_CLAIM,
  type Verdict,
} from '../attest/index.js';
import { SealtrainError } from '../errors/index.js';
import { parseReleasePolicy } from './parse-release-policy.js';
import type { ClaimCondition, ReleasePolicy } from './release-policy.js';

/** Options for {@link generatePolicy}. */
export interface GeneratePolicyOptions {
  /** The attestation service whose tokens the policy trusts (an https URL), e.g. the broker's. */
  readonly authority: string;
  /** The kind of evidence the claims came from, checked against them; a verdict says it itself. */
  readonly kind?: EvidenceKind;
}

const TEE = CLAIM.isolationTee;
const tee = (name: string): string => `${TEE}.${name}`;

/** The minimum TCB claims pinned with greaterOrEquals; `fmc` only where the chip reports it. */
const TCB_CLAIMS = [CLAIM.bootloaderSvn, CLAIM.teeSvn, CLAIM.snpFwSvn, CLAIM.microcodeSvn] as const;

function isVerdict(value: Verdict | Claims): value is Verdict {
  const v = value as Partial<Verdict>;
  return typeof v.ok === 'boolean' && Array.isArray(v.checks) && typeof v.claims === 'object';
}

function missing(path: string, what: string): SealtrainError {
  return new SealtrainError(
    'ERR_ATTEST_MALFORMED',
    `Cannot generate a release policy: the claims have no ${what} at ${path}.`,
    { details: { claim: path } },
  );
}

function teeClaims(claims: Claims): Readonly<Record<string, ClaimValue>> {
  const value = claims[TEE];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw missing(TEE, 'isolation TEE claims object');
  return value as Readonly<Record<string, ClaimValue>>;
}

function stringClaim(t: Readonly<Record<string, ClaimValue>>, name: string, what: string): string {
  const value = t[name];
  if (typeof value !== 'string' || value.length === 0) throw missing(tee(name), what);
  return value;
}

function notDebuggable(t: Readonly<Record<string, ClaimValue>>, name: string): ClaimCondition {
  const value = t[name];
  if (typeof value !== 'boolean') throw missing(tee(name), 'debug flag');
  if (value)
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `Cannot generate a release policy from debuggable evidence (${tee(name)} is true): its memory is open to the host.`,
      { details: { claim: tee(name) } },
    );
  return { claim: tee(name), equals: false };
}

function snpConditions(t: Readonly<Record<string, ClaimValue>>): ClaimCondition[] {
  const out: ClaimCondition[] = [{ claim: tee(CLAIM.attestationType), equals: 'sevsnpvm' }];
  const compliance = t[CLAIM.complianceStatus];
  if (typeof compliance === 'string') out.push({ claim: tee(CLAIM.complianceStatus), equals: compliance });
  const measurement = stringClaim(t, CLAIM.launchMeasurement, 'launch measurement');
  out.push({ claim: tee(CLAIM.launchMeasurement), equals: measurement });
  out.push(notDebuggable(t, CLAIM.isDebuggable));
  for (const name of [...TCB_CLAIMS, CLAIM.fmcSvn]) {
    const svn = t[name];
    if (typeof svn === 'number') out.push({ claim: tee(name), greaterOrEquals: svn });
    else if (name !== CLAIM.fmcSvn) throw missing(tee(name), 'TCB security version number');
  }
  return out;
}

function simConditions(t: Readonly<Record<string, ClaimValue>>): ClaimCondition[] {
  const measurement = stringClaim(t, SIM_CLAIM.launchMeasurement, 'simulated measurement');
  return [
    { claim: CLAIM.attestationType, equals: 'sim' },
    { claim: tee(CLAIM.attestationType), equals: 'sim' },
    { claim: tee(SIM_CLAIM.launchMeasurement), equals: measurement },
    notDebuggable(t, SIM_CLAIM.isDebuggable),
  ];
}

function claimsOf(source: Verdict | Claims): { claims: Claims; kind?: EvidenceKind } {
  if (!isVerdict(source)) return { claims: source };
  if (!source.ok)
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `Cannot generate a release policy from evidence that did not verify: ${source.failures.map((f) => f.id).join(', ')}.`,
      { details: { failures: source.failures.map((f) => `${f.id}: ${f.message}`) } },
    );
  return { claims: source.claims, kind: source.kind };
}

/**
 * A release policy that admits evidence like this one and nothing weaker: one rule for
 * `options.authority` whose `allOf` pins, under `x-ms-isolation-tee` (so it fits raw SEV-SNP
 * evidence, Azure CVM evidence and MAA tokens alike), the TEE type `sevsnpvm`, the launch
 * measurement, debug off, the compliance status when the claims carry one, and the TCB SVNs
 * (bootloader, TEE, SNP firmware, microcode, and FMC where reported) as minimums.
 *
 * For `sim` evidence the only attestation type allowed is `sim`, at the top level and in the TEE
 * claims, with the simulated measurement pinned: such a policy is marked by
 * `x-ms-attestation-type equals sim` and {@link policyAllowsSim} is true for it.
 *
 * A verdict that is not `ok`, or debuggable evidence, fails with `ERR_ATTEST_REJECTED`; missing
 * claims with `ERR_ATTEST_MALFORMED`; another TEE type with `ERR_ATTEST_UNSUPPORTED`; a bad
 * authority with `ERR_POLICY_INVALID`.
 */
export function generatePolicy(source: Verdict | Claims, options: GeneratePolicyOptions): ReleasePolicy {
  const { claims, kind = options.kind } = claimsOf(source);
  const t = teeClaims(claims);
  const type = t[CLAIM.attestationType];
  if (kind !== undefined && (kind === 'sim') !== (type === 'sim'))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `generatePolicy: the evidence kind is ${kind ?? 'unknown'} but the TEE attestation type is ${JSON.stringify(type)}.`,
    );
  let allOf: ClaimCondition[];
  if (type === 'sim') allOf = simConditions(t);
  else if (type === 'sevsnpvm') allOf = snpConditions(t);
  else
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Cannot generate a release policy for TEE type ${JSON.stringify(type ?? null)} (${tee(CLAIM.attestationType)}); sevsnpvm and sim are supported.`,
      { details: { claim: tee(CLAIM.attestationType) } },
    );
  return parseReleasePolicy(
    { version: '1.0.0', anyOf: [{ authority: options.authority, allOf }] },
    'generated',
  );
}
