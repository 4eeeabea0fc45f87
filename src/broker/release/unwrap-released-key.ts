import {
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  verify,
  X509Certificate,
} from 'node:crypto';
import { parseJwks } from '../../attest/maa/jwks.js';
import { SealtrainError } from '../../errors/index.js';
import { ecdhEsUnwrap, isRuntimeEcKey } from './ecdh-es-wrap.js';
import { KEY_HSM_SCHEMA_VERSION } from './internal/payload.js';
import { isReleaseEncryption, isRsaReleaseEncryption, type ReleaseEncryption } from './release-encryption.js';
import { rsaAesKeyUnwrap } from './rsa-aes-key-wrap.js';

/** The largest release answer read, in bytes. */
export const MAX_RELEASE_BYTES = 256 * 1024;

/** Options for {@link unwrapReleasedKey}. */
export interface UnwrapReleasedKeyOptions {
  /** The broker's signing keys (its JWKS); the answer must verify with the one its `kid` names. */
  readonly brokerJwks: unknown;
  /** When given, `request.nonce` in the answer must equal it. */
  readonly nonce?: string;
}

/** A released key, unwrapped. */
export type ReleasedKey =
  | {
      readonly kid: string;
      readonly kty: 'RSA';
      readonly enc: ReleaseEncryption;
      readonly material: KeyObject;
    }
  | { readonly kid: string; readonly kty: 'oct'; readonly enc: ReleaseEncryption; readonly material: Buffer };

function failed(field: string, reason: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_UNWRAP_FAILED',
    `The release answer cannot be used: ${field} ${reason}.`,
    {
      details: { field },
    },
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function json(part: string, field: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (isRecord(value)) return value;
  } catch {}
  throw failed(field, 'is not base64url JSON');
}

function signingKey(kid: unknown, jwks: unknown): KeyObject {
  const matches = parseJwks(jwks, 'brokerJwks').keys.filter((k) => k.kid === kid);
  const [jwk] = matches;
  if (typeof kid !== 'string' || jwk === undefined || matches.length > 1)
    throw failed('the JWS header kid', `${JSON.stringify(kid)} is not exactly one key of the broker's JWKS`);
  try {
    if (jwk.n !== undefined)
      return createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e } as JsonWebKey, format: 'jwk' });
    const cert = jwk.x5c?.[0] ?? '';
    return new X509Certificate(`-----BEGIN CERTIFICATE-----\n${cert}\n-----END CERTIFICATE-----\n`).publicKey;
  } catch {
    throw failed('brokerJwks', `key ${JSON.stringify(kid)} is not a usable RSA key`);
  }
}

/** Verifies the broker's RS256 signature and returns the payload. */
function verifiedPayload(jws: string, jwks: unknown): Record<string, unknown> {
  if (typeof jws !== 'string' || jws.length > MAX_RELEASE_BYTES)
    throw failed('the answer', `is not a string of at most ${MAX_RELEASE_BYTES} bytes`);
  const parts = jws.split('.');
  if (parts.length !== 3) throw failed('the answer', 'is not a compact JWS');
  const [h = '', p = '', s = ''] = parts;
  const header = json(h, 'the JWS header');
  if (header.alg !== 'RS256')
    throw failed('the JWS header alg', `is ${JSON.stringify(header.alg)}, not RS256`);
  const key = signingKey(header.kid, jwks);
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')))
    throw failed('the JWS signature', "does not verify with the broker's key");
  return json(p, 'the JWS payload');
}

/** `response.key.key` and its decoded `key_hsm`. */
function keyHsmOf(payload: Record<string, unknown>) {
  const response = payload.response;
  const bundle = isRecord(response) && isRecord(response.key) ? response.key.key : undefined;
  if (!isRecord(bundle)) throw failed('response.key.key', 'is missing');
  if (typeof bundle.kid !== 'string') throw failed('response.key.key.kid', 'is missing');
  if (bundle.kty !== 'RSA' && bundle.kty !== 'oct') throw failed('response.key.key.kty', 'is not RSA or oct');
  if (typeof bundle.key_hsm !== 'string') throw failed('response.key.key.key_hsm', 'is missing');
  const hsm = json(bundle.key_hsm, 'key_hsm');
  const header = isRecord(hsm.header) ? hsm.header : {};
  if (hsm.schema_version !== KEY_HSM_SCHEMA_VERSION) throw failed('key_hsm.schema_version', 'is not 1.0');
  if (header.alg !== 'dir') throw failed('key_hsm.header.alg', 'is not dir');
  if (!isReleaseEncryption(header.enc)) throw failed('key_hsm.header.enc', 'is not a supported key wrap');
  if (typeof hsm.ciphertext !== 'string' || !/^[A-Za-z0-9_-]+$/.test(hsm.ciphertext))
    throw failed('key_hsm.ciphertext', 'is not base64url');
  return {
    kid: bundle.kid,
    kty: bundle.kty === 'RSA' ? ('RSA' as const) : ('oct' as const),
    enc: header.enc,
    ciphertext: Buffer.from(hsm.ciphertext, 'base64url'),
  };
}

/**
 * The workload side of a release: verifies the broker's JWS with `brokerJwks` (RS256, key by `kid`),
 * reads `response.key.key.key_hsm`, and unwraps its ciphertext with the runtime private key: an RSA
 * key for CKM_RSA_AES_KEY_WRAP and its variants, a P-256 or P-384 key for ECDH_ES_A256GCM (the
 * `enc` must fit the key). RSA keys come back as a private KeyObject (the PKCS #8 bytes are wiped),
 * oct keys as bytes the caller must wipe. Every failure is `ERR_KMS_UNWRAP_FAILED` naming the
 * part, never a value.
 */
export async function unwrapReleasedKey(
  jws: string,
  runtimePrivateKey: KeyObject,
  options: UnwrapReleasedKeyOptions,
): Promise<ReleasedKey> {
  const rsa = runtimePrivateKey?.asymmetricKeyType === 'rsa';
  if (runtimePrivateKey?.type !== 'private' || !(rsa || isRuntimeEcKey(runtimePrivateKey)))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'unwrapReleasedKey: runtimePrivateKey is not a private RSA, P-256 or P-384 key.',
      {
        details: { field: 'runtimePrivateKey' },
      },
    );
  const payload = verifiedPayload(jws, options.brokerJwks);
  if (options.nonce !== undefined) {
    const request = isRecord(payload.request) ? payload.request : {};
    if (request.nonce !== options.nonce) throw failed('request.nonce', 'is not the nonce this client sent');
  }
  const { kid, kty, enc, ciphertext } = keyHsmOf(payload);
  if (isRsaReleaseEncryption(enc) !== rsa)
    throw failed('key_hsm.header.enc', `is ${enc}, which does not wrap for this runtime key's type`);
  const bytes = isRsaReleaseEncryption(enc)
    ? rsaAesKeyUnwrap(ciphertext, runtimePrivateKey, { enc })
    : await ecdhEsUnwrap(ciphertext, runtimePrivateKey);
  if (kty === 'oct') return { kid, kty, enc, material: bytes };
  try {
    return { kid, kty, enc, material: createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }) };
  } catch {
    throw failed('the unwrapped key', 'is not a PKCS #8 RSA private key');
  } finally {
    bytes.fill(0);
  }
}
