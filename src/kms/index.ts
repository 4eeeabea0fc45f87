/**
 * Key-encryption keys (KEKs) behind URIs. {@link KeyProvider} is the extension point: a provider
 * wraps and unwraps data keys and never lets KEK material out. {@link LocalKeyring} is the
 * `local:` provider, a passphrase-protected keyring file; {@link Pkcs11KeyProvider} the `pkcs11:`
 * provider, keys held in a PKCS#11 token (an HSM); {@link providerFor} picks a provider by
 * URI scheme; {@link auditedProvider} records every key operation in an {@link AuditSink};
 * {@link ReleasedKeyProvider} unwraps with keys released to an attested workload;
 * {@link readPassphrase} reads a passphrase from a file, a descriptor or the terminal.
 *
 * @module
 */
export type { AuditEvent, AuditSink } from './audit-sink.js';
export { auditedProvider } from './audited-provider.js';
export {
  AZUREKV_WRAP_ALG,
  AzureKeyVaultProvider,
  type AzureKeyVaultProviderOptions,
  parseAzureKvUri,
} from './azurekv-provider.js';
export { type DeferredProvider, deferredProvider } from './deferred-provider.js';
export type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';
export { LOCAL_WRAP_ALG, LocalKeyring, type LocalKeyringOptions } from './local-keyring.js';
export { assertKeyName, LOCAL_SCHEME, type LocalKeyRef, parseLocalUri } from './local-uri.js';
export { type ReadPassphraseOptions, readPassphrase } from './passphrase.js';
export {
  PKCS11_SCHEME,
  PKCS11_WRAP_ALG,
  Pkcs11KeyProvider,
  type Pkcs11KeyProviderOptions,
  type Pkcs11KeyRef,
  parsePkcs11Uri,
  pkcs11TokenOf,
} from './pkcs11-provider.js';
export { providerFor } from './registry.js';
export { ReleasedKeyProvider } from './released-key-provider.js';
