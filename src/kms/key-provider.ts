/** One version of a key-encryption key, as a provider lists it. Never holds key material. */
export interface KeyVersionInfo {
  /** The key's URI without a version, e.g. `local:alice`. */
  readonly uri: string;
  /** The key's name inside its provider, e.g. `alice`. */
  readonly name: string;
  /** The version, a provider-defined string (`local:` uses 1, 2, 3, …). */
  readonly version: string;
  /** ISO-8601 creation time. */
  readonly created: string;
  /** False once the version has been disabled: it no longer wraps or unwraps. */
  readonly enabled: boolean;
}

/** A data key wrapped by one KEK version: what a sealed file stores per recipient. */
export interface WrappedKey {
  /** The KEK's URI without a version, e.g. `local:alice`. */
  readonly uri: string;
  /** The KEK version that wrapped it. */
  readonly version: string;
  /** The wrapping algorithm, e.g. `A256KW`. */
  readonly alg: string;
  /** The wrapped bytes. */
  readonly wrapped: Uint8Array;
}

/**
 * A key-encryption-key (KEK) store behind a URI scheme.
 *
 * Guarantee: KEK material never leaves the provider. `wrap` returns ciphertext that only
 * `unwrap` of the same provider, key and version can open; `unwrap` fails with
 * `ERR_KMS_UNWRAP_FAILED` (and says nothing more) for any other bytes, key or version, and with
 * `ERR_KMS_KEY_DISABLED` for a disabled version. Old versions keep unwrapping after `rotate`.
 * Callers own the buffers `unwrap` returns and wipe them after use.
 */
export interface KeyProvider {
  /** The URI scheme this provider answers, without the colon (`local`). */
  readonly scheme: string;
  /** Creates key `name` with version 1. `ERR_KMS_KEY_EXISTS` if it exists. */
  create(name: string): Promise<KeyVersionInfo>;
  /** Adds a new version of `name`; new wraps use it, old versions keep unwrapping. */
  rotate(name: string): Promise<KeyVersionInfo>;
  /** Every version of `name`, oldest first. */
  listVersions(name: string): Promise<KeyVersionInfo[]>;
  /** The newest version of every key. */
  list(): Promise<KeyVersionInfo[]>;
  /** Disables one version for good: it no longer wraps or unwraps. */
  disableVersion(name: string, version: string): Promise<KeyVersionInfo>;
  /** Wraps `dek` under `uri` (`local:name` = newest enabled version, `local:name/2` = that version). */
  wrap(uri: string, dek: Uint8Array): Promise<WrappedKey>;
  /** Unwraps a {@link WrappedKey} made by this provider. */
  unwrap(wrapped: WrappedKey): Promise<Uint8Array>;
}
