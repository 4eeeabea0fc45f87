/**
 * Secure Key Release, as Azure Key Vault Premium / Managed HSM does it, as a pure core (no HTTP;
 * clock, randomness and trust roots as options). `releaseKey` verifies an attestation token (the
 * broker's own or an MAA instance's), evaluates the key's release policy against its claims, and
 * answers with a JWS signed by the broker that carries the key wrapped to the workload's runtime
 * key; `unwrapReleasedKey` is the workload's half. This is the one place key material leaves the
 * broker in any form.
 *
 * What is matched from Key Vault (REST `POST /keys/{name}/{version}/release`, `KeyReleaseResult`
 * in `@azure/keyvault-keys`, Microsoft's `cvm-securekey-release-app` sample):
 * - The answer is `{ value: <compact JWS> }`, RS256, header `alg`, `kid`, `typ` `JWT`, and `x5c` with
 *   `x5t#S256` when the broker has a certificate.
 * - Payload `{ request: { api-version, enc, kid, nonce? }, response: { key: { key: { kid, kty,
 *   key_ops, n?, e?, key_hsm }, …attributes, release_policy } } }`.
 * - `key_hsm` is base64url JSON `{ schema_version: '1.0', header: { kid: <runtime key kid>, alg:
 *   'dir', enc }, ciphertext }`; `ciphertext` is RSA-OAEP(transfer AES-256 key), modulus-size bytes,
 *   followed by RFC 5649 AES key wrap with padding of the key: PKCS #8 DER for RSA, raw for oct.
 * - `enc` `CKM_RSA_AES_KEY_WRAP` uses OAEP with SHA-1 (Key Vault's default), `RSA_AES_KEY_WRAP_256`
 *   and `_384` SHA-256 and SHA-384.
 *
 * Differences: `kty` is `RSA` / `oct` (the broker's keys are software keys, not `-HSM`); an RSA
 * runtime key must be at least 2048 bits; `enc` `ECDH_ES_A256GCM`, sealtrain's own, wraps for an
 * EC P-256 or P-384 runtime key instead (`ciphertext` is then the bytes of a compact JWE,
 * `ECDH-ES` + `A256GCM`): sealtrain's workloads ask for it, since such a key is made in well under
 * a millisecond; `sim` tokens are released only with `--allow-simulated` and a policy that names
 * `sim`.
 *
 * @module
 */

export {
  ECDH_ES_RELEASE,
  ecdhEsUnwrap,
  ecdhEsWrap,
  isRuntimeEcKey,
  RUNTIME_EC_CURVES,
} from './ecdh-es-wrap.js';
export type { ReleaseSigner } from './internal/payload.js';
export { KEY_HSM_SCHEMA_VERSION, RELEASE_API_VERSION } from './internal/payload.js';
export { AZURE_RUNTIME_KID, MIN_RUNTIME_KEY_BITS } from './internal/runtime-key.js';
export type { ReleaseTrust } from './internal/verify-target.js';
export {
  DEFAULT_RELEASE_ENCRYPTION,
  isReleaseEncryption,
  isRsaReleaseEncryption,
  MAX_WRAPPED_KEY_BYTES,
  RELEASE_ENCRYPTIONS,
  type ReleaseEncryption,
  type RsaReleaseEncryption,
} from './release-encryption.js';
export {
  type ReleasableKey,
  type ReleaseKeyInput,
  type ReleaseKeyResult,
  releaseKey,
} from './release-key.js';
export { type HeldRsaKey, rsaAesKeyUnwrap, rsaAesKeyUnwrapHeld, rsaAesKeyWrap } from './rsa-aes-key-wrap.js';
export {
  MAX_RELEASE_BYTES,
  type ReleasedKey,
  type UnwrapReleasedKeyOptions,
  unwrapReleasedKey,
} from './unwrap-released-key.js';
