import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  KeyObject,
  verify,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import { certificateFromX5c } from '../../attest/maa/internal/signing-key.js';
import { parseJwks } from '../../attest/maa/jwks.js';
import { SealtrainError } from '../../errors/index.js';
import { isRecord, strictBase64url } from '../../internal/json-shapes.js';
import { ecdhEsUnwrap, isRuntimeEcKey } from './ecdh-es-wrap.js';
import { KEY_HSM_SCHEMA_VERSION } from './internal/payload.js';
import {
  isReleaseEncryption,
  isRsaReleaseEncryption,
  type ReleaseEncryption,
  type RsaReleaseEncryption,
} from './release-encryption.js';
import { type HeldRsaKey, rsaAesKeyUnwrap, rsaAesKeyUnwrapHeld } from './rsa-aes-key-wrap.js';

/** The largest release answer read, in bytes. */
export const MAX_RELEASE_BYTES = 256 * 1024;

/** Options for {@link unwrapReleasedKey}. */
export interface UnwrapReleasedKeyOptions {
  /** The broker's signing keys (its JWKS); the answer must verify with the one its `kid` names. */
  readonly brokerJwks: unknown;
  /**
   * Require an `x5c` chain, as Key Vault signs: its first certificate must be an RSA key of 2048
   * bits or more, not a CA, issued for `host` (the vault's name or address); each certificate must
   * be in date and signed by the next, which must be a CA; and the last must be, or be signed by,
   * one of `roots` (CA certificates, PEM or parsed once by a caller that verifies many answers, in
   * date). `brokerJwks` is then not used.
   */
  readonly x5c?: { readonly roots: readonly (string | X509Certificate)[]; readonly host: string };
  /** The clock for the `x5c` certificates' validity; default now. */
  readonly now?: Date;
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

/**
 * A base64url JSON object. The JWS's own parts are read strictly (`strictBase64url`: no padding,
 * one spelling), as RFC 7515 writes them; `key_hsm`, inside the signed payload, as Node reads it.
 */
function json(part: string, field: string, strict = true): Record<string, unknown> {
  try {
    const bytes = strict ? strictBase64url(part) : Buffer.from(part, 'base64url');
    const value: unknown = bytes === undefined ? undefined : JSON.parse(bytes.toString('utf8'));
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

/** The most certificates accepted in an answer's `x5c`. */
const MAX_X5C = 8;

const inDate = (cert: X509Certificate, now: Date) =>
  new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);

function issuedFor(cert: X509Certificate, host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) ? cert.checkIP(bare) !== undefined : cert.checkHost(bare) !== undefined;
}

/**
 * The signing key of an answer by its `x5c` chain (see {@link UnwrapReleasedKeyOptions.x5c}), and
 * `x5t#S256`, when present, must be the first certificate's SHA-256 thumbprint.
 */
function x5cKey(
  header: Record<string, unknown>,
  trust: NonNullable<UnwrapReleasedKeyOptions['x5c']>,
  now: Date,
): KeyObject {
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C)
    throw failed('the JWS header x5c', `is not a list of 1 to ${MAX_X5C} certificates`);
  const chain = x5c.map((entry, i) => {
    try {
      if (typeof entry !== 'string') throw new Error('not a string');
      return certificateFromX5c(entry);
    } catch {
      throw failed(`the JWS header x5c[${i}]`, 'is not a base64 DER certificate');
    }
  });
  chain.forEach((cert, i) => {
    if (!inDate(cert, now))
      throw failed(`the JWS header x5c[${i}]`, `is not valid now (${cert.validFrom} to ${cert.validTo})`);
    if (i > 0 && !cert.ca) throw failed(`the JWS header x5c[${i}]`, 'is not a CA certificate');
  });
  chain.forEach((cert, i) => {
    const next = chain[i + 1];
    if (next && !(cert.checkIssued(next) && cert.verify(next.publicKey)))
      throw failed(`the JWS header x5c[${i}]`, `is not signed by x5c[${i + 1}]`);
  });
  const leaf = chain[0] as X509Certificate;
  const bits = leaf.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (leaf.publicKey.asymmetricKeyType !== 'rsa' || bits < 2048)
    throw failed('the JWS header x5c[0]', 'does not hold an RSA key of 2048 bits or more, as RS256 needs');
  if (leaf.ca) throw failed('the JWS header x5c[0]', 'is a CA certificate, not a signing certificate');
  if (!issuedFor(leaf, trust.host)) throw failed('the JWS header x5c[0]', `is not issued for ${trust.host}`);
  const last = chain[chain.length - 1] as X509Certificate;
  const trusted = trust.roots.some((given) => {
    try {
      const root = typeof given === 'string' ? new X509Certificate(given) : given;
      if (!root.ca || !inDate(root, now)) return false;
      return (
        root.fingerprint256 === last.fingerprint256 || (last.checkIssued(root) && last.verify(root.publicKey))
      );
    } catch {
      return false;
    }
  });
  if (!trusted) throw failed('the JWS header x5c', 'does not lead to a trusted root');
  const thumb = header['x5t#S256'];
  if (thumb !== undefined && thumb !== createHash('sha256').update(leaf.raw).digest('base64url'))
    throw failed('the JWS header x5t#S256', 'is not the thumbprint of x5c[0]');
  return leaf.publicKey;
}

/** Verifies the broker's RS256 signature and returns the payload. */
function verifiedPayload(jws: string, options: UnwrapReleasedKeyOptions): Record<string, unknown> {
  if (typeof jws !== 'string' || jws.length > MAX_RELEASE_BYTES)
    throw failed('the answer', `is not a string of at most ${MAX_RELEASE_BYTES} bytes`);
  const parts = jws.split('.');
  if (parts.length !== 3) throw failed('the answer', 'is not a compact JWS');
  const [h = '', p = '', s = ''] = parts;
  const header = json(h, 'the JWS header');
  if (header.alg !== 'RS256')
    throw failed('the JWS header alg', `is ${JSON.stringify(header.alg)}, not RS256`);
  const key = options.x5c
    ? x5cKey(header, options.x5c, options.now ?? new Date())
    : signingKey(header.kid, options.brokerJwks);
  // One spelling only: Node's decoder alone would read a respelt signature as the same bytes.
  const signature = strictBase64url(s);
  if (signature === undefined) throw failed('the JWS signature', 'is not base64url in its one spelling');
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, signature))
    throw failed('the JWS signature', "does not verify with the vault's key");
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
  const hsm = json(bundle.key_hsm, 'key_hsm', false);
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
  runtimePrivateKey: KeyObject | HeldRsaKey,
  options: UnwrapReleasedKeyOptions,
): Promise<ReleasedKey> {
  const held =
    typeof runtimePrivateKey === 'object' &&
    runtimePrivateKey !== null &&
    !(runtimePrivateKey instanceof KeyObject);
  const rsa = held || runtimePrivateKey?.asymmetricKeyType === 'rsa';
  if (
    held
      ? runtimePrivateKey.publicKey?.asymmetricKeyType !== 'rsa'
      : runtimePrivateKey?.type !== 'private' || !(rsa || isRuntimeEcKey(runtimePrivateKey))
  )
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'unwrapReleasedKey: runtimePrivateKey is not a private RSA, P-256 or P-384 key, or an RSA key the vTPM holds.',
      {
        details: { field: 'runtimePrivateKey' },
      },
    );
  const payload = verifiedPayload(jws, options);
  if (options.nonce !== undefined) {
    const request = isRecord(payload.request) ? payload.request : {};
    if (request.nonce !== options.nonce) throw failed('request.nonce', 'is not the nonce this client sent');
  }
  const { kid, kty, enc, ciphertext } = keyHsmOf(payload);
  if (isRsaReleaseEncryption(enc) !== rsa)
    throw failed('key_hsm.header.enc', `is ${enc}, which does not wrap for this runtime key's type`);
  const bytes = held
    ? await rsaAesKeyUnwrapHeld(ciphertext, runtimePrivateKey, { enc: enc as RsaReleaseEncryption })
    : isRsaReleaseEncryption(enc)
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
