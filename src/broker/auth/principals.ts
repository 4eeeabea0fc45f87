import { createHash, randomBytes } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { BrokerStore } from '../state/broker-store.js';
import { type BrokerDoc, own, type Role, type StoredPrincipal } from '../state/state-model.js';

/** Default token lifetime: 30 days. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 86_400;
/** Longest token lifetime: 1 year. */
export const MAX_TOKEN_TTL_SECONDS = 365 * 86_400;
/** Every broker token starts with this, so a leaked one is easy to find with a secret scanner. */
export const TOKEN_PREFIX = 'stbk_';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Options for {@link addPrincipal}. */
export interface AddPrincipalOptions {
  /** Token lifetime in seconds (1 … 1 year); default 30 days. */
  readonly ttlSeconds?: number;
  /** The clock; default now. */
  readonly now?: () => Date;
}

/** A principal as listed: everything but the token hash. */
export interface PrincipalInfo {
  readonly name: string;
  readonly role: Role;
  readonly created: string;
  readonly expires: string;
  readonly status: 'active' | 'expired' | 'revoked';
}

/** Hex SHA-256 of a bearer token, as stored. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function usage(message: string, details: Record<string, string>): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', message, { details });
}

function checkName(name: string): void {
  if (!NAME.test(name))
    throw usage(`The principal name "${name}" is not 1-64 letters, digits, ".", "_", "@" or "-".`, { name });
}

/**
 * Adds principal `name` with `role` and returns its bearer token, which is shown once: only its
 * SHA-256 is stored.
 *
 * @throws {SealtrainError} `ERR_USAGE_INVALID` for a bad name, role or lifetime, or a name in use.
 */
export async function addPrincipal(
  store: BrokerStore,
  principal: { readonly name: string; readonly role: Role },
  options: AddPrincipalOptions = {},
): Promise<{ principal: PrincipalInfo; token: string }> {
  const { name, role } = principal;
  checkName(name);
  if (role !== 'owner' && role !== 'workload')
    throw usage(`The role "${String(role)}" is not owner or workload.`, { role });
  const ttl = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS)
    throw usage(`The token lifetime must be 1 to ${MAX_TOKEN_TTL_SECONDS} seconds, not ${ttl}.`, {
      ttl: String(ttl),
    });
  const now = Math.floor((options.now ?? (() => new Date()))().getTime() / 1000);
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const stored: StoredPrincipal = {
    name,
    role,
    tokenHash: tokenHash(token),
    created: now,
    expires: now + ttl,
  };
  await store.update((doc) => {
    const existing = own(doc.principals, name);
    if (existing && existing.revoked === undefined)
      throw usage(`A principal named "${name}" exists; revoke it first or pick another name.`, { name });
    return { doc: { ...doc, principals: { ...doc.principals, [name]: stored } }, result: undefined };
  });
  return { principal: infoOf(stored, now), token };
}

/** Every principal, by name, with its status at `now`. */
export async function listPrincipals(
  store: BrokerStore,
  options: { now?: () => Date } = {},
): Promise<PrincipalInfo[]> {
  const now = Math.floor((options.now ?? (() => new Date()))().getTime() / 1000);
  const doc = await store.read();
  return Object.values(doc.principals)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => infoOf(p, now));
}

/** Revokes principal `name`: its token stops working at once. `ERR_USAGE_INVALID` when unknown. */
export async function revokePrincipal(
  store: BrokerStore,
  name: string,
  options: { now?: () => Date } = {},
): Promise<PrincipalInfo> {
  const now = Math.floor((options.now ?? (() => new Date()))().getTime() / 1000);
  return store.update((doc) => {
    const existing = own(doc.principals, name);
    if (!existing) throw usage(`There is no principal named "${name}".`, { name });
    const revoked: StoredPrincipal = { ...existing, revoked: existing.revoked ?? now };
    return {
      doc: { ...doc, principals: { ...doc.principals, [name]: revoked } },
      result: infoOf(revoked, now),
    };
  });
}

function infoOf(p: StoredPrincipal, now: number): PrincipalInfo {
  const status = p.revoked !== undefined ? 'revoked' : p.expires <= now ? 'expired' : 'active';
  return {
    name: p.name,
    role: p.role,
    created: new Date(p.created * 1000).toISOString(),
    expires: new Date(p.expires * 1000).toISOString(),
    status,
  };
}

function authError(reason: string, message: string): SealtrainError {
  return new SealtrainError('ERR_BROKER_AUTH', message, { details: { reason } });
}

/**
 * The principal a bearer token belongs to at `now` (seconds). Throws `ERR_BROKER_AUTH` with
 * `details.reason` `unauthenticated` (no or unknown token), `token-expired` or `token-revoked`.
 */
export function authenticate(doc: BrokerDoc, token: string | undefined, now: number): StoredPrincipal {
  if (token === undefined) throw authError('unauthenticated', 'The request has no bearer token.');
  const hash = tokenHash(token);
  const found = Object.values(doc.principals).find((p) => p.tokenHash === hash);
  if (!found) throw authError('unauthenticated', 'The bearer token is not one this broker issued.');
  if (found.revoked !== undefined)
    throw authError('token-revoked', `The token of principal "${found.name}" was revoked.`);
  if (found.expires <= now)
    throw authError('token-expired', `The token of principal "${found.name}" has expired.`);
  return found;
}
