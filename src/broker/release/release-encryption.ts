import { SealtrainError } from '../../errors/index.js';

/**
 * The `enc` values a release may ask for. The first three are Key Vault's, each
 * CKM_RSA_AES_KEY_WRAP (PKCS #11 v2.40 §2.1.21) with a different RSA-OAEP hash:
 * `CKM_RSA_AES_KEY_WRAP` uses SHA-1 (with MGF1-SHA-1; what Key Vault answers when no `enc` is
 * asked for, and what Microsoft's CVM SKR sample decrypts with), `RSA_AES_KEY_WRAP_256` SHA-256
 * and `RSA_AES_KEY_WRAP_384` SHA-384 (MGF1 with the same hash). `ECDH_ES_A256GCM` is sealtrain's,
 * for an elliptic-curve runtime key (see `ecdhEsWrap`); only the sealtrain broker answers it.
 */
export const RELEASE_ENCRYPTIONS = [
  'CKM_RSA_AES_KEY_WRAP',
  'RSA_AES_KEY_WRAP_256',
  'RSA_AES_KEY_WRAP_384',
  'ECDH_ES_A256GCM',
] as const;

/** One of {@link RELEASE_ENCRYPTIONS}. */
export type ReleaseEncryption = (typeof RELEASE_ENCRYPTIONS)[number];

/** The wrappings for an RSA runtime key: Key Vault's. */
export type RsaReleaseEncryption = Exclude<ReleaseEncryption, 'ECDH_ES_A256GCM'>;

/** What the broker uses when the request names no `enc`: Key Vault's own default. */
export const DEFAULT_RELEASE_ENCRYPTION: RsaReleaseEncryption = 'CKM_RSA_AES_KEY_WRAP';

/** The most key material wrapped at once (an RSA-16384 private key in PKCS #8 is under 10 KiB). */
export const MAX_WRAPPED_KEY_BYTES = 16 * 1024;

/** True for a supported `enc` value. */
export function isReleaseEncryption(value: unknown): value is ReleaseEncryption {
  return typeof value === 'string' && (RELEASE_ENCRYPTIONS as readonly string[]).includes(value);
}

/** True for an `enc` that wraps to an RSA runtime key. */
export function isRsaReleaseEncryption(value: ReleaseEncryption): value is RsaReleaseEncryption {
  return value !== 'ECDH_ES_A256GCM';
}

/** The one error of a failed unwrap, whatever failed: decryption failures do not say where. */
export function unwrapFailure(cause: unknown): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_UNWRAP_FAILED',
    'The released key could not be unwrapped with this key.',
    {
      cause,
      details: { field: 'ciphertext' },
    },
  );
}
