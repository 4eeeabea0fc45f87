import type { KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import { SealtrainError } from '../../errors/index.js';
import { type Check, CheckList } from '../check.js';
import type { Claims } from '../claims.js';
import { certsUrlOf, normaliseIssuer } from './internal/issuer.js';
import { type ParsedToken, parseToken } from './internal/parse-token.js';
import { resolveSigningKey } from './internal/signing-key.js';
import { fetchJwksOverHttp, type JwksFetcher, type MaaJwks, parseJwks } from './jwks.js';

/** The only signature algorithm accepted: MAA signs its tokens with RS256. */
export const MAA_ALGORITHM = 'RS256';

/** How far `exp` and `nbf` may be off the verifier's clock, in seconds. */
export const MAA_CLOCK_SKEW_SECONDS = 60;

/** Options for {@link verifyMaaToken}. */
export interface MaaVerifyOptions {
  /**
   * Trusted issuers (attestation provider URLs, e.g. `https://sharedeus2.eus2.attest.azure.net`),
   * compared without trailing slashes. None is trusted by default: `maa.iss` fails without this.
   */
  readonly issuers?: readonly string[];
  /** The issuer's signing keys. When given, nothing is fetched. */
  readonly jwks?: unknown;
  /** Fetches `<issuer>/certs` when `jwks` is not given; default: {@link fetchJwksOverHttp}. */
  readonly fetchJwks?: JwksFetcher;
  /** The clock for `exp`, `nbf` and certificate validity; default: the current time. */
  readonly now?: Date;
}

/** What {@link verifyMaaToken} found. */
export interface MaaVerifyResult {
  /** Every check made, passed or failed. The token is good only if all passed. */
  readonly checks: readonly Check[];
  /** The JOSE header as sent. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The payload as issued (also when a check failed: look at `checks` first). */
  readonly claims: Claims;
}

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `verifyMaaToken: ${field} ${reason}.`, {
    details: { field },
  });
}

function readOptions(options: MaaVerifyOptions): { now: Date; issuers: readonly string[] } {
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw usage('now', 'is not a valid Date');
  const issuers = options.issuers ?? [];
  if (!Array.isArray(issuers) || issuers.some((i) => typeof i !== 'string'))
    throw usage('issuers', 'is not an array of strings');
  return { now, issuers: issuers.map(normaliseIssuer) };
}

const show = (value: unknown): string => (value === undefined ? 'absent' : JSON.stringify(value));

function checkAlg(header: ParsedToken['header'], checks: CheckList): boolean {
  if (header.alg === MAA_ALGORITHM)
    return checks.pass('maa.alg', `The token is signed with ${MAA_ALGORITHM}.`);
  return checks.fail('maa.alg', `The token's alg is ${show(header.alg)}; only ${MAA_ALGORITHM} is accepted.`);
}

function checkIssuer(iss: unknown, issuers: readonly string[], checks: CheckList): boolean {
  if (typeof iss === 'string' && issuers.includes(normaliseIssuer(iss)))
    return checks.pass('maa.iss', `The issuer ${iss} is trusted.`);
  const trusted =
    issuers.length === 0 ? 'no issuer is trusted (pass issuers)' : `trusted: ${issuers.join(', ')}`;
  return checks.fail('maa.iss', `The token's iss is ${show(iss)}; ${trusted}.`);
}

function checkJku(jku: unknown, iss: unknown, checks: CheckList): boolean {
  const wanted = typeof iss === 'string' ? certsUrlOf(iss) : undefined;
  if (wanted !== undefined && jku === wanted) return checks.pass('maa.jku', `The jku is ${wanted}.`);
  return checks.fail(
    'maa.jku',
    `The token's jku is ${show(jku)}; wanted ${wanted ?? "the issuer's /certs URL"}.`,
  );
}

/** The key set: the one given, or the one fetched from a trusted `jku` (records `maa.jwks`). */
async function keySet(jku: unknown, trusted: boolean, options: MaaVerifyOptions, checks: CheckList) {
  if (options.jwks !== undefined) return parseJwks(options.jwks, 'jwks');
  if (!trusted || typeof jku !== 'string') {
    checks.fail('maa.jwks', 'Signing keys were not fetched: the token names no trusted issuer and jku.');
    return undefined;
  }
  try {
    const jwks = parseJwks(await (options.fetchJwks ?? fetchJwksOverHttp)(jku), jku);
    checks.pass('maa.jwks', `Signing keys fetched from ${jku}.`);
    return jwks;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    checks.fail('maa.jwks', `Signing keys could not be fetched from ${jku}: ${reason}`);
    return undefined;
  }
}

/** Finds the key `kid` names (records `maa.kid`), then resolves it (`maa.key`, `maa.x5c*`). */
function keyFor(kid: unknown, jwks: MaaJwks, now: Date, checks: CheckList): KeyObject | undefined {
  const found = typeof kid === 'string' ? jwks.keys.filter((k) => k.kid === kid) : [];
  const [jwk] = found;
  if (jwk === undefined || found.length > 1) {
    const why = found.length > 1 ? `is ambiguous (${found.length} keys carry it)` : 'is not in the key set';
    checks.fail('maa.kid', `The token's kid ${show(kid)} ${why}.`);
    return undefined;
  }
  checks.pass('maa.kid', `The token's kid ${show(kid)} is in the key set.`);
  return resolveSigningKey(jwk, now, checks);
}

async function checkSignature(
  compact: string,
  key: KeyObject | undefined,
  algOk: boolean,
  checks: CheckList,
) {
  if (!algOk)
    return checks.fail('maa.signature', 'The signature was not verified: its algorithm is refused.');
  if (key === undefined)
    return checks.fail('maa.signature', 'The signature was not verified: no usable key.');
  try {
    await compactVerify(compact, key, { algorithms: [MAA_ALGORITHM] });
    return checks.pass('maa.signature', `The ${MAA_ALGORITHM} signature verifies.`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return checks.fail('maa.signature', `The ${MAA_ALGORITHM} signature does not verify: ${reason}.`);
  }
}

/** Records `maa.exp` (now before exp + skew) and `maa.nbf` (now at or after nbf − skew). */
function checkTimes(claims: ParsedToken['payload'], now: Date, checks: CheckList): void {
  const t = now.getTime() / 1000;
  const skew = MAA_CLOCK_SKEW_SECONDS;
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const at = now.toISOString();
  const { exp, nbf } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    checks.fail('maa.exp', `The exp claim is ${show(exp)}.`);
  else if (t < exp + skew) checks.pass('maa.exp', `The token expires at ${iso(exp)}.`);
  else checks.fail('maa.exp', `The token expired at ${iso(exp)}; the time is ${at}.`);
  if (typeof nbf !== 'number' || !Number.isFinite(nbf))
    checks.fail('maa.nbf', `The nbf claim is ${show(nbf)}.`);
  else if (t >= nbf - skew) checks.pass('maa.nbf', `The token is valid from ${iso(nbf)}.`);
  else checks.fail('maa.nbf', `The token is not valid before ${iso(nbf)}; the time is ${at}.`);
}

/**
 * Verifies a Microsoft Azure Attestation token: RS256 only (`maa.alg`), an allow-listed issuer
 * (`maa.iss`), a `jku` equal to that issuer's `/certs` (`maa.jku`), the signing key by `kid` from
 * the given or fetched key set (`maa.jwks`, `maa.kid`, `maa.key`, `maa.x5c`, `maa.x5c.validity`),
 * the signature (`maa.signature`) and `exp`/`nbf` within {@link MAA_CLOCK_SKEW_SECONDS}
 * (`maa.exp`, `maa.nbf`). Every check runs; keys are fetched only for a trusted issuer.
 * Throws `ERR_ATTEST_MALFORMED` naming the part for a token that cannot be parsed, or the field
 * for a malformed `jwks`; `ERR_USAGE_INVALID` for bad options.
 */
export async function verifyMaaToken(
  token: string,
  options: MaaVerifyOptions = {},
): Promise<MaaVerifyResult> {
  const parsed = parseToken(token);
  const { now, issuers } = readOptions(options);
  const { header, payload } = parsed;
  const checks = new CheckList();
  const algOk = checkAlg(header, checks);
  const issOk = checkIssuer(payload.iss, issuers, checks);
  const jkuOk = checkJku(header.jku, payload.iss, checks);
  const jwks = await keySet(header.jku, issOk && jkuOk, options, checks);
  const key = jwks === undefined ? undefined : keyFor(header.kid, jwks, now, checks);
  await checkSignature(parsed.compact, key, algOk, checks);
  checkTimes(payload, now, checks);
  return { checks: checks.all, header, claims: payload as Claims };
}
