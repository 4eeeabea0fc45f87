/**
 * One claims shape for every kind of evidence, with Microsoft Azure Attestation's claim names,
 * so one release policy works on raw evidence and on MAA tokens alike.
 *
 * - Raw SEV-SNP evidence: `x-ms-attestation-type` = `sevsnpvm`; the `x-ms-sevsnpvm-*` claims at
 *   the top level and, as in MAA's Azure VM tokens, again under `x-ms-isolation-tee`.
 * - Azure confidential-VM (vTPM) evidence: `x-ms-attestation-type` = `azurevm`; the SNP claims
 *   under `x-ms-isolation-tee` (its `x-ms-attestation-type` = `sevsnpvm`) together with the HCL
 *   variable data as `x-ms-isolation-tee.x-ms-runtime`, as in MAA's tokens;
 *   `x-ms-azurevm-attested-pcrs`.
 * - Every kind: the workload's bound runtime key, if any, as top-level `x-ms-runtime.keys`.
 * - MAA tokens: the token's claims as issued.
 * - Simulated evidence: `x-ms-attestation-type` and `x-ms-isolation-tee.x-ms-attestation-type` are
 *   `sim`, and its measurement claims are named `x-ms-sim-*`, so no policy written for real
 *   hardware can match it by accident.
 */

/** A claim value: JSON. */
export type ClaimValue =
  | string
  | number
  | boolean
  | null
  | readonly ClaimValue[]
  | { readonly [name: string]: ClaimValue };

/** A set of claims, keyed by MAA claim name. */
export type Claims = { readonly [name: string]: ClaimValue };

/** The kinds of evidence sealtrain verifies. */
export type EvidenceKind = 'sevsnp' | 'azure-cvm' | 'maa' | 'sim';

/** MAA's names for the claims sealtrain produces. */
export const CLAIM = {
  attestationType: 'x-ms-attestation-type',
  isolationTee: 'x-ms-isolation-tee',
  complianceStatus: 'x-ms-compliance-status',
  runtime: 'x-ms-runtime',
  launchMeasurement: 'x-ms-sevsnpvm-launchmeasurement',
  isDebuggable: 'x-ms-sevsnpvm-is-debuggable',
  migrationAllowed: 'x-ms-sevsnpvm-migration-allowed',
  smtAllowed: 'x-ms-sevsnpvm-smt-allowed',
  vmpl: 'x-ms-sevsnpvm-vmpl',
  guestSvn: 'x-ms-sevsnpvm-guestsvn',
  bootloaderSvn: 'x-ms-sevsnpvm-bootloader-svn',
  teeSvn: 'x-ms-sevsnpvm-tee-svn',
  snpFwSvn: 'x-ms-sevsnpvm-snpfw-svn',
  microcodeSvn: 'x-ms-sevsnpvm-microcode-svn',
  fmcSvn: 'x-ms-sevsnpvm-fmc-svn',
  hostData: 'x-ms-sevsnpvm-hostdata',
  reportData: 'x-ms-sevsnpvm-reportdata',
  reportId: 'x-ms-sevsnpvm-reportid',
  idKeyDigest: 'x-ms-sevsnpvm-idkeydigest',
  authorKeyDigest: 'x-ms-sevsnpvm-authorkeydigest',
  familyId: 'x-ms-sevsnpvm-familyId',
  imageId: 'x-ms-sevsnpvm-imageId',
  attestedPcrs: 'x-ms-azurevm-attested-pcrs',
  secureBoot: 'secureboot',
} as const;

/**
 * The value at a dotted claim path such as `x-ms-isolation-tee.x-ms-attestation-type`, or
 * `undefined`. Claim names contain dashes but no dots, so the path is unambiguous.
 */
export function claimAt(claims: Claims, path: string): ClaimValue | undefined {
  let value: ClaimValue | undefined = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as { readonly [name: string]: ClaimValue })[part];
    if (value === undefined) return undefined;
  }
  return value;
}
