import { verify, type X509Certificate } from 'node:crypto';
import type { CheckList } from '../../check.js';
import { SNP_SIG_ALGO_ECDSA_P384_SHA384, SNP_SIGNED_BYTES, type SnpReport } from '../report.js';
import { type SnpProduct, tcbComponents } from '../tcb.js';
import type { AmdExtensions } from './amd-extensions.js';

/** A 72-byte little-endian field as a 48-byte big-endian integer, or `undefined` if it does not fit. */
function p384Scalar(littleEndianHex: string): Buffer | undefined {
  const be = Buffer.from(littleEndianHex, 'hex').reverse();
  return be.subarray(0, 24).every((b) => b === 0) ? be.subarray(24) : undefined;
}

/**
 * `snp.signature`: ECDSA P-384 with SHA-384 over bytes 0x000–0x29F, by the VCEK or VLEK. R and S
 * are little-endian in 72-byte fields; they are turned into IEEE-P1363 form for node:crypto. An
 * unknown SIGNATURE_ALGO fails this check (it is not thrown).
 */
export function checkSignature(
  list: CheckList,
  bytes: Uint8Array,
  report: SnpReport,
  leaf: X509Certificate | undefined,
): void {
  const id = 'snp.signature';
  if (report.signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) {
    list.fail(
      id,
      `SIGNATURE_ALGO is ${report.signatureAlgo}; only 1 (ECDSA P-384 with SHA-384) is supported.`,
    );
    return;
  }
  if (leaf === undefined) {
    list.fail(id, 'The report signature cannot be verified without the signing key certificate.');
    return;
  }
  const key = leaf.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    list.fail(id, 'The signing certificate does not hold an EC P-384 key.');
    return;
  }
  const r = p384Scalar(report.signature.r);
  const s = p384Scalar(report.signature.s);
  let ok = false;
  if (r !== undefined && s !== undefined) {
    try {
      ok = verify(
        'sha384',
        bytes.subarray(0, SNP_SIGNED_BYTES),
        { key, dsaEncoding: 'ieee-p1363' },
        Buffer.concat([r, s]),
      );
    } catch {
      ok = false;
    }
  }
  list.add(
    id,
    ok,
    ok
      ? 'The report is signed by the certified key (ECDSA P-384, SHA-384).'
      : 'The report signature does not verify under the certified key.',
  );
}

/** `snp.tcb.<component>`: the reported TCB equals the certificate's TCB extensions, per product layout. */
export function checkTcb(
  list: CheckList,
  report: SnpReport,
  product: SnpProduct | undefined,
  ext: AmdExtensions,
): void {
  for (const c of tcbComponents(product)) {
    const inReport = report.reportedTcb[c];
    const inCert = ext.tcb[c];
    list.add(
      `snp.tcb.${c}`,
      inCert !== undefined && inReport === inCert,
      inCert === undefined
        ? `The certificate has no ${c} SPL extension.`
        : `Reported TCB ${c} is ${inReport ?? 'absent'}; the certificate says ${inCert}.`,
    );
  }
}

/**
 * `snp.chip-id` (VCEK): CHIP_ID equals the certificate's hwID (its first 8 bytes on Turin). When
 * MASK_CHIP_KEY is set the host zeroed CHIP_ID, so the check passes with a note instead.
 */
export function checkChipId(list: CheckList, report: SnpReport, ext: AmdExtensions): void {
  const id = 'snp.chip-id';
  if (report.keyInfo.maskChipKey) {
    list.pass(id, 'Not compared: MASK_CHIP_KEY is set, so the host masked CHIP_ID to zeros.');
    return;
  }
  if (ext.hwid === undefined) {
    list.fail(id, 'The VCEK has no hwID extension (1.3.6.1.4.1.3704.1.4).');
    return;
  }
  const ok = report.chipId.slice(0, ext.hwid.length) === ext.hwid && ext.hwid.length > 0;
  list.add(
    id,
    ok,
    ok
      ? `CHIP_ID matches the VCEK hwID ${ext.hwid.slice(0, 16)}….`
      : `CHIP_ID ${report.chipId.slice(0, 16)}… is not the VCEK hwID ${ext.hwid.slice(0, 16)}….`,
  );
}

/** `snp.vlek.csp-id`: a VLEK names the cloud provider it was issued to. */
export function checkCspId(list: CheckList, ext: AmdExtensions): void {
  list.add(
    'snp.vlek.csp-id',
    (ext.cspId ?? '') !== '',
    ext.cspId
      ? `The VLEK was issued to ${JSON.stringify(ext.cspId)}.`
      : 'The VLEK has no CSP id extension (1.3.6.1.4.1.3704.1.5).',
  );
}
