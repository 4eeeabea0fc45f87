import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { KeyType, StoredKeyVersion } from '../state/state-model.js';

/** RSA modulus sizes the broker makes. */
export const RSA_SIZES = [2048, 3072, 4096] as const;
/** Bits of an `oct` key. */
export const OCT_BITS = 256;

/** Wrap algorithms per key type: RSA-OAEP-256 for RSA, A256KW (RFC 3394) for `oct`. */
export const WRAP_ALGORITHMS: Readonly<Record<KeyType, readonly string[]>> = {
  RSA: ['RSA-OAEP-256'],
  oct: ['A256KW'],
};

const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** New key material: PKCS#8 DER of a fresh RSA key, or 32 random bytes. The caller wipes it. */
export function generateMaterial(kty: KeyType, size: number): Buffer {
  if (kty === 'oct') return randomBytes(OCT_BITS / 8);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: size, publicExponent: 0x10001 });
  return privateKey.export({ type: 'pkcs8', format: 'der' });
}

/** The RSA private key of a stored version. */
export function rsaPrivateKey(version: StoredKeyVersion): KeyObject {
  return createPrivateKey({ key: Buffer.from(version.material, 'base64'), format: 'der', type: 'pkcs8' });
}

/** The public JWK members of an RSA version (`n`, `e`), base64url. */
export function rsaPublicJwk(version: StoredKeyVersion): { n: string; e: string } {
  const jwk = createPublicKey(rsaPrivateKey(version)).export({ format: 'jwk' });
  return { n: String(jwk.n), e: String(jwk.e) };
}

function unsupported(alg: string, kty: KeyType): SealtrainError {
  return new SealtrainError(
    'ERR_BROKER_REQUEST',
    `Field "alg" is "${alg}", which a ${kty} key does not support; use ${WRAP_ALGORITHMS[kty].join(' or ')}.`,
    { details: { field: 'alg', reason: 'bad-parameter' } },
  );
}

/** Wraps `value` under `version` with `alg` (RSA-OAEP-256 or A256KW). */
export function wrapWith(version: StoredKeyVersion, alg: string, value: Uint8Array): Buffer {
  if (!WRAP_ALGORITHMS[version.kty].includes(alg)) throw unsupported(alg, version.kty);
  if (version.kty === 'RSA') {
    const key = createPublicKey(rsaPrivateKey(version));
    const limit = (key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8 - 2 * 32 - 2;
    if (value.length === 0 || value.length > limit)
      throw new SealtrainError(
        'ERR_BROKER_REQUEST',
        `Field "value" is ${value.length} bytes; RSA-OAEP-256 with this key wraps 1 to ${limit} bytes.`,
        { details: { field: 'value', reason: 'bad-parameter' } },
      );
    return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, value);
  }
  if (value.length < 16 || value.length % 8 !== 0) {
    throw new SealtrainError(
      'ERR_BROKER_REQUEST',
      `Field "value" is ${value.length} bytes; A256KW wraps a multiple of 8 bytes, at least 16.`,
      { details: { field: 'value', reason: 'bad-parameter' } },
    );
  }
  const kek = Buffer.from(version.material, 'base64');
  try {
    const cipher = createCipheriv('id-aes256-wrap', kek, KW_IV);
    return Buffer.concat([cipher.update(value), cipher.final()]);
  } finally {
    kek.fill(0);
  }
}

/** Unwraps `value` under `version`; `ERR_KMS_UNWRAP_FAILED`, generic, when it does not open. The caller wipes the result. */
export function unwrapWith(version: StoredKeyVersion, alg: string, value: Uint8Array): Buffer {
  if (!WRAP_ALGORITHMS[version.kty].includes(alg)) throw unsupported(alg, version.kty);
  try {
    if (version.kty === 'RSA') {
      return privateDecrypt(
        { key: rsaPrivateKey(version), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        value,
      );
    }
    const kek = Buffer.from(version.material, 'base64');
    try {
      const decipher = createDecipheriv('id-aes256-wrap', kek, KW_IV);
      return Buffer.concat([decipher.update(value), decipher.final()]);
    } finally {
      kek.fill(0);
    }
  } catch (error) {
    throw new SealtrainError(
      'ERR_KMS_UNWRAP_FAILED',
      'The wrapped key does not open under this key version.',
      {
        cause: error,
        details: { reason: 'unwrap-failed' },
      },
    );
  }
}
