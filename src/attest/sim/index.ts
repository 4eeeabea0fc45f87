/**
 * The simulated TEE, for development only and explicitly INSECURE: evidence is a JSON payload
 * signed with a local Ed25519 key, so whoever holds `<home>/attest/sim-key.pem` can make it say
 * anything. Its claims say `sim` (`x-ms-attestation-type` at both levels, measurements as
 * `x-ms-sim-*`), so no policy written for real hardware matches it, and the shipped default
 * policies reject it.
 *
 * @module
 */
export type { CreateSimEvidenceOptions, SimEvidence, SimEvidenceInput } from './create-sim-evidence.js';
export { createSimEvidence, SIM_DEFAULT_MEASUREMENT, SIM_INSECURE_NOTICE } from './create-sim-evidence.js';
export type { SimPayload } from './internal/payload.js';
export { simKeyId } from './internal/payload.js';
export type { SimKeyPair } from './load-or-create-sim-key.js';
export { loadOrCreateSimKey, SIM_KEY_PATH } from './load-or-create-sim-key.js';
export type { SimVerifyResult, VerifySimEvidenceOptions } from './verify-sim-evidence.js';
export {
  SIM_CLAIM,
  SIM_CLOCK_SKEW_SECONDS,
  SIM_MAX_AGE_SECONDS,
  simClaims,
  verifySimEvidence,
} from './verify-sim-evidence.js';
