/**
 * AMD SEV-SNP attestation reports: parse and encode (ABI spec 56860), verify the signature and
 * the certificate chain to pinned AMD roots (VCEK spec 57230), validate fields against a policy,
 * and map a report to MAA-named claims. Verification does no network I/O unless a fetcher is
 * passed.
 *
 * @module
 */

export { AMD_ROOTS, type SnpRootSet } from './amd-roots.js';
export { snpClaims } from './claims.js';
export { encodeSnpReport } from './encode-report.js';
export {
  KDS_BASE_URL,
  type KdsRequest,
  kdsFetch,
  kdsHwid,
  kdsUrl,
  type SnpFetcher,
  vcekCachePath,
} from './kds.js';
export {
  type ParseSnpReportOptions,
  parseSnpReport,
  SNP_REPORT_SIZE,
  SNP_SIG_ALGO_ECDSA_P384_SHA384,
  SNP_SIGNED_BYTES,
  type SnpFirmwareVersion,
  type SnpGuestPolicy,
  type SnpKeyInfo,
  type SnpPlatformInfo,
  type SnpReport,
} from './report.js';
export {
  decodeTcb,
  encodeTcb,
  productFromCpuid,
  productFromName,
  SNP_PRODUCTS,
  type SnpProduct,
  type SnpTcb,
  type TcbComponent,
  tcbComponents,
} from './tcb.js';
export { type SnpPolicy, validateSnpReport } from './validate.js';
export { type SnpVerifyOptions, type SnpVerifyResult, verifySnpReport } from './verify.js';
