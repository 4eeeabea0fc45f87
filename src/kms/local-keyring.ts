import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, isSealtrainError, SealtrainError } from '../errors/index.js';
import { type FileLockOptions, fileStamp, withFileLock } from '../store/index.js';
import {
  aesKeyUnwrap,
  aesKeyWrap,
  deriveKeys,
  isWrappableLength,
  type KeyringKeys,
  openKek,
  wipeKeys,
} from './internal/keyring-crypto.js';
import type { KeyringDoc, VersionRecord } from './internal/keyring-file.js';
import { checkScryptCost, DEFAULT_SCRYPT_N } from './internal/keyring-kdf.js';
import {
  findKey,
  findVersion,
  newVersion,
  replaceKey,
  versionField,
  versionForWrap,
  versionInfo,
} from './internal/keyring-model.js';
import {
  KEYRING_FILE,
  LOCK_FILE,
  readKeyring,
  removeLeftoverTemps,
  verifyKeyring,
  writeKeyring,
} from './internal/keyring-store.js';
import {
  emptyPassphrase,
  keyDisabled,
  keyExists,
  keyringCorrupt,
  keyringExists,
  unwrapFailed,
  versionInWrappedUri,
} from './internal/kms-errors.js';
import type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';
import { assertKeyName, assertKeyVersion, LOCAL_SCHEME, localUri, parseLocalUri } from './local-uri.js';

/** Options for {@link LocalKeyring.init}. */
export interface LocalKeyringOptions {
  /** scrypt cost N, a power of two from 2^10 to 2^22; default 2^17. Lower only for tests. */
  readonly scryptCost?: number;
}

/** The wrapping algorithm of {@link LocalKeyring}: AES-256 key wrap, RFC 3394. */
export const LOCAL_WRAP_ALG = 'A256KW';

/**
 * The keyring's lock: a live holder is waited for 2 s, then `ERR_KMS_KEYRING_LOCKED` names the
 * lock file. The file holds the bare pid, as earlier releases wrote and read it.
 */
const KEYRING_LOCK: FileLockOptions = {
  timeoutMs: 2000,
  pidOnly: true,
  onTimeout: (path, pid) => {
    const by = pid === undefined ? 'another sealtrain process' : `another sealtrain process (pid ${pid})`;
    return new SealtrainError(
      'ERR_KMS_KEYRING_LOCKED',
      `The keyring is locked by ${by} through ${path}; retry when it is done, or remove that file if no sealtrain process is running.`,
      { details: { path, ...(pid === undefined ? {} : { pid }) } },
    );
  },
};

/** Outcome of a change: the new document (absent when nothing changes) and what to return. */
type Change<T> = { readonly doc?: KeyringDoc; readonly result: T };

/**
 * The `local:` key provider: KEKs in `<dir>/keyring.json`, each version AES-256-GCM encrypted under
 * a key derived from a passphrase (scrypt, then HKDF-SHA-256), the whole file authenticated with
 * HMAC-SHA-256. Changes rewrite the file atomically under the lock file `<dir>/keyring.lock`, after
 * re-reading it; reads pick up changes other processes made. Data keys are wrapped with A256KW.
 */
export class LocalKeyring implements KeyProvider {
  /** Always `local`. */
  readonly scheme: string = LOCAL_SCHEME;
  /** The keyring folder. */
  readonly dir: string;
  /** The keyring file, `<dir>/keyring.json`. */
  readonly path: string;
  #keys: KeyringKeys | undefined;
  #doc: KeyringDoc;
  #stamp: string;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, keys: KeyringKeys, doc: KeyringDoc, stamp: string) {
    this.dir = dir;
    this.path = join(dir, KEYRING_FILE);
    this.#keys = keys;
    this.#doc = doc;
    this.#stamp = stamp;
  }

  /**
   * Creates an empty keyring in `dir` (made if needed, mode 0700) protected by `passphrase`.
   * `ERR_KMS_KEYRING_EXISTS` when one is there. The caller wipes `passphrase`.
   */
  static async init(
    dir: string,
    passphrase: Uint8Array,
    options: LocalKeyringOptions = {},
  ): Promise<LocalKeyring> {
    if (passphrase.length === 0) throw emptyPassphrase();
    const N = options.scryptCost === undefined ? DEFAULT_SCRYPT_N : checkScryptCost(options.scryptCost);
    const path = join(dir, KEYRING_FILE);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw fromFsError(error, 'create the keyring folder', dir);
    }
    if ((await fileStamp(path)) !== undefined) throw keyringExists(path);
    const kdf = { name: 'scrypt', N, r: 8, p: 1, salt: randomBytes(16) } as const;
    const keys = await deriveKeys(passphrase, kdf);
    try {
      await withFileLock(
        join(dir, LOCK_FILE),
        async () => {
          await removeLeftoverTemps(dir);
          await writeKeyring(path, { kdf, keys: [] }, keys.mac, { create: true }).catch((error: unknown) => {
            throw isSealtrainError(error, 'ERR_IO_EXISTS') ? keyringExists(path) : error;
          });
        },
        KEYRING_LOCK,
      );
      const stored = await readKeyring(path);
      verifyKeyring(path, stored, keys.mac);
      return new LocalKeyring(dir, keys, stored.doc, stored.stamp);
    } catch (error) {
      wipeKeys(keys);
      throw error;
    }
  }

  /**
   * Opens the keyring in `dir`. `ERR_KMS_KEYRING_NOT_FOUND` when there is none,
   * `ERR_KMS_KEYRING_CORRUPT` naming the field when it is malformed, `ERR_KMS_WRONG_PASSPHRASE`
   * when the passphrase does not verify the file. The caller wipes `passphrase`.
   */
  static async open(dir: string, passphrase: Uint8Array): Promise<LocalKeyring> {
    if (passphrase.length === 0) throw emptyPassphrase();
    const path = join(dir, KEYRING_FILE);
    const stored = await readKeyring(path);
    const keys = await deriveKeys(passphrase, stored.doc.kdf);
    try {
      verifyKeyring(path, stored, keys.mac);
    } catch (error) {
      wipeKeys(keys);
      throw error;
    }
    return new LocalKeyring(dir, keys, stored.doc, stored.stamp);
  }

  /** Wipes the keys held in memory; later calls fail. Safe to call twice. */
  close(): void {
    if (this.#keys) wipeKeys(this.#keys);
    this.#keys = undefined;
  }

  /** {@inheritDoc KeyProvider.create} */
  async create(name: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    return this.#change((doc, keys) => {
      if (doc.keys.some((k) => k.name === name)) throw keyExists(localUri(name));
      const record = newVersion(keys.enc, name, '1');
      return {
        doc: { kdf: doc.kdf, keys: [...doc.keys, { name, versions: [record] }] },
        result: versionInfo(name, record),
      };
    });
  }

  /** {@inheritDoc KeyProvider.rotate} */
  async rotate(name: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    return this.#change((doc, keys) => {
      const { key, index } = findKey(doc, name);
      const record = newVersion(keys.enc, name, String(key.versions.length + 1));
      const next = replaceKey(doc, index, { name, versions: [...key.versions, record] });
      return { doc: next, result: versionInfo(name, record) };
    });
  }

  /** {@inheritDoc KeyProvider.disableVersion} */
  async disableVersion(name: string, version: string): Promise<KeyVersionInfo> {
    assertKeyName(name);
    assertKeyVersion(version);
    return this.#change((doc) => {
      const { key, index } = findKey(doc, name);
      const found = findVersion(key, version);
      if (!found.record.enabled) return { result: versionInfo(name, found.record) };
      const record = { ...found.record, enabled: false };
      const versions = key.versions.map((v, i) => (i === found.index ? record : v));
      return { doc: replaceKey(doc, index, { name, versions }), result: versionInfo(name, record) };
    });
  }

  /** {@inheritDoc KeyProvider.listVersions} */
  async listVersions(name: string): Promise<KeyVersionInfo[]> {
    assertKeyName(name);
    const { key } = findKey(await this.#current(), name);
    return key.versions.map((v) => versionInfo(name, v));
  }

  /** {@inheritDoc KeyProvider.list} */
  async list(): Promise<KeyVersionInfo[]> {
    const doc = await this.#current();
    return doc.keys.flatMap((k) => {
      const newest = k.versions[k.versions.length - 1];
      return newest ? [versionInfo(k.name, newest)] : [];
    });
  }

  /** {@inheritDoc KeyProvider.wrap} */
  async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
    const ref = parseLocalUri(uri);
    if (!isWrappableLength(dek.length)) {
      throw new SealtrainError(
        'ERR_INTERNAL',
        `A data key to wrap must be 16 to 64 bytes, a multiple of 8; got ${dek.length} bytes.`,
      );
    }
    const { key, index } = findKey(await this.#current(), ref.name);
    const found = versionForWrap(key, ref.version);
    const kek = this.#kek(key.name, found.record, versionField(index, found.index));
    try {
      const wrapped = aesKeyWrap(kek, dek);
      return { uri: localUri(key.name), version: found.record.version, alg: LOCAL_WRAP_ALG, wrapped };
    } finally {
      kek.fill(0);
    }
  }

  /** {@inheritDoc KeyProvider.unwrap} */
  async unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    const ref = parseLocalUri(wrapped.uri);
    if (ref.version !== undefined) throw versionInWrappedUri(wrapped.uri);
    assertKeyVersion(wrapped.version);
    const { key, index } = findKey(await this.#current(), ref.name);
    const found = findVersion(key, wrapped.version);
    const uri = localUri(key.name);
    if (!found.record.enabled) throw keyDisabled(uri, wrapped.version);
    if (wrapped.alg !== LOCAL_WRAP_ALG || !isWrappableLength(wrapped.wrapped.length - 8)) {
      throw unwrapFailed(uri, wrapped.version);
    }
    const kek = this.#kek(key.name, found.record, versionField(index, found.index));
    try {
      return aesKeyUnwrap(kek, wrapped.wrapped);
    } catch {
      throw unwrapFailed(uri, wrapped.version);
    } finally {
      kek.fill(0);
    }
  }

  #keysOrThrow(): KeyringKeys {
    if (!this.#keys) throw new SealtrainError('ERR_INTERNAL', `The keyring ${this.path} was closed.`);
    return this.#keys;
  }

  /** Decrypts one KEK version; the caller wipes it. */
  #kek(name: string, record: VersionRecord, field: string): Buffer {
    const kek = openKek(this.#keysOrThrow().enc, name, record.version, record.nonce, record.kek);
    if (!kek) throw keyringCorrupt(this.path, field, 'does not decrypt');
    return kek;
  }

  /** The current document, re-read and re-verified when the file changed since last time. */
  async #current(): Promise<KeyringDoc> {
    const keys = this.#keysOrThrow();
    const stamp = await fileStamp(this.path);
    if (stamp !== undefined && stamp === this.#stamp) return this.#doc;
    const stored = await readKeyring(this.path);
    verifyKeyring(this.path, stored, keys.mac);
    this.#doc = stored.doc;
    this.#stamp = stored.stamp;
    return stored.doc;
  }

  /** Applies `change` to a fresh read of the file, under the lock, one change at a time. */
  #change<T>(change: (doc: KeyringDoc, keys: KeyringKeys) => Change<T>): Promise<T> {
    const run = () =>
      withFileLock(
        join(this.dir, LOCK_FILE),
        async () => {
          const keys = this.#keysOrThrow();
          await removeLeftoverTemps(this.dir);
          const stored = await readKeyring(this.path);
          verifyKeyring(this.path, stored, keys.mac);
          this.#doc = stored.doc;
          this.#stamp = stored.stamp;
          const out = change(stored.doc, keys);
          if (out.doc) {
            await writeKeyring(this.path, out.doc, keys.mac, { create: false });
            this.#doc = out.doc;
            this.#stamp = (await fileStamp(this.path)) ?? '';
          }
          return out.result;
        },
        KEYRING_LOCK,
      );
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }
}
