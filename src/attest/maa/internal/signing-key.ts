import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { CheckList } from '../../check.js';
import type { MaaJwk } from '../jwks.js';

/**
 * Parses one `x5c` entry. The base64 is wrapped as PEM on purpose: given DER bytes, Node's parser
 * tries PEM first and finds the PEM certificates that MAA signing certificates embed in an
 * extension, returning one of those instead of the signing certificate itself.
 */
export function certificateFromX5c(entry: string): X509Certificate {
  const body = entry.replace(/\s+/g, '');
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('not base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return new X509Certificate(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`);
}

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** The JWK's own `n`/`e` key, `undefined` when it has none, `null` when they are not a valid key. */
function jwkKey(jwk: MaaJwk): KeyObject | undefined | null {
  if (jwk.n === undefined && jwk.e === undefined) return undefined;
  try {
    return createPublicKey({ key: { kty: 'RSA', n: jwk.n ?? '', e: jwk.e ?? '' }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** Records `maa.x5c` and `maa.x5c.validity`; returns the signing certificate's key. */
function checkX5c(x5c: readonly string[], own: KeyObject | undefined, now: Date, checks: CheckList) {
  const certs: X509Certificate[] = [];
  for (const [i, entry] of x5c.entries()) {
    try {
      certs.push(certificateFromX5c(entry));
    } catch {
      checks.fail('maa.x5c', `x5c[${i}] is not an X.509 certificate.`);
      return undefined;
    }
  }
  const leaf = certs[0];
  if (leaf === undefined) {
    checks.fail('maa.x5c', 'x5c is an empty array.');
    return undefined;
  }
  const subject = leaf.subject.replace(/\n/g, ', ');
  if (own !== undefined && !spkiOf(own).equals(spkiOf(leaf.publicKey)))
    checks.fail(
      'maa.x5c',
      `The x5c[0] certificate (${subject}) holds a different public key than the JWK's n/e.`,
    );
  else checks.pass('maa.x5c', `The x5c[0] certificate (${subject}) holds the signing key.`);
  const expired = certs.findIndex((c) => !(new Date(c.validFrom) <= now && now <= new Date(c.validTo)));
  const bad = certs[expired];
  if (bad === undefined)
    checks.pass('maa.x5c.validity', `Every x5c certificate is valid at ${now.toISOString()}.`);
  else
    checks.fail(
      'maa.x5c.validity',
      `x5c[${expired}] is valid from ${bad.validFrom} to ${bad.validTo}, not at ${now.toISOString()}.`,
    );
  return leaf.publicKey;
}

/**
 * The RSA public key a JWK describes, from `n`/`e` or, when it has none, from its `x5c` signing
 * certificate. Records `maa.key` and, when the key carries `x5c`, `maa.x5c` (the certificate parses
 * and holds the JWK's key) and `maa.x5c.validity` (every certificate is valid at `now`).
 * Returns `undefined` when no usable key results.
 */
export function resolveSigningKey(jwk: MaaJwk, now: Date, checks: CheckList): KeyObject | undefined {
  const own = jwkKey(jwk);
  const fromCert = jwk.x5c === undefined ? undefined : checkX5c(jwk.x5c, own ?? undefined, now, checks);
  const problems: string[] = [];
  if (jwk.kty !== 'RSA') problems.push(`kty is ${JSON.stringify(jwk.kty)}, not "RSA"`);
  if (jwk.use !== undefined && jwk.use !== 'sig')
    problems.push(`use is ${JSON.stringify(jwk.use)}, not "sig"`);
  if (jwk.alg !== undefined && jwk.alg !== 'RS256')
    problems.push(`alg is ${JSON.stringify(jwk.alg)}, not "RS256"`);
  if (own === null) problems.push('n/e are not a valid RSA public key');
  const key = own ?? fromCert;
  if (key === undefined && own !== null) problems.push('it has neither n/e nor a usable x5c certificate');
  if (key !== undefined && key.asymmetricKeyType !== 'rsa')
    problems.push(`its key is ${key.asymmetricKeyType ?? 'unknown'}, not RSA`);
  if (problems.length > 0 || key === undefined) {
    checks.fail('maa.key', `The key ${JSON.stringify(jwk.kid)} is not usable: ${problems.join('; ')}.`);
    return undefined;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  checks.pass('maa.key', `The key ${JSON.stringify(jwk.kid)} is an RSA-${bits} public key.`);
  return key;
}
