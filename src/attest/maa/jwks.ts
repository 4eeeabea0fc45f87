import { SealtrainError } from '../../errors/index.js';

/** The largest JWKS document sealtrain reads, in bytes. */
export const MAX_JWKS_BYTES = 1024 * 1024;

/** How long the default fetcher waits for an issuer's `/certs`, in milliseconds. */
export const JWKS_FETCH_TIMEOUT_MS = 10_000;

/**
 * One public key from an MAA `/certs` document. MAA publishes RSA signing keys as `x5c` only
 * (a self-signed certificate per key); a key may also carry `n`/`e`.
 */
export interface MaaJwk {
  readonly kty: string;
  readonly kid?: string;
  readonly use?: string;
  readonly alg?: string;
  readonly n?: string;
  readonly e?: string;
  /** Standard base64 DER certificates, signing certificate first. */
  readonly x5c?: readonly string[];
}

/** A JSON Web Key Set as MAA serves it at `<issuer>/certs`. */
export interface MaaJwks {
  readonly keys: readonly MaaJwk[];
}

/**
 * Fetches the JWKS at `url`. It must resolve to the parsed JSON document or reject; the result is
 * validated by {@link parseJwks}, so a fetcher need not check its shape.
 */
export type JwksFetcher = (url: string) => Promise<unknown>;

/** An `ERR_ATTEST_MALFORMED` naming the source and the field (`keys[0].x5c`; `jwks` for the whole). */
function malformed(source: string, field: string | undefined, reason: string): SealtrainError {
  const what = field === undefined ? `JWKS ${source}` : `JWKS ${source}: ${field}`;
  return new SealtrainError('ERR_ATTEST_MALFORMED', `${what} ${reason}.`, {
    details: { source, field: field ?? 'jwks' },
  });
}

const STRING_FIELDS = ['kty', 'kid', 'use', 'alg', 'n', 'e'] as const;

function parseKey(value: unknown, source: string, field: string): MaaJwk {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw malformed(source, field, 'is not an object');
  const key = value as Record<string, unknown>;
  for (const name of STRING_FIELDS)
    if (key[name] !== undefined && typeof key[name] !== 'string')
      throw malformed(source, `${field}.${name}`, 'is not a string');
  if (typeof key.kty !== 'string') throw malformed(source, `${field}.kty`, 'is missing');
  const x5c = key.x5c;
  if (x5c !== undefined && (!Array.isArray(x5c) || x5c.some((c) => typeof c !== 'string')))
    throw malformed(source, `${field}.x5c`, 'is not an array of strings');
  return key as unknown as MaaJwk;
}

/**
 * Checks that `value` is a JWKS (`{ keys: [ { kty, kid?, n?, e?, x5c? } ] }` with the right types)
 * and returns it. Throws `ERR_ATTEST_MALFORMED` naming `source` and the field. Private members
 * are never read.
 */
export function parseJwks(value: unknown, source = 'jwks'): MaaJwks {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw malformed(source, undefined, 'is not a JSON object');
  const keys = (value as Record<string, unknown>).keys;
  if (!Array.isArray(keys)) throw malformed(source, 'keys', 'is not an array');
  return { keys: keys.map((key, i) => parseKey(key, source, `keys[${i}]`)) };
}

/**
 * The default {@link JwksFetcher}: an HTTPS GET with the global `fetch`, no redirects, a
 * {@link JWKS_FETCH_TIMEOUT_MS} timeout and a {@link MAX_JWKS_BYTES} limit. `verifyMaaToken` only
 * calls it for the `/certs` URL of an allow-listed issuer.
 */
export async function fetchJwksOverHttp(url: string): Promise<unknown> {
  const response = await fetch(url, {
    redirect: 'error',
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_JWKS_BYTES) throw new Error(`GET ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
  const text = await response.text();
  if (Buffer.byteLength(text) > MAX_JWKS_BYTES)
    throw new Error(`GET ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
  return JSON.parse(text) as unknown;
}
