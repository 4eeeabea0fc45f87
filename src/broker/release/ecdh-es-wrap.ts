import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { SealtrainError } from '../../errors/index.js';
import { MAX_WRAPPED_KEY_BYTES, unwrapFailure } from './release-encryption.js';

/**
 * sealtrain's release wrapping for an elliptic-curve runtime key (not one Key Vault offers: it
 * wraps only for RSA). The key material is a compact JWE (RFC 7516) for the runtime key with
 * `alg` `ECDH-ES` (RFC 7518 §4.6: an ephemeral key pair on the runtime key's curve, Concat KDF)
 * and `enc` `A256GCM`; its protected header, authenticated with it, names the runtime key's
 * `kid`. Making a P-256 runtime key takes well under a millisecond where RSA-2048 takes 40 to
 * 320 ms, which is most of an attested release's cost.
 */
export const ECDH_ES_RELEASE = 'ECDH_ES_A256GCM';

/** The curves a runtime key for {@link ECDH_ES_RELEASE} may be on (JWK `crv` → OpenSSL name). */
export const RUNTIME_EC_CURVES: Readonly<Record<string, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
};

/** True when `key` is a public or private EC key on one of {@link RUNTIME_EC_CURVES}. */
export function isRuntimeEcKey(key: KeyObject): boolean {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return key.asymmetricKeyType === 'ec' && Object.values(RUNTIME_EC_CURVES).includes(curve ?? '');
}

/**
 * Wraps `material` for `publicKey` (EC P-256 or P-384) as {@link ECDH_ES_RELEASE}: the bytes of
 * the compact JWE. The caller wipes `material`.
 */
export async function ecdhEsWrap(
  material: Uint8Array,
  publicKey: KeyObject,
  runtimeKid: string,
): Promise<Buffer> {
  if (material.length === 0 || material.length > MAX_WRAPPED_KEY_BYTES)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `ecdhEsWrap: the key material is ${material.length} bytes.`,
      {
        details: { field: 'material' },
      },
    );
  if (publicKey?.type !== 'public' || !isRuntimeEcKey(publicKey))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'ecdhEsWrap: publicKey is not a public P-256 or P-384 key.',
      {
        details: { field: 'publicKey' },
      },
    );
  const jwe = await new CompactEncrypt(material)
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: runtimeKid })
    .encrypt(publicKey);
  return Buffer.from(jwe, 'utf8');
}

/**
 * Reverses {@link ecdhEsWrap} with the runtime private key; only `ECDH-ES` with `A256GCM` is
 * accepted. Any failure is the same `ERR_KMS_UNWRAP_FAILED`, as decryption failures are. The
 * caller wipes the returned bytes.
 */
export async function ecdhEsUnwrap(ciphertext: Uint8Array, privateKey: KeyObject): Promise<Buffer> {
  try {
    const { plaintext } = await compactDecrypt(Buffer.from(ciphertext).toString('utf8'), privateKey, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
      // No compressed payload: inflating would leave a copy of the key that is never wiped.
      maxDecompressedLength: 0,
    });
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  } catch (cause) {
    throw unwrapFailure(cause);
  }
}
