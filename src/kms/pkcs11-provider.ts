import { SealtrainError } from '../errors/index.js';
import {
  allVersionsDisabled,
  keyDisabled,
  keyExists,
  keyNotFound,
  unwrapFailed,
  versionInWrappedUri,
  versionNotFound,
} from './internal/kms-errors.js';
import { disableKek, generateKek, unwrapDek, wrapDek } from './internal/pkcs11-ops.js';
import {
  findSecretKeys,
  type Handle,
  keyAttributes,
  openToken,
  type TokenSession,
} from './internal/pkcs11-token.js';
import { objectLabel, PKCS11_SCHEME, parsePkcs11Uri, pkcs11Uri, splitLabel } from './internal/pkcs11-uri.js';
import type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';
import { assertKeyName, assertKeyVersion } from './local-uri.js';

export { PKCS11_SCHEME, type Pkcs11KeyRef, parsePkcs11Uri, pkcs11TokenOf } from './internal/pkcs11-uri.js';

/** The wrapping algorithm of {@link Pkcs11KeyProvider}: AES key wrap with padding, RFC 5649. */
export const PKCS11_WRAP_ALG = 'A256KWP';

/** Options for {@link Pkcs11KeyProvider.open}. */
export interface Pkcs11KeyProviderOptions {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly module: string;
  /** The label of the token holding the keys. */
  readonly tokenLabel: string;
  /** The user PIN, from a prompt, file or descriptor (never argv or the environment). The caller wipes it. */
  readonly pin: Uint8Array;
}

/** A version's object and what it says about itself. */
interface VersionObject {
  readonly handle: Handle;
  readonly info: KeyVersionInfo;
}

/**
 * The `pkcs11:` key provider: AES-256 KEKs generated inside a PKCS#11 token (an HSM, or SoftHSM2 in
 * tests) as token objects that are sensitive and non-extractable, usable only to wrap and unwrap.
 *
 * URIs follow RFC 7512: `pkcs11:token=<token label>;object=<key name>` names a key (wraps use its
 * newest enabled version). Versions live in object labels: version `n` of key `alice` is the object
 * labelled `alice#n`, so `pkcs11:token=hsm;object=alice%232` names version 2 (`#` percent-encoded, as
 * RFC 7512 requires). `rotate` generates `alice#<n+1>`; each object's CKA_ID holds its ISO-8601
 * creation time. `disableVersion` sets CKA_WRAP and CKA_UNWRAP to false on that object (SoftHSM2
 * permits it; the token, not this class, then refuses to use it); it cannot be re-enabled here.
 *
 * Data keys are wrapped with CKM_AES_KEY_WRAP_PAD (RFC 5649, `A256KWP`): the key goes into the token
 * as a session object, is wrapped, and the object is destroyed. Unwrap makes a session object from
 * the wrapped bytes, reads its value and destroys it. Every call runs synchronously on one session,
 * so concurrent calls never interleave inside the token. Call {@link close} when done.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  /** Always `pkcs11`. */
  readonly scheme: string = PKCS11_SCHEME;
  /** The token's label. */
  readonly tokenLabel: string;
  #token: TokenSession | undefined;

  private constructor(tokenLabel: string, token: TokenSession) {
    this.tokenLabel = tokenLabel;
    this.#token = token;
  }

  /**
   * Loads the module, finds the token labelled `tokenLabel` and logs in as its user.
   * `ERR_KMS_KEYRING_NOT_FOUND` when the module does not load or the token is absent,
   * `ERR_KMS_WRONG_PASSPHRASE` for a wrong PIN, `ERR_KMS_PASSPHRASE_REQUIRED` for an empty one.
   */
  static async open(options: Pkcs11KeyProviderOptions): Promise<Pkcs11KeyProvider> {
    if (options.pin.length === 0) {
      throw new SealtrainError(
        'ERR_KMS_PASSPHRASE_REQUIRED',
        'The PKCS#11 PIN is empty; give the token user PIN.',
      );
    }
    return new Pkcs11KeyProvider(
      options.tokenLabel,
      openToken(options.module, options.tokenLabel, options.pin),
    );
  }

  /** Logs out and releases the module; later calls fail with `ERR_KMS_KEYRING_LOCKED`. */
  async close(): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    token?.close();
  }

  /** Generates version 1 of `name`. `ERR_KMS_KEY_EXISTS` if any version exists. */
  async create(name: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    if (this.#versions(name).length > 0) throw keyExists(this.#uri(name));
    return this.#generate(name, '1');
  }

  /** Generates the next version of `name`. `ERR_KMS_KEY_NOT_FOUND` if it has none. */
  async rotate(name: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    const versions = this.#versions(name);
    const last = versions.at(-1);
    if (!last) throw keyNotFound(this.#uri(name));
    return this.#generate(name, String(Number(last.info.version) + 1));
  }

  /** Every version of `name`, oldest first. `ERR_KMS_KEY_NOT_FOUND` if it has none. */
  async listVersions(name: string): Promise<KeyVersionInfo[]> {
    assertKeyName(name);
    const versions = this.#versions(name);
    if (versions.length === 0) throw keyNotFound(this.#uri(name));
    return versions.map((v) => v.info);
  }

  /** The newest version of every key on the token, by name. */
  async list(): Promise<KeyVersionInfo[]> {
    const newest = new Map<string, KeyVersionInfo>();
    for (const { info } of this.#all()) {
      const seen = newest.get(info.name);
      if (!seen || Number(seen.version) < Number(info.version)) newest.set(info.name, info);
    }
    return [...newest.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Sets CKA_WRAP and CKA_UNWRAP to false on `version` of `name`. */
  async disableVersion(name: string, version: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    assertKeyVersion(version);
    const target = this.#version(name, version);
    disableKek(this.#session(), target.handle);
    return { ...target.info, enabled: false };
  }

  /** Wraps `dek` (16 to 1024 bytes) under the URI's version, or the newest enabled one. */
  async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
    const ref = this.#ref(uri);
    if (dek.length < 16 || dek.length > 1024) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `The data key for ${uri} must be 16 to 1024 bytes, got ${dek.length}.`,
        {
          details: { uri, length: dek.length },
        },
      );
    }
    const kek =
      ref.version === undefined ? this.#newestEnabled(ref.name) : this.#version(ref.name, ref.version);
    if (!kek.info.enabled) throw keyDisabled(kek.info.uri, kek.info.version);
    const wrapped = wrapDek(this.#session(), kek.handle, dek);
    return { uri: kek.info.uri, version: kek.info.version, alg: PKCS11_WRAP_ALG, wrapped };
  }

  /** Unwraps bytes made by {@link wrap}; `ERR_KMS_UNWRAP_FAILED` for any others. */
  async unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    const ref = this.#ref(wrapped.uri);
    if (ref.version !== undefined) throw versionInWrappedUri(wrapped.uri);
    assertKeyVersion(wrapped.version);
    const kek = this.#version(ref.name, wrapped.version);
    if (!kek.info.enabled) throw keyDisabled(kek.info.uri, kek.info.version);
    if (wrapped.alg !== PKCS11_WRAP_ALG) throw unwrapFailed(kek.info.uri, kek.info.version);
    try {
      return unwrapDek(this.#session(), kek.handle, wrapped.wrapped);
    } catch (error) {
      const failed = unwrapFailed(kek.info.uri, kek.info.version);
      throw new SealtrainError(failed.code, failed.message, { details: failed.details, cause: error });
    }
  }

  #session(): TokenSession {
    if (!this.#token) {
      throw new SealtrainError(
        'ERR_KMS_KEYRING_LOCKED',
        `The PKCS#11 provider for token ${JSON.stringify(this.tokenLabel)} is closed.`,
        {
          details: { token: this.tokenLabel },
        },
      );
    }
    return this.#token;
  }

  #uri(name: string): string {
    return pkcs11Uri(this.tokenLabel, name);
  }

  #ref(uri: string): { name: string; version?: string } {
    const ref = parsePkcs11Uri(uri);
    if (ref.token !== this.tokenLabel) {
      throw new SealtrainError(
        'ERR_KMS_BAD_URI',
        `Key URI ${JSON.stringify(uri)} names token ${JSON.stringify(ref.token)}, not ${JSON.stringify(this.tokenLabel)}.`,
        {
          details: { uri },
        },
      );
    }
    return ref;
  }

  #generate(name: string, version: string): KeyVersionInfo {
    const created = new Date().toISOString();
    generateKek(this.#session(), objectLabel(name, version), created);
    return { uri: this.#uri(name), name, version, created, enabled: true };
  }

  /** Every version object on the token with a `<name>#<n>` label. */
  #all(): VersionObject[] {
    const t = this.#session();
    const out: VersionObject[] = [];
    for (const handle of findSecretKeys(t)) {
      const attrs = keyAttributes(t, handle);
      const parts = splitLabel(attrs.label);
      if (!parts) continue;
      const info = { uri: this.#uri(parts.name), ...parts, created: attrs.created, enabled: attrs.enabled };
      out.push({ handle, info });
    }
    return out;
  }

  #versions(name: string): VersionObject[] {
    return this.#all()
      .filter((v) => v.info.name === name)
      .sort((a, b) => Number(a.info.version) - Number(b.info.version));
  }

  #version(name: string, version: string): VersionObject {
    const versions = this.#versions(name);
    if (versions.length === 0) throw keyNotFound(this.#uri(name));
    const found = versions.find((v) => v.info.version === version);
    if (!found) throw versionNotFound(this.#uri(name), name, version);
    return found;
  }

  #newestEnabled(name: string): VersionObject {
    const versions = this.#versions(name);
    if (versions.length === 0) throw keyNotFound(this.#uri(name));
    const enabled = versions.filter((v) => v.info.enabled).at(-1);
    if (!enabled) throw allVersionsDisabled(this.#uri(name), name);
    return enabled;
  }
}
