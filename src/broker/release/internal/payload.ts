import { createHash, createPublicKey, type KeyObject, sign } from 'node:crypto';
import type { ReleaseEncryption } from '../release-encryption.js';

/** The `schema_version` of the `key_hsm` blob, as Key Vault writes it. */
export const KEY_HSM_SCHEMA_VERSION = '1.0';

/** The `api-version` echoed in `request` when the caller gives none. */
export const RELEASE_API_VERSION = '7.4';

/** What goes into the signed answer besides the wrapped key. */
export interface PayloadParts {
  readonly kid: string;
  readonly requestKid: string;
  readonly kty: 'RSA' | 'oct';
  readonly keyOps: readonly string[];
  /** The released RSA key's public half (Key Vault includes `n` and `e`). */
  readonly publicKey?: KeyObject;
  readonly enc: ReleaseEncryption;
  readonly runtimeKid: string;
  readonly ciphertext: Buffer;
  readonly apiVersion: string;
  readonly nonce?: string;
  /** Extra members of `response.key` (`attributes`, `tags`, `release_policy`), as the key store keeps them. */
  readonly keyBundle?: Readonly<Record<string, unknown>>;
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The payload of Key Vault's release answer: `request` (`api-version`, `enc`, `kid`, `nonce`) and
 * `response.key.key` (`kid`, `kty`, `key_ops`, `n`/`e` for RSA, `key_hsm`), where `key_hsm` is
 * base64url JSON `{ schema_version, header: { kid: <runtime key kid>, alg: 'dir', enc }, ciphertext }`.
 */
export function releasePayload(parts: PayloadParts): Record<string, unknown> {
  const keyHsm = {
    schema_version: KEY_HSM_SCHEMA_VERSION,
    header: { kid: parts.runtimeKid, alg: 'dir', enc: parts.enc },
    ciphertext: parts.ciphertext.toString('base64url'),
  };
  const publicJwk =
    parts.publicKey === undefined ? undefined : createPublicKey(parts.publicKey).export({ format: 'jwk' });
  return {
    request: {
      'api-version': parts.apiVersion,
      enc: parts.enc,
      kid: parts.requestKid,
      ...(parts.nonce === undefined ? {} : { nonce: parts.nonce }),
    },
    response: {
      key: {
        ...parts.keyBundle,
        key: {
          kid: parts.kid,
          kty: parts.kty,
          key_ops: [...parts.keyOps],
          ...(publicJwk === undefined ? {} : { n: publicJwk.n, e: publicJwk.e }),
          key_hsm: b64url(keyHsm),
        },
      },
    },
  };
}

/** The broker's signing identity for release answers. */
export interface ReleaseSigner {
  /** RSA private key, at least 2048 bits. */
  readonly privateKey: KeyObject;
  /** Written to the JWS header `kid`; the workload finds the key by it in the broker's JWKS. */
  readonly kid: string;
  /** Standard base64 DER certificates, signing certificate first; adds `x5c` and `x5t#S256`. */
  readonly x5c?: readonly string[];
}

/** Signs the payload as Key Vault does: compact JWS, RS256, header `kid`, `typ`, and `x5c`/`x5t#S256` when given. */
export function signRelease(payload: unknown, signer: ReleaseSigner): string {
  const first = signer.x5c?.[0];
  const header = {
    alg: 'RS256',
    kid: signer.kid,
    typ: 'JWT',
    ...(first === undefined
      ? {}
      : {
          'x5t#S256': createHash('sha256').update(Buffer.from(first, 'base64')).digest('base64url'),
          x5c: [...(signer.x5c ?? [])],
        }),
  };
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), signer.privateKey).toString('base64url')}`;
}
