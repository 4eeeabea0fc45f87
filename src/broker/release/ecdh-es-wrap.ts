import * as nodeCrypto from 'node:crypto';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { promisify } from 'node:util';
import { SealtrainError } from '../../errors/index.js';
import { isRecord, strictBase64url } from '../../internal/json-shapes.js';
import { MAX_WRAPPED_KEY_BYTES, unwrapFailure } from './release-encryption.js';

/**
 * sealtrain's release wrapping for an elliptic-curve runtime key (not one Key Vault offers: it
 * wraps only for RSA). The key material is a compact JWE (RFC 7516) for the runtime key with
 * `alg` `ECDH-ES` (RFC 7518 §4.6: an ephemeral key pair on the runtime key's curve, Concat KDF)
 * and `enc` `A256GCM`; its protected header, authenticated with it, names the runtime key's
 * `kid`. Making a P-256 runtime key takes well under a millisecond where RSA-2048 takes 40 to
 * 320 ms, which is most of an attested release's cost.
 *
 * Made and opened here with `node:crypto` rather than a JOSE library, so that the ECDH shared
 * secret and the content-encryption key derived from it are buffers of this module, wiped once
 * used; the JWE itself is the standard one (tested against `jose` both ways). OpenSSL's own copy
 * of the key, in the cipher's context, lasts until that object is collected.
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
 * The EC public key of a JWK's `crv`, `x` and `y` (nothing else is read: a `d` there is no private
 * key) on one of {@link RUNTIME_EC_CURVES}; OpenSSL refuses a point off the curve. Otherwise `why`
 * says what is wrong.
 */
export function runtimeEcPublicKey(jwk: Record<string, unknown>): { key?: KeyObject; why?: string } {
  const crv = typeof jwk.crv === 'string' ? jwk.crv : '';
  if (!Object.hasOwn(RUNTIME_EC_CURVES, crv))
    return {
      why: `its curve ${JSON.stringify(jwk.crv)} is not ${Object.keys(RUNTIME_EC_CURVES).join(' or ')}`,
    };
  try {
    return {
      key: createPublicKey({ key: { kty: 'EC', crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' }),
    };
  } catch {
    return { why: 'its x and y are not a point of its curve' };
  }
}

const generateEcKeyPair = promisify(generateKeyPair);

/** The one-shot digest (Node 20.12 and later), which keeps no copy of its result in a Hash object. */
const oneShotHash = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;

/** JWE header parameters other than these make a JWE this module does not open. */
const KNOWN_HEADER = new Set(['alg', 'enc', 'kid', 'epk', 'apu', 'apv', 'typ', 'cty']);

/** The largest compact JWE {@link ecdhEsUnwrap} reads: the largest material, encoded, and a header. */
const MAX_JWE_BYTES = Math.ceil((MAX_WRAPPED_KEY_BYTES * 4) / 3) + 4096;

const uint32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/**
 * The content-encryption key of `ECDH-ES` with `A256GCM`: RFC 7518 §4.6.2's Concat KDF with
 * SHA-256 over the shared secret `z` (one round gives the 256 bits), AlgorithmID "A256GCM" and the
 * `apu`/`apv` party infos. The KDF's input, which holds `z`, is wiped; the caller wipes the key.
 */
function contentKey(z: Buffer, apu: Buffer, apv: Buffer): Buffer {
  const enc = Buffer.from('A256GCM', 'ascii');
  const input = Buffer.alloc(4 + z.length + 4 + enc.length + 4 + apu.length + 4 + apv.length + 4);
  let at = 0;
  for (const part of [
    uint32(1),
    z,
    uint32(enc.length),
    enc,
    uint32(apu.length),
    apu,
    uint32(apv.length),
    apv,
    uint32(256),
  ])
    at += part.copy(input, at);
  try {
    return oneShotHash ? oneShotHash('sha256', input, 'buffer') : createHash('sha256').update(input).digest();
  } finally {
    input.fill(0);
  }
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
  const namedCurve = publicKey.asymmetricKeyDetails?.namedCurve as string;
  // Made on the thread pool: Node 20's generateKeyPairSync, followed by a JWK export of the key,
  // can deadlock when a garbage collection runs inside the export (the sync job's finalizer takes
  // the lock the export holds); the asynchronous job does not.
  const ephemeral = await generateEcKeyPair('ec', { namedCurve });
  const { crv, x, y } = ephemeral.publicKey.export({ format: 'jwk' });
  const header = Buffer.from(
    JSON.stringify({ alg: 'ECDH-ES', enc: 'A256GCM', kid: runtimeKid, epk: { kty: 'EC', crv, x, y } }),
  ).toString('base64url');
  const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey });
  let cek: Buffer | undefined;
  try {
    cek = contentKey(z, Buffer.alloc(0), Buffer.alloc(0));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', cek, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(material), cipher.final()]);
    const parts = [header, '', iv, ciphertext, cipher.getAuthTag()];
    return Buffer.from(
      parts.map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.'),
      'utf8',
    );
  } finally {
    z.fill(0);
    cek?.fill(0);
  }
}

/** A base64url part of a compact JWE, decoded strictly (`strictBase64url`: no padding, no other alphabet, one spelling). */
function part(text: string | undefined, what: string): Buffer {
  const bytes = text === undefined ? undefined : strictBase64url(text);
  if (bytes === undefined) throw new Error(`the ${what} is not base64url`);
  return bytes;
}

/**
 * Reverses {@link ecdhEsWrap} with the runtime private key; only `ECDH-ES` with `A256GCM` is
 * accepted (no `zip`: inflating would leave an unwiped copy of the key; no `crit`). The shared
 * secret and the content-encryption key are wiped, and so is the plaintext when its tag does not
 * hold. Any failure is the same `ERR_KMS_UNWRAP_FAILED`, as decryption failures are. The caller
 * wipes the returned bytes.
 */
export async function ecdhEsUnwrap(ciphertext: Uint8Array, privateKey: KeyObject): Promise<Buffer> {
  let z: Buffer | undefined;
  let cek: Buffer | undefined;
  let plaintext: Buffer | undefined;
  try {
    if (ciphertext.length > MAX_JWE_BYTES) throw new Error(`the JWE is over ${MAX_JWE_BYTES} bytes`);
    const [encodedHeader, encryptedKey, iv, body, tag, ...rest] = Buffer.from(ciphertext)
      .toString('utf8')
      .split('.');
    if (rest.length > 0 || tag === undefined) throw new Error('not a compact JWE of five parts');
    const h: unknown = JSON.parse(part(encodedHeader, 'protected header').toString('utf8'));
    if (!isRecord(h)) throw new Error('the protected header is not an object');
    const unknown = Object.keys(h).filter((k) => !KNOWN_HEADER.has(k));
    if (h.alg !== 'ECDH-ES' || h.enc !== 'A256GCM' || unknown.length > 0)
      throw new Error('not ECDH-ES with A256GCM, or a header parameter this module does not know');
    if (encryptedKey !== '') throw new Error('ECDH-ES agrees on the key: the encrypted key must be empty');
    // Every part is decoded and checked before the key agreement: a point off the curve, or on
    // another curve than the runtime key's, never meets the private key.
    const epk = h.epk;
    if (!isRecord(epk) || epk.kty !== 'EC') throw new Error('the header has no EC epk');
    const { key: ephemeral, why } = runtimeEcPublicKey(epk);
    if (ephemeral === undefined) throw new Error(`the epk is not usable: ${why}`);
    const curve = ephemeral.asymmetricKeyDetails?.namedCurve;
    if (curve !== privateKey.asymmetricKeyDetails?.namedCurve)
      throw new Error("the epk is not on the runtime key's curve");
    const nonce = part(iv, 'initialization vector');
    const authTag = part(tag, 'authentication tag');
    if (nonce.length !== 12 || authTag.length !== 16) throw new Error('the IV or tag has the wrong length');
    const party = (v: unknown, what: string) =>
      v === undefined ? Buffer.alloc(0) : part(typeof v === 'string' ? v : undefined, what);
    const apu = party(h.apu, 'apu');
    const apv = party(h.apv, 'apv');
    const encrypted = part(body, 'ciphertext');
    z = diffieHellman({ privateKey, publicKey: ephemeral });
    cek = contentKey(z, apu, apv);
    const decipher = createDecipheriv('aes-256-gcm', cek, nonce, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(encodedHeader as string, 'ascii'));
    decipher.setAuthTag(authTag);
    plaintext = decipher.update(encrypted);
    decipher.final(); // throws when the tag does not hold
    const out = plaintext;
    plaintext = undefined;
    return out;
  } catch (cause) {
    throw unwrapFailure(cause);
  } finally {
    z?.fill(0);
    cek?.fill(0);
    plaintext?.fill(0);
  }
}
