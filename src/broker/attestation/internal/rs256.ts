import { createHash, createPublicKey, type KeyObject, sign } from 'node:crypto';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS `header.payload.signature`, RS256 with PKCS#1 v1.5 and SHA-256. */
export function signRs256(header: Record<string, unknown>, payload: unknown, privateKey: KeyObject): string {
  const input = `${b64url({ ...header, alg: 'RS256' })}.${b64url(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** The public RSA JWK (`kty`, `n`, `e`) of a private or public key. */
export function rsaPublicJwk(key: KeyObject): { kty: 'RSA'; n: string; e: string } {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  return { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) };
}

/** The RFC 7638 SHA-256 thumbprint of an RSA key, base64url. */
export function rsaThumbprint(key: KeyObject): string {
  const { e, kty, n } = rsaPublicJwk(key);
  return createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
}

/** True for a private RSA key of at least `minBits`. */
export function isRsaPrivateKey(key: unknown, minBits = 2048): key is KeyObject {
  const k = key as KeyObject | undefined;
  return (
    k?.type === 'private' &&
    k.asymmetricKeyType === 'rsa' &&
    (k.asymmetricKeyDetails?.modulusLength ?? 0) >= minBits
  );
}
