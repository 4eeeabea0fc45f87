/**
 * The broker's attestation service, as pure cores (no HTTP, clock and randomness as options):
 * single-use short-lived nonces, an issuer of Microsoft Azure Attestation–shaped tokens (RS256,
 * keys at `<issuer>/certs`), and the step that turns evidence bound to an issued nonce into a token
 * carrying the verdict's claims and the workload's runtime key in `x-ms-runtime.keys`.
 *
 * A broker token verifies with `verifyMaaToken` from `src/attest` like any MAA token, so the
 * release path trusts the broker by listing its URL among the trusted issuers, nothing more.
 *
 * @module
 */
export { type AttestEvidenceOptions, type AttestResult, attestEvidence } from './attest-evidence.js';
export {
  createNonceStore,
  NONCE_BYTES,
  NONCE_MAX_PER_OWNER,
  NONCE_STORE_MAX,
  NONCE_TTL_MS,
  type NonceStatus,
  type NonceStore,
  type NonceStoreOptions,
} from './nonce-store.js';
export {
  createTokenIssuer,
  type IssuerJwk,
  TOKEN_TTL_SECONDS,
  TOKEN_VERSION,
  type TokenIssuer,
  type TokenIssuerOptions,
} from './token-issuer.js';
