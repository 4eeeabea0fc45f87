import { randomBytes } from 'node:crypto';
import type { KeyVersionInfo } from '../key-provider.js';
import { localUri } from '../local-uri.js';
import { KEK_BYTES, sealKek } from './keyring-crypto.js';
import type { KeyRecord, KeyringDoc, VersionRecord } from './keyring-file.js';
import { allVersionsDisabled, keyDisabled, keyNotFound, versionNotFound } from './kms-errors.js';

/** The public description of one version: never key material. */
export function versionInfo(name: string, v: VersionRecord): KeyVersionInfo {
  return { uri: localUri(name), name, version: v.version, created: v.created, enabled: v.enabled };
}

/** Key `name` and its index; `ERR_KMS_KEY_NOT_FOUND` when absent. */
export function findKey(doc: KeyringDoc, name: string): { key: KeyRecord; index: number } {
  const index = doc.keys.findIndex((k) => k.name === name);
  const key = doc.keys[index];
  if (!key) throw keyNotFound(localUri(name));
  return { key, index };
}

/** `version` of `key` and its index; `ERR_KMS_VERSION_NOT_FOUND` when absent. */
export function findVersion(key: KeyRecord, version: string): { record: VersionRecord; index: number } {
  const index = key.versions.findIndex((v) => v.version === version);
  const record = key.versions[index];
  if (!record) throw versionNotFound(localUri(key.name), key.name, version);
  return { record, index };
}

/**
 * The version that wraps: the one asked for (`ERR_KMS_KEY_DISABLED` if disabled), else the newest
 * enabled one.
 */
export function versionForWrap(
  key: KeyRecord,
  version: string | undefined,
): { record: VersionRecord; index: number } {
  if (version !== undefined) {
    const found = findVersion(key, version);
    if (!found.record.enabled) throw keyDisabled(localUri(key.name), version);
    return found;
  }
  for (let index = key.versions.length - 1; index >= 0; index--) {
    const record = key.versions[index];
    if (record?.enabled) return { record, index };
  }
  throw allVersionsDisabled(localUri(key.name), key.name);
}

/** `doc` with key `index` replaced. */
export function replaceKey(doc: KeyringDoc, index: number, key: KeyRecord): KeyringDoc {
  return { kdf: doc.kdf, keys: doc.keys.map((k, i) => (i === index ? key : k)) };
}

/** The field path of a version inside the file, for error messages. */
export function versionField(keyIndex: number, versionIndex: number): string {
  return `keys[${keyIndex}].versions[${versionIndex}].kek`;
}

/** A fresh random KEK version, sealed under `enc`; the plaintext KEK is wiped. */
export function newVersion(enc: Uint8Array, name: string, version: string): VersionRecord {
  const kek = randomBytes(KEK_BYTES);
  try {
    const { nonce, sealed } = sealKek(enc, name, version, kek);
    return { version, created: new Date().toISOString(), enabled: true, nonce, kek: sealed };
  } finally {
    kek.fill(0);
  }
}
