import {
  type Check,
  type CheckList,
  type Claims,
  type JwksFetcher,
  type MaaVerifyResult,
  verifyMaaToken,
} from '../../../attest/index.js';
import { isSealtrainError } from '../../../errors/index.js';

/** Whose attestation tokens a release accepts, and their signing keys. */
export interface ReleaseTrust {
  /** Trusted token issuers: the broker's own URL, MAA instances. */
  readonly issuers: readonly string[];
  /** Each issuer's JWKS, keyed by issuer URL (trailing slashes ignored). */
  readonly jwks?: Readonly<Record<string, unknown>>;
  /** Fetches `<issuer>/certs` for a trusted issuer not in `jwks`; without it such tokens fail `maa.jwks`. */
  readonly fetchJwks?: JwksFetcher;
}

const trim = (url: string): string => url.trim().replace(/\/+$/, '').toLowerCase();

/** The unverified `iss`, only to choose which key set to verify with. */
function issuerOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload?.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

function keySetFor(iss: string | undefined, trust: ReleaseTrust): unknown {
  if (iss === undefined || trust.jwks === undefined) return undefined;
  const wanted = trim(iss);
  for (const [issuer, jwks] of Object.entries(trust.jwks)) if (trim(issuer) === wanted) return jwks;
  return undefined;
}

const noFetch: JwksFetcher = async (url) => {
  throw new Error(`no keys are configured for ${url} and no fetcher was given`);
};

/**
 * Verifies the attestation token with `verifyMaaToken` against the trusted issuers and their keys
 * (the key set is chosen by the token's `iss`; nothing is fetched unless a fetcher is given), adding
 * every check to `checks`. Returns the claims, or undefined when the token cannot be parsed at all
 * (recorded as `maa.token`).
 */
export async function verifyTarget(
  token: string,
  trust: ReleaseTrust,
  checks: CheckList,
  now: Date,
): Promise<Claims | undefined> {
  const jwks = keySetFor(issuerOf(token), trust);
  let result: MaaVerifyResult;
  try {
    result = await verifyMaaToken(token, {
      issuers: trust.issuers,
      now,
      ...(jwks === undefined ? { fetchJwks: trust.fetchJwks ?? noFetch } : { jwks }),
    });
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    checks.fail('maa.token', `The attestation token is unusable: ${error.message}`);
    return undefined;
  }
  checks.addAll(result.checks as Check[]);
  return result.claims;
}
