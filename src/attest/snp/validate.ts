import { type Check, CheckList } from '../check.js';
import type { AttestationPolicy } from '../policy.js';
import type { SnpReport } from './report.js';
import type { SnpTcb, TcbComponent } from './tcb.js';

/**
 * The SEV-SNP policy fields (the `snp` part of an attestation policy, `src/attest/policy.ts`).
 * An absent field is not checked. Hex values are compared case-insensitively.
 */
export type SnpPolicy = NonNullable<AttestationPolicy['snp']>;

const SIGNERS = ['vcek', 'vlek'] as const;

function sameTcb(a: SnpTcb, b: SnpTcb): boolean {
  return a.raw === b.raw;
}

function tcbText(t: SnpTcb): string {
  const parts = (['fmc', 'bootloader', 'tee', 'snp', 'microcode'] as const)
    .filter((c) => t[c] !== undefined)
    .map((c) => `${c} ${t[c]}`);
  return parts.join(', ');
}

function boolCheck(list: CheckList, id: string, field: string, value: boolean, wanted: boolean | undefined) {
  if (wanted === undefined) return;
  list.add(id, value === wanted, `${field} is ${value}; the policy wants ${wanted}.`);
}

function hexCheck(
  list: CheckList,
  id: string,
  field: string,
  value: string,
  allowed: readonly string[] | undefined,
) {
  if (allowed === undefined) return;
  const ok = allowed.some((a) => a.toLowerCase() === value);
  list.add(
    id,
    ok,
    allowed.length === 1
      ? `${field} is ${value}; the policy wants ${allowed[0]?.toLowerCase()}.`
      : `${field} ${value} is ${ok ? '' : 'not '}in the policy's allow-list of ${allowed.length}.`,
  );
}

function minTcbChecks(list: CheckList, report: SnpReport, minTcb: SnpPolicy['minTcb']): void {
  for (const [c, min] of Object.entries(minTcb ?? {}) as [TcbComponent, number | undefined][]) {
    if (min === undefined) continue;
    const v = report.reportedTcb[c];
    list.add(
      `policy.min-tcb.${c}`,
      v !== undefined && v >= min,
      v === undefined
        ? `The reported TCB has no ${c} component on ${report.product ?? 'this product'}; the policy wants at least ${min}.`
        : `Reported TCB ${c} is ${v}; the policy wants at least ${min}.`,
    );
  }
}

function committedCheck(list: CheckList, report: SnpReport, permit: boolean | undefined): void {
  if (permit !== false) return;
  const c = report.current;
  const m = report.committed;
  const ok =
    sameTcb(report.committedTcb, report.currentTcb) &&
    c.build === m.build &&
    c.minor === m.minor &&
    c.major === m.major;
  list.add(
    'policy.committed-tcb',
    ok,
    ok
      ? 'The running firmware is committed (committed TCB and version equal the current ones).'
      : `Provisional firmware: current TCB (${tcbText(report.currentTcb)}) version ${c.major}.${c.minor}.${c.build}, committed TCB (${tcbText(report.committedTcb)}) version ${m.major}.${m.minor}.${m.build}.`,
  );
}

/**
 * Validates a verified report's fields against a policy. One check per policy field set (one per
 * component for `minTcb`), with the ids `policy.*` that `validateSnpClaims` uses for tokens.
 * Run it after {@link verifySnpReport}: it does not look at signatures.
 */
export function validateSnpReport(report: SnpReport, policy: SnpPolicy): Check[] {
  const list = new CheckList();
  const p = report.policy;
  boolCheck(list, 'policy.debug', 'POLICY.DEBUG', p.debug, policy.debug);
  boolCheck(list, 'policy.migration-agent', 'POLICY.MIGRATE_MA', p.migrateMa, policy.migrationAgent);
  boolCheck(list, 'policy.smt', 'POLICY.SMT', p.smt, policy.smt);
  if (policy.vmpl !== undefined)
    list.add(
      'policy.vmpl',
      report.vmpl === policy.vmpl,
      `VMPL is ${report.vmpl}; the policy wants ${policy.vmpl}.`,
    );
  minTcbChecks(list, report, policy.minTcb);
  committedCheck(list, report, policy.permitProvisionalFirmware);
  hexCheck(list, 'policy.measurement', 'MEASUREMENT', report.measurement, policy.measurements);
  const one = (v: string | undefined) => (v === undefined ? undefined : [v]);
  hexCheck(list, 'policy.host-data', 'HOST_DATA', report.hostData, one(policy.hostData));
  hexCheck(list, 'policy.report-data', 'REPORT_DATA', report.reportData, one(policy.reportData));
  hexCheck(list, 'policy.family-id', 'FAMILY_ID', report.familyId, one(policy.familyId));
  hexCheck(list, 'policy.image-id', 'IMAGE_ID', report.imageId, one(policy.imageId));
  if (policy.minGuestSvn !== undefined)
    list.add(
      'policy.guest-svn',
      report.guestSvn >= policy.minGuestSvn,
      `GUEST_SVN is ${report.guestSvn}; the policy wants at least ${policy.minGuestSvn}.`,
    );
  hexCheck(list, 'policy.id-key-digest', 'ID_KEY_DIGEST', report.idKeyDigest, policy.idKeyDigests);
  hexCheck(
    list,
    'policy.author-key-digest',
    'AUTHOR_KEY_DIGEST',
    report.authorKeyDigest,
    policy.authorKeyDigests,
  );
  if (policy.minReportVersion !== undefined)
    list.add(
      'policy.report-version',
      report.version >= policy.minReportVersion,
      `The report is version ${report.version}; the policy wants at least ${policy.minReportVersion}.`,
    );
  if (policy.signer !== undefined) {
    const signer = SIGNERS[report.keyInfo.signingKey];
    list.add(
      'policy.signer',
      signer === policy.signer,
      `The report is signed by ${signer ?? `SIGNING_KEY ${report.keyInfo.signingKey}`}; the policy wants ${policy.signer}.`,
    );
  }
  return [...list.all];
}
