import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto';

/** scrypt parameters as stored in the keyring file. */
export interface ScryptParams {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
}

/** The keys derived from the passphrase. The owner wipes both. */
export interface KeyringKeys {
  /** AES-256-GCM key that encrypts each KEK version. */
  readonly enc: Buffer;
  /** HMAC-SHA-256 key that authenticates the whole file. */
  readonly mac: Buffer;
}

const ENC_INFO = Buffer.from('sealtrain keyring v1 enc');
const MAC_INFO = Buffer.from('sealtrain keyring v1 mac');
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** Bytes of a KEK, of a GCM nonce and of a GCM tag. */
export const KEK_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** scrypt → master key → HKDF-SHA-256 encryption and MAC keys. The master key is wiped. */
export async function deriveKeys(passphrase: Uint8Array, kdf: ScryptParams): Promise<KeyringKeys> {
  const maxmem = 128 * kdf.N * kdf.r + 16 * 1024 * 1024;
  const master = await new Promise<Buffer>((resolve, reject) => {
    scrypt(passphrase, kdf.salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
  try {
    const empty = Buffer.alloc(0);
    const enc = Buffer.from(hkdfSync('sha256', master, empty, ENC_INFO, 32));
    const mac = Buffer.from(hkdfSync('sha256', master, empty, MAC_INFO, 32));
    return { enc, mac };
  } finally {
    master.fill(0);
  }
}

/** The associated data that binds a sealed KEK to its key name and version. */
function kekAad(name: string, version: string): Buffer {
  return Buffer.from(`sealtrain keyring v1|${name}|${version}`);
}

/** Encrypts one KEK version under `enc` with a fresh random nonce: `ciphertext ‖ tag`. */
export function sealKek(
  enc: Uint8Array,
  name: string,
  version: string,
  kek: Uint8Array,
): { nonce: Buffer; sealed: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', enc, nonce);
  cipher.setAAD(kekAad(name, version));
  const sealed = Buffer.concat([cipher.update(kek), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed };
}

/** Decrypts one KEK version; `undefined` when it does not authenticate. The caller wipes it. */
export function openKek(
  enc: Uint8Array,
  name: string,
  version: string,
  nonce: Uint8Array,
  sealed: Uint8Array,
): Buffer | undefined {
  if (sealed.length !== KEK_BYTES + TAG_BYTES || nonce.length !== NONCE_BYTES) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', enc, nonce);
  decipher.setAAD(kekAad(name, version));
  decipher.setAuthTag(sealed.subarray(KEK_BYTES));
  const head = decipher.update(sealed.subarray(0, KEK_BYTES));
  try {
    const tail = decipher.final();
    const kek = Buffer.concat([head, tail]);
    tail.fill(0);
    return kek;
  } catch {
    return undefined;
  } finally {
    head.fill(0);
  }
}

/** HMAC-SHA-256 of `data` under `key`. */
export function fileMac(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Constant-time comparison of two MACs. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True for a data key RFC 3394 can wrap and sealtrain accepts: 16 to 64 bytes, a multiple of 8. */
export function isWrappableLength(length: number): boolean {
  return length >= 16 && length <= 64 && length % 8 === 0;
}

/** AES-256 key wrap (RFC 3394, default IV). */
export function aesKeyWrap(kek: Uint8Array, dek: Uint8Array): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', kek, KW_IV);
  return Buffer.concat([cipher.update(dek), cipher.final()]);
}

/** AES-256 key unwrap (RFC 3394); throws when the integrity check fails. The caller wipes it. */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer {
  const decipher = createDecipheriv('id-aes256-wrap', kek, KW_IV);
  const head = decipher.update(wrapped);
  try {
    const tail = decipher.final();
    const dek = Buffer.concat([head, tail]);
    tail.fill(0);
    return dek;
  } finally {
    head.fill(0);
  }
}

/** Wipes both derived keys. */
export function wipeKeys(keys: KeyringKeys): void {
  keys.enc.fill(0);
  keys.mac.fill(0);
}
