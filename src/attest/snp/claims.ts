import { CLAIM, type Claims, type ClaimValue } from '../claims.js';
import type { SnpReport } from './report.js';
import { decodeTcb, type SnpProduct } from './tcb.js';

/**
 * The report as claims with Microsoft Azure Attestation's names and formats (lowercase hex
 * strings, numbers, booleans): `x-ms-attestation-type` = `sevsnpvm` and the `x-ms-sevsnpvm-*`
 * claims at the top level and again under `x-ms-isolation-tee`. TCB SVNs are the reported TCB,
 * decoded for `product` (Milan/Genoa layout when unknown). `x-ms-compliance-status` is not set:
 * it is MAA's judgement, not a report field.
 */
export function snpClaims(report: SnpReport, product?: SnpProduct): Claims {
  const tcb = decodeTcb(report.reportedTcb.raw, product ?? report.product);
  const p = report.policy;
  const snp: Record<string, ClaimValue> = {
    [CLAIM.attestationType]: 'sevsnpvm',
    [CLAIM.authorKeyDigest]: report.authorKeyDigest,
    [CLAIM.bootloaderSvn]: tcb.bootloader,
    'x-ms-sevsnpvm-ciphertext-hiding-dram-enabled': p.ciphertextHiding,
    'x-ms-sevsnpvm-cxl-allowed': p.cxlAllow,
    [CLAIM.familyId]: report.familyId,
    ...(tcb.fmc === undefined ? {} : { [CLAIM.fmcSvn]: tcb.fmc }),
    [CLAIM.guestSvn]: report.guestSvn,
    [CLAIM.hostData]: report.hostData,
    [CLAIM.idKeyDigest]: report.idKeyDigest,
    [CLAIM.imageId]: report.imageId,
    [CLAIM.isDebuggable]: p.debug,
    [CLAIM.launchMeasurement]: report.measurement,
    'x-ms-sevsnpvm-mem-aes256-xts-required': p.memAes256Xts,
    [CLAIM.microcodeSvn]: tcb.microcode,
    [CLAIM.migrationAllowed]: p.migrateMa,
    'x-ms-sevsnpvm-page-swap-disabled': p.pageSwapDisable,
    'x-ms-sevsnpvm-rapl-disabled': p.raplDis,
    [CLAIM.reportData]: report.reportData,
    [CLAIM.reportId]: report.reportId,
    'x-ms-sevsnpvm-singlesocket': p.singleSocket,
    [CLAIM.smtAllowed]: p.smt,
    [CLAIM.snpFwSvn]: tcb.snp,
    [CLAIM.teeSvn]: tcb.tee,
    [CLAIM.vmpl]: report.vmpl,
  };
  return { ...snp, [CLAIM.isolationTee]: { ...snp } };
}
