import { type Check, CheckList } from './check.js';
import { CLAIM, type Claims, type ClaimValue, claimAt } from './claims.js';
import type { AttestationPolicy } from './policy.js';

type SnpPolicy = NonNullable<AttestationPolicy['snp']>;

/** A claim at the top level or under `x-ms-isolation-tee` (MAA's Azure VM tokens nest SNP claims there). */
function snpClaim(claims: Claims, name: string): ClaimValue | undefined {
  return claimAt(claims, name) ?? claimAt(claims, `${CLAIM.isolationTee}.${name}`);
}

function show(value: ClaimValue | undefined): string {
  return value === undefined ? 'absent' : JSON.stringify(value);
}

/**
 * Validates SEV-SNP policy fields against claims, for evidence whose raw report is not at hand
 * (MAA tokens). Uses the same check ids as the report validator. Fields the claims cannot show
 * (committed TCB, signer, report version) fail with a message that says so, never pass silently.
 */
export function validateSnpClaims(claims: Claims, policy: SnpPolicy): Check[] {
  const list = new CheckList();
  const bool = (id: string, name: string, wanted: boolean | undefined) => {
    if (wanted === undefined) return;
    const v = snpClaim(claims, name);
    list.add(id, v === wanted, `${name} is ${show(v)}; the policy wants ${wanted}.`);
  };
  const min = (id: string, name: string, wanted: number | undefined) => {
    if (wanted === undefined) return;
    const v = snpClaim(claims, name);
    list.add(
      id,
      typeof v === 'number' && v >= wanted,
      `${name} is ${show(v)}; the policy wants at least ${wanted}.`,
    );
  };
  const oneOf = (id: string, name: string, allowed: readonly string[] | undefined) => {
    if (allowed === undefined) return;
    const v = snpClaim(claims, name);
    const ok = typeof v === 'string' && allowed.includes(v.toLowerCase());
    list.add(
      id,
      ok,
      `${name} is ${show(v)}; ${ok ? 'it is' : 'it is not'} in the policy's allow-list of ${allowed.length}.`,
    );
  };
  bool('policy.debug', CLAIM.isDebuggable, policy.debug);
  bool('policy.migration-agent', CLAIM.migrationAllowed, policy.migrationAgent);
  bool('policy.smt', CLAIM.smtAllowed, policy.smt);
  if (policy.vmpl !== undefined) {
    const v = snpClaim(claims, CLAIM.vmpl);
    list.add(
      'policy.vmpl',
      v === policy.vmpl,
      `${CLAIM.vmpl} is ${show(v)}; the policy wants ${policy.vmpl}.`,
    );
  }
  const tcb = policy.minTcb ?? {};
  min('policy.min-tcb.bootloader', CLAIM.bootloaderSvn, tcb.bootloader);
  min('policy.min-tcb.tee', CLAIM.teeSvn, tcb.tee);
  min('policy.min-tcb.snp', CLAIM.snpFwSvn, tcb.snp);
  min('policy.min-tcb.microcode', CLAIM.microcodeSvn, tcb.microcode);
  min('policy.min-tcb.fmc', CLAIM.fmcSvn, tcb.fmc);
  min('policy.guest-svn', CLAIM.guestSvn, policy.minGuestSvn);
  oneOf('policy.measurement', CLAIM.launchMeasurement, policy.measurements);
  oneOf('policy.id-key-digest', CLAIM.idKeyDigest, policy.idKeyDigests);
  oneOf('policy.author-key-digest', CLAIM.authorKeyDigest, policy.authorKeyDigests);
  oneOf('policy.host-data', CLAIM.hostData, policy.hostData === undefined ? undefined : [policy.hostData]);
  oneOf(
    'policy.report-data',
    CLAIM.reportData,
    policy.reportData === undefined ? undefined : [policy.reportData],
  );
  oneOf('policy.family-id', CLAIM.familyId, policy.familyId === undefined ? undefined : [policy.familyId]);
  oneOf('policy.image-id', CLAIM.imageId, policy.imageId === undefined ? undefined : [policy.imageId]);
  for (const [field, id] of [
    ['permitProvisionalFirmware', 'policy.committed-tcb'],
    ['minReportVersion', 'policy.report-version'],
    ['signer', 'policy.signer'],
  ] as const)
    if (policy[field] !== undefined)
      list.fail(
        id,
        `The policy sets ${field}, which a token's claims cannot show; verify the raw report instead.`,
      );
  return [...list.all];
}
