import {
  constants,
  createCipheriv,
  createDecipheriv,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import {
  DEFAULT_RELEASE_ENCRYPTION,
  MAX_WRAPPED_KEY_BYTES,
  type RsaReleaseEncryption,
  unwrapFailure,
} from './release-encryption.js';

const OAEP_HASH: Record<RsaReleaseEncryption, string> = {
  CKM_RSA_AES_KEY_WRAP: 'sha1',
  RSA_AES_KEY_WRAP_256: 'sha256',
  RSA_AES_KEY_WRAP_384: 'sha384',
};

/** RFC 5649's alternative initial value: node:crypto's `id-aes256-wrap-pad` takes it as the IV. */
const KWP_AIV = Buffer.from('a65959a6', 'hex');

function rsaBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

function unwrapFailed(reason: string): SealtrainError {
  return new SealtrainError('ERR_KMS_UNWRAP_FAILED', `The released key could not be unwrapped: ${reason}.`, {
    details: { field: 'ciphertext' },
  });
}

/**
 * CKM_RSA_AES_KEY_WRAP: a fresh AES-256 key wrapped to `publicKey` with RSA-OAEP (the hash `enc`
 * names), followed by `material` wrapped under that AES key with AES key wrap with padding
 * (RFC 5649). The AES key is wiped before returning. `publicKey` must be RSA.
 */
export function rsaAesKeyWrap(
  material: Uint8Array,
  publicKey: KeyObject,
  options: { enc?: RsaReleaseEncryption; random?: (size: number) => Uint8Array } = {},
): Buffer {
  const enc = options.enc ?? DEFAULT_RELEASE_ENCRYPTION;
  if (material.length === 0 || material.length > MAX_WRAPPED_KEY_BYTES)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `rsaAesKeyWrap: the key material is ${material.length} bytes.`,
      {
        details: { field: 'material' },
      },
    );
  const aesKey = Buffer.from((options.random ?? randomBytes)(32));
  try {
    if (aesKey.length !== 32) throw new Error('random did not return 32 bytes');
    const wrappedKey = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] },
      aesKey,
    );
    const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, KWP_AIV);
    return Buffer.concat([wrappedKey, kwp.update(material), kwp.final()]);
  } finally {
    aesKey.fill(0);
  }
}

/** The hash each RSA wrapping's OAEP step uses (its MGF1 too). */
export function oaepHashOf(enc: RsaReleaseEncryption): 'sha1' | 'sha256' | 'sha384' {
  return OAEP_HASH[enc] as 'sha1' | 'sha256' | 'sha384';
}

/**
 * An RSA private key held elsewhere, the vTPM's ephemeral encryption key on an Azure confidential
 * VM: its public part, and RSA-OAEP decryption (no label) done where the key is.
 */
export interface HeldRsaKey {
  readonly publicKey: KeyObject;
  oaepDecrypt(block: Buffer, hash: 'sha1' | 'sha256' | 'sha384'): Promise<Buffer>;
}

/** The OAEP block and the RFC 5649 wrapping of a CKM_RSA_AES_KEY_WRAP ciphertext, for a key of `key`'s size. */
function splitWrapped(ciphertext: Uint8Array, key: KeyObject): { block: Buffer; wrapped: Buffer } {
  const split = rsaBytes(key);
  const bytes = Buffer.from(ciphertext);
  if (split === 0 || bytes.length < split + 16 || (bytes.length - split) % 8 !== 0)
    throw unwrapFailed(`the ciphertext is ${bytes.length} bytes, which does not fit an RSA-${split * 8} key`);
  return { block: bytes.subarray(0, split), wrapped: bytes.subarray(split) };
}

/** The second step, under the AES key the first step gave (wiped here). */
function kwpOpen(aesKey: Buffer, wrapped: Buffer): Buffer {
  try {
    if (aesKey.length !== 32) throw new Error('not an AES-256 key');
    const kwp = createDecipheriv('id-aes256-wrap-pad', aesKey, KWP_AIV);
    const parts = [kwp.update(wrapped), kwp.final()];
    const out = Buffer.concat(parts);
    for (const part of parts) part.fill(0);
    return out;
  } catch (cause) {
    throw unwrapFailure(cause);
  } finally {
    aesKey.fill(0);
  }
}

/**
 * Reverses {@link rsaAesKeyWrap} with the RSA private key: the first modulus-size bytes are the
 * OAEP-wrapped AES key, the rest the RFC 5649 wrapping. Throws `ERR_KMS_UNWRAP_FAILED` (generic, as
 * decryption failures are) when either step fails. The caller wipes the returned bytes.
 */
export function rsaAesKeyUnwrap(
  ciphertext: Uint8Array,
  privateKey: KeyObject,
  options: { enc?: RsaReleaseEncryption } = {},
): Buffer {
  const enc = options.enc ?? DEFAULT_RELEASE_ENCRYPTION;
  const { block, wrapped } = splitWrapped(ciphertext, privateKey);
  let aesKey: Buffer;
  try {
    aesKey = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] },
      block,
    );
  } catch (cause) {
    throw unwrapFailure(cause);
  }
  return kwpOpen(aesKey, wrapped);
}

/** {@link rsaAesKeyUnwrap} with a key held elsewhere (the vTPM), which does the OAEP step. */
export async function rsaAesKeyUnwrapHeld(
  ciphertext: Uint8Array,
  key: HeldRsaKey,
  options: { enc?: RsaReleaseEncryption } = {},
): Promise<Buffer> {
  const { block, wrapped } = splitWrapped(ciphertext, key.publicKey);
  let aesKey: Buffer;
  try {
    aesKey = await key.oaepDecrypt(block, oaepHashOf(options.enc ?? DEFAULT_RELEASE_ENCRYPTION));
  } catch (cause) {
    // What the vTPM said (a PCR changed, the key is gone, the device failed) is named as it is.
    if (cause instanceof SealtrainError) throw cause;
    throw unwrapFailure(cause);
  }
  return kwpOpen(aesKey, wrapped);
}
