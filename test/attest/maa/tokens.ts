/** Test helpers: the MAA fixture and tokens signed with a local key. */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from '../../../src/attest/check.js';

const DATA = new URL('../data/maa/', import.meta.url).pathname;

/** The real MAA token (issued 2025-12-15T19:24:08Z, expires 2025-12-16T03:24:08Z). */
export const FIXTURE_TOKEN = readFileSync(join(DATA, 'attestation.txt'), 'utf8').trim();
/** The JWKS rebuilt around the sharedeus2 signing certificate (x5c only, no n/e). */
export const FIXTURE_JWKS = JSON.parse(readFileSync(join(DATA, 'maa-sharedeus2-jwks.json'), 'utf8')) as {
  keys: { kid: string; kty: string; x5c: string[] }[];
};
export const FIXTURE_ISSUER = 'https://sharedeus2.eus2.attest.azure.net';
/** A time inside the fixture token's window. */
export const FIXTURE_NOW = new Date('2025-12-15T20:00:00Z');

export const failedIds = (checks: readonly Check[]): string[] => checks.filter((c) => !c.ok).map((c) => c.id);
export const allIds = (checks: readonly Check[]): string[] => checks.map((c) => c.id);

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over `header` and `payload`, signed by `signer` (raw bytes in, signature out). */
export function compact(header: object, payload: object, signer: (input: Buffer) => Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

export const rs256 =
  (key: KeyObject) =>
  (input: Buffer): Buffer =>
    sign('sha256', input, key);

export const hs256 =
  (secret: Uint8Array) =>
  (input: Buffer): Buffer =>
    createHmac('sha256', secret).update(input).digest();

/** The fixture's parts decoded. */
export function fixtureParts(): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h = '', p = ''] = FIXTURE_TOKEN.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}

/** A local RSA-2048 signer posing as an MAA instance. */
export const LOCAL_ISSUER = 'https://sealtest.eus2.attest.azure.net';
export const LOCAL_NOW = new Date('2030-01-01T00:00:00Z');
const now = Math.floor(LOCAL_NOW.getTime() / 1000);
export const local = generateKeyPairSync('rsa', { modulusLength: 2048 });
export const localJwk = { ...local.publicKey.export({ format: 'jwk' }), kid: 'local-1' };
export const localJwks = { keys: [localJwk] };
export const localHeader = { alg: 'RS256', jku: `${LOCAL_ISSUER}/certs`, kid: 'local-1', typ: 'JWT' };
export const localPayload = {
  iss: LOCAL_ISSUER,
  iat: now - 60,
  nbf: now - 60,
  exp: now + 3600,
  'x-ms-attestation-type': 'sevsnpvm',
};

/** A token from the local issuer with header and payload fields replaced. */
export function localToken(
  header: object = {},
  payload: object = {},
  key: KeyObject = local.privateKey,
): string {
  return compact({ ...localHeader, ...header }, { ...localPayload, ...payload }, rs256(key));
}
