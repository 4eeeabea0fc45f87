/**
 * Azure confidential-VM (vTPM) evidence: parse, verify and collect.
 *
 * On an Azure SEV-SNP confidential VM the paravisor (HCL) asks the AMD secure processor for a report
 * whose report data is the hash of a JSON document (the HCL variable data) naming the vTPM's
 * attestation key, and stores both in the vTPM (NV index 0x01400001). The vTPM then signs quotes of
 * its PCRs with that key. Verification here checks that chain from the report data to the quote;
 * the SEV-SNP report itself (signature, VCEK chain, TCB) is the SNP verifier's job, so the result
 * hands back its bytes and the VCEK.
 *
 * @module
 */
export {
  AZURE_GUEST_API_VERSION,
  AZURE_GUEST_PCRS,
  type AzureGuestOptions,
  type AzureGuestRequest,
  openAzureGuestToken,
  prepareAzureGuest,
  TPM_ENCRYPTION_KID,
  VTPM_AK_CERT_INDEX,
  type VtpmEncryptionKey,
} from './azure-guest.js';
export {
  type CollectAzureCvmOptions,
  collectAzureCvmEvidence,
  VTPM_AK_HANDLE,
  VTPM_HCL_REPORT_INDEX,
  VTPM_REPORT_DATA_INDEX,
} from './collect-vtpm.js';
export {
  HCL_HASH_TYPE,
  HCL_REPORT_TYPE,
  HCL_SIGNATURE,
  type HclHeader,
  type HclReport,
  type HclRuntimeData,
  parseHclReport,
} from './hcl-report.js';
export {
  AZURE_CVM_EVIDENCE_VERSIONS,
  type AzureCvmEvidence,
  type AzureCvmQuote,
  HCL_AK_KID,
  parseAzureCvmEvidence,
} from './parse-evidence.js';
export {
  type AzureCvmClaimsOptions,
  attestedPcrIndices,
  azureCvmClaims,
  azureRuntimeClaims,
} from './runtime-claims.js';
export {
  type PcrBankSelection,
  parseTpmSignature,
  parseTpmsAttest,
  TPM_ALG,
  TPM_GENERATED_VALUE,
  TPM_ST_ATTEST_CERTIFY,
  TPM_ST_ATTEST_QUOTE,
  type TpmClockInfo,
  type TpmSignature,
  type TpmsAttest,
} from './tpm-attest.js';
export { parseTpmRsaPublic, TPMA_OBJECT, type TpmRsaPublic } from './tpm-public.js';
export { validateAzureCvmPcrs } from './validate-pcrs.js';
export {
  type AzureCvmVerifyOptions,
  type AzureCvmVerifyResult,
  verifyAzureCvmEvidence,
} from './verify-evidence.js';
