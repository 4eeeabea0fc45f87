import { KEK_BYTES, NONCE_BYTES, type ScryptParams, TAG_BYTES } from './keyring-crypto.js';
import { readKdf } from './keyring-kdf.js';
import { keyringCorrupt } from './kms-errors.js';

/** One KEK version as stored: its key material is sealed under the keyring's encryption key. */
export interface VersionRecord {
  readonly version: string;
  readonly created: string;
  readonly enabled: boolean;
  /** AES-256-GCM nonce. */
  readonly nonce: Buffer;
  /** AES-256-GCM ciphertext ‖ tag of the 32-byte KEK. */
  readonly kek: Buffer;
}

/** One key and its versions, oldest first (`1`, `2`, …). */
export interface KeyRecord {
  readonly name: string;
  readonly versions: readonly VersionRecord[];
}

/** Everything in `keyring.json` except the MAC. */
export interface KeyringDoc {
  readonly kdf: ScryptParams;
  readonly keys: readonly KeyRecord[];
}

/** The value of the `format` field and of the `version` field. */
export const KEYRING_FORMAT = 'sealtrain-keyring';
export const KEYRING_VERSION = 1;
/** Bytes of the file MAC. */
export const MAC_BYTES = 32;
/** Largest keyring file read, in bytes. */
export const MAX_KEYRING_BYTES = 64 * 1024 * 1024;

const MAX_KEYS = 10_000;
const MAX_VERSIONS = 1_000_000;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const CREATED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const MAC_DOMAIN = 'sealtrain keyring v1 mac\n';

/** A JSON object being read field by field; every failure names the file and the field. */
export class FieldReader {
  /** The file, for error messages. */
  readonly path: string;
  /** This object's field path inside the file (`keys[0]`), empty at the top level. */
  readonly where: string;
  readonly #obj: Record<string, unknown>;

  constructor(path: string, where: string, value: unknown, allowed: readonly string[]) {
    this.path = path;
    this.where = where;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail('', 'is not an object');
    this.#obj = value as Record<string, unknown>;
    for (const key of Object.keys(this.#obj)) {
      if (!allowed.includes(key)) this.fail(key, 'is not expected in a version 1 keyring');
    }
  }

  /** Throws `ERR_KMS_KEYRING_CORRUPT` for `field` of this object. */
  fail(field: string, problem: string): never {
    const name = field === '' ? this.where || '(top level)' : this.where ? `${this.where}.${field}` : field;
    throw keyringCorrupt(this.path, name, problem);
  }

  /** The raw value of `field`, which must be present. */
  get(field: string): unknown {
    const value = this.#obj[field];
    if (value === undefined) this.fail(field, 'is missing');
    return value;
  }

  /** A string, matching `pattern` when given. */
  string(field: string, pattern?: RegExp): string {
    const value = this.get(field);
    if (typeof value !== 'string' || (pattern && !pattern.test(value))) this.fail(field, 'is not valid');
    return value;
  }

  /** An integer from `min` to `max`. */
  integer(field: string, min: number, max: number): number {
    const value = this.get(field);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `is not an integer from ${min} to ${max}`);
    }
    return value;
  }

  /** `true` or `false`. */
  boolean(field: string): boolean {
    const value = this.get(field);
    if (typeof value !== 'boolean') this.fail(field, 'is not true or false');
    return value;
  }

  /** Canonical base64 of `min` to `max` bytes. */
  bytes(field: string, min: number, max = min): Buffer {
    const value = this.get(field);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'base64') : undefined;
    if (!bytes || bytes.toString('base64') !== value || bytes.length < min || bytes.length > max) {
      this.fail(
        field,
        min === max ? `is not ${min} bytes of base64` : `is not ${min} to ${max} bytes of base64`,
      );
    }
    return bytes;
  }

  /** A list of at most `max` entries. */
  array(field: string, max: number): unknown[] {
    const value = this.get(field);
    if (!Array.isArray(value) || value.length > max)
      this.fail(field, `is not a list of at most ${max} entries`);
    return value;
  }
}

/** Parses and checks the shape of `keyring.json`; the MAC is checked by the caller. */
export function parseKeyringFile(path: string, text: string): { doc: KeyringDoc; mac: Buffer } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw keyringCorrupt(path, '(top level)', 'is not valid JSON');
  }
  const top = new FieldReader(path, '', json, ['format', 'version', 'kdf', 'keys', 'mac']);
  if (top.get('format') !== KEYRING_FORMAT) top.fail('format', `is not "${KEYRING_FORMAT}"`);
  if (top.get('version') !== KEYRING_VERSION) top.fail('version', `is not ${KEYRING_VERSION}`);
  const kdf = readKdf(new FieldReader(path, 'kdf', top.get('kdf'), ['name', 'N', 'r', 'p', 'salt']));
  const seen = new Set<string>();
  const keys = top.array('keys', MAX_KEYS).map((entry, i) => {
    const key = readKey(new FieldReader(path, `keys[${i}]`, entry, ['name', 'versions']));
    if (seen.has(key.name)) top.fail(`keys[${i}].name`, 'repeats an earlier key name');
    seen.add(key.name);
    return key;
  });
  return { doc: { kdf, keys }, mac: top.bytes('mac', MAC_BYTES) };
}

function readKey(fields: FieldReader): KeyRecord {
  const name = fields.string('name', NAME);
  const list = fields.array('versions', MAX_VERSIONS);
  if (list.length === 0) fields.fail('versions', 'is empty');
  const versions = list.map((entry, i) => {
    const v = new FieldReader(fields.path, `${fields.where}.versions[${i}]`, entry, [
      'version',
      'created',
      'enabled',
      'nonce',
      'kek',
    ]);
    const version = v.string('version');
    if (version !== String(i + 1))
      v.fail('version', `is not ${i + 1} (versions are numbered 1, 2, … in order)`);
    return {
      version,
      created: v.string('created', CREATED),
      enabled: v.boolean('enabled'),
      nonce: v.bytes('nonce', NONCE_BYTES),
      kek: v.bytes('kek', KEK_BYTES + TAG_BYTES),
    };
  });
  return { name, versions };
}

/** The document in a fixed field order, as written and as authenticated. */
function canonical(doc: KeyringDoc): Record<string, unknown> {
  return {
    format: KEYRING_FORMAT,
    version: KEYRING_VERSION,
    kdf: {
      name: doc.kdf.name,
      N: doc.kdf.N,
      r: doc.kdf.r,
      p: doc.kdf.p,
      salt: doc.kdf.salt.toString('base64'),
    },
    keys: doc.keys.map((key) => ({
      name: key.name,
      versions: key.versions.map((v) => ({
        version: v.version,
        created: v.created,
        enabled: v.enabled,
        nonce: v.nonce.toString('base64'),
        kek: v.kek.toString('base64'),
      })),
    })),
  };
}

/** The bytes the file MAC covers: a domain string and the canonical JSON of every field but `mac`. */
export function macInput(doc: KeyringDoc): Buffer {
  return Buffer.from(MAC_DOMAIN + JSON.stringify(canonical(doc)));
}

/** The text of `keyring.json`. */
export function serializeKeyring(doc: KeyringDoc, mac: Uint8Array): string {
  return `${JSON.stringify({ ...canonical(doc), mac: Buffer.from(mac).toString('base64') }, null, 2)}\n`;
}
