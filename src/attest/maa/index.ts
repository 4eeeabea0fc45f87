/**
 * Microsoft Azure Attestation tokens: verify the signature (RS256 only) with the issuer's keys,
 * the issuer against an allow-list, the `jku`, and the validity window, reporting every check.
 * The claims come back as issued, in the one claims shape (`../claims.ts`) that policies read.
 *
 * @module
 */

export { MAX_MAA_TOKEN_BYTES } from './internal/parse-token.js';
export type { JwksFetcher, MaaJwk, MaaJwks } from './jwks.js';
export { fetchJwksOverHttp, JWKS_FETCH_TIMEOUT_MS, MAX_JWKS_BYTES, parseJwks } from './jwks.js';
export type { MaaVerifyOptions, MaaVerifyResult } from './verify-maa-token.js';
export { MAA_ALGORITHM, MAA_CLOCK_SKEW_SECONDS, verifyMaaToken } from './verify-maa-token.js';
