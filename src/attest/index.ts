/**
 * Remote attestation: detect a TEE, collect evidence, and verify evidence of every kind sealtrain
 * knows (AMD SEV-SNP reports, Azure confidential-VM vTPM evidence, Microsoft Azure Attestation
 * tokens, and the insecure `sim` attester for development) into one claims shape.
 *
 * Each verifier works in two steps: verify (signatures, certificate chain to pinned roots,
 * freshness), then validate (fields against a policy object; an absent field is not checked). All
 * checks run and every failure is reported. `docs/attestation.md` says what each check means and
 * which AMD or Microsoft document it comes from.
 *
 * @module
 */
export * from './azure-cvm/index.js';
export { reportDataFor, runtimeBinding } from './binding.js';
export { type Check, CheckList } from './check.js';
export { CLAIM, type Claims, type ClaimValue, claimAt, type EvidenceKind } from './claims.js';
export {
  AZURE_THIM_URL,
  type AzureVcekChain,
  type FetchAzureVcekOptions,
  fetchAzureVcek,
  fetchAzureVcekChain,
} from './collect/azure-thim.js';
export { encodeCertTable, parseCertTable } from './collect/cert-table.js';
export { type CollectEvidenceOptions, collectEvidence } from './collect/collect-evidence.js';
export { type CollectSnpOptions, collectSnpReport, snpFromTsm } from './collect/collect-snp.js';
export { type DetectOptions, detectTee, type TeeDetection, type TeePlatform } from './collect/detect.js';
export {
  decodeBase64,
  type Evidence,
  type EvidenceEnvelope,
  MAX_EVIDENCE_BYTES,
  parseEnvelope,
  parseEvidence,
  SNP_REPORT_BYTES,
  type SnpCertificates,
} from './evidence.js';
export * from './maa/index.js';
export {
  type AttestationPolicy,
  attestationPolicySchema,
  DEFAULT_POLICY,
  parseAttestationPolicy,
} from './policy.js';
export { amdRoleOf, readCertificatesDir } from './read-certificates.js';
export * from './sim/index.js';
export * from './snp/index.js';
export { validateSnpClaims } from './validate-claims.js';
export {
  publicKeyFrom,
  type Verdict,
  type VerifyEvidenceOptions,
  verifyEvidence,
} from './verify-evidence.js';
