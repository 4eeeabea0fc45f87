/**
 * The key broker: an HTTPS service on 127.0.0.1 that speaks the Azure Key Vault keys API subset
 * (create, get, versions, rotate, update, wrapKey, unwrapKey, release) so the real
 * `@azure/keyvault-keys` clients work against it unmodified, plus an attestation endpoint
 * (`/attest/nonce`, `/attest/evidence`, `/certs`), `/healthz` and Prometheus `/metrics`.
 *
 * {@link startBroker} runs it; {@link BrokerStore} is its state (one file sealed with AES-256-GCM
 * under a scrypt-derived master key, atomic writes under a lock); {@link addPrincipal},
 * {@link listPrincipals} and {@link revokePrincipal} manage who may call it. Every decision is
 * audited; HTTP statuses are chosen in `http-status.ts` only. `docs/broker.md` describes it all.
 *
 * @module
 */
export { type BrokerOperation, PERMISSIONS } from './auth/authorize.js';
export {
  type AddPrincipalOptions,
  addPrincipal,
  DEFAULT_TOKEN_TTL_SECONDS,
  listPrincipals,
  MAX_TOKEN_TTL_SECONDS,
  type PrincipalInfo,
  revokePrincipal,
  TOKEN_PREFIX,
} from './auth/principals.js';
export { type BrokerOptions, type RunningBroker, startBroker, trustInstructions } from './broker-server.js';
export { API_VERSIONS } from './http/handle-request.js';
export { DEFAULT_MAX_BODY_BYTES } from './http/request-body.js';
export { errorBody, type HttpError, httpErrorFor } from './http-status.js';
export { BrokerStore, type BrokerStoreOptions, STATE_FILE } from './state/broker-store.js';
export type { Role } from './state/state-model.js';
export { type BrokerTls, type EnsureTlsOptions, ensureTls } from './tls/tls-files.js';
