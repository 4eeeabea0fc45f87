import { type KeyObject, randomBytes } from 'node:crypto';
import type { Claims, ClaimValue } from '../../attest/index.js';
import { SealtrainError } from '../../errors/index.js';
import { isRsaPrivateKey, rsaPublicJwk, rsaThumbprint, signRs256 } from './internal/rs256.js';

/** How long an issued attestation token is valid by default, in seconds. */
export const TOKEN_TTL_SECONDS = 300;

/** The `x-ms-ver` claim of issued tokens (MAA writes `1.0`). */
export const TOKEN_VERSION = '1.0';

/** A public signing key as served at `<issuer>/certs`. */
export interface IssuerJwk {
  readonly kty: 'RSA';
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: 'RS256';
  readonly n: string;
  readonly e: string;
}

/** Signs attestation tokens in the shape of Microsoft Azure Attestation's. */
export interface TokenIssuer {
  /** The issuer URL written to `iss` (no trailing slash). */
  readonly issuer: string;
  /**
   * Signs `claims` as an RS256 JWT with header `kid` and `jku` = `<issuer>/certs`, adding `iss`,
   * `iat`, `nbf`, `exp`, `jti` and `x-ms-ver` (they override any claim of the same name).
   */
  issue(claims: Claims): string;
  /** The JWKS to serve at `<issuer>/certs`. */
  jwks(): { keys: IssuerJwk[] };
}

/** Options for {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  /** The RSA signing key, at least 2048 bits. */
  readonly privateKey: KeyObject;
  /** The broker's URL: `https://…`, or `http://` on a loopback host; no query or fragment. */
  readonly issuer: string;
  /** The key id; default the key's RFC 7638 thumbprint. */
  readonly kid?: string;
  /** Token lifetime in seconds; default {@link TOKEN_TTL_SECONDS}. */
  readonly ttlSeconds?: number;
  /** The clock; default now. */
  readonly now?: () => Date;
  /** The source of randomness for `jti`; default `crypto.randomBytes`. */
  readonly random?: (size: number) => Uint8Array;
}

const RESERVED = ['iss', 'iat', 'nbf', 'exp', 'jti', 'x-ms-ver'];
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `createTokenIssuer: ${field} ${reason}.`, {
    details: { field },
  });
}

/** The issuer URL without trailing slashes; refuses anything else than https or loopback http. */
function issuerUrl(value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw usage('issuer', 'is not a URL');
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  if (!secure) throw usage('issuer', 'must be an https URL (http only on a loopback host)');
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw usage('issuer', 'must not carry a query, fragment or credentials');
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Creates the broker's token issuer. Tokens verify with `verifyMaaToken` given the issuer in the
 * allow-list and {@link TokenIssuer.jwks} as keys, so the release path treats the broker exactly as
 * it treats Microsoft Azure Attestation.
 */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const { privateKey } = options;
  if (!isRsaPrivateKey(privateKey))
    throw usage('privateKey', 'is not a private RSA key of 2048 bits or more');
  const issuer = issuerUrl(options.issuer);
  const kid = options.kid ?? rsaThumbprint(privateKey);
  if (typeof kid !== 'string' || kid.length === 0) throw usage('kid', 'is not a non-empty string');
  const ttl = options.ttlSeconds ?? TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw usage('ttlSeconds', 'is not a positive integer');
  const now = options.now ?? (() => new Date());
  const random = options.random ?? randomBytes;
  const jwk: IssuerJwk = { ...rsaPublicJwk(privateKey), kid, use: 'sig', alg: 'RS256' };
  return {
    issuer,
    issue(claims: Claims): string {
      const iat = Math.floor(now().getTime() / 1000);
      if (!Number.isFinite(iat)) throw usage('now', 'did not return a valid Date');
      const body: Record<string, ClaimValue> = { ...claims };
      for (const name of RESERVED) delete body[name];
      const payload = {
        ...body,
        iss: issuer,
        iat,
        nbf: iat,
        exp: iat + ttl,
        jti: Buffer.from(random(32)).toString('hex'),
        'x-ms-ver': TOKEN_VERSION,
      };
      return signRs256({ typ: 'JWT', kid, jku: `${issuer}/certs` }, payload, privateKey);
    },
    jwks: () => ({ keys: [{ ...jwk }] }),
  };
}
