import { randomBytes } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';

/** How long an issued nonce stays valid by default, in milliseconds. */
export const NONCE_TTL_MS = 120_000;

/** How many unconsumed nonces a store holds by default. */
export const NONCE_STORE_MAX = 10_000;

/** The size of an issued nonce in bytes (it is sent as 43 characters of base64url). */
export const NONCE_BYTES = 32;

/** Outstanding nonces one principal may hold at once. */
export const NONCE_MAX_PER_OWNER = 64;

/**
 * Single-use, short-lived attestation challenges. A nonce is accepted by {@link NonceStore.consume}
 * at most once, and only within its lifetime; memory stays bounded.
 */
export interface NonceStore {
  /**
   * Issues a fresh nonce (base64url, {@link NONCE_BYTES} random bytes). Expired nonces are evicted
   * first; when the store still holds `max` live nonces it refuses (`ERR_BROKER_REQUEST`) rather
   * than grow or drop a nonce some workload is still using.
   */
  issue(owner?: string): string;
  /**
   * True when `nonce` was issued by this store, has not been consumed and has not expired. The
   * nonce is spent either way: a second call with the same value is false.
   */
  consume(nonce: string): boolean;
  /**
   * What the store knows of `nonce`, without spending it: `live`, `expired` (issued, not used, past
   * its lifetime), `spent` (already consumed; remembered for a bounded while, for error messages
   * only) or `unknown`. Security never depends on it: {@link NonceStore.consume} decides.
   */
  status(nonce: string): NonceStatus;
  /** How many unconsumed nonces are held (expired ones included until evicted). */
  readonly size: number;
}

/** What a {@link NonceStore} knows of a nonce. */
export type NonceStatus = 'live' | 'expired' | 'spent' | 'unknown';

/** Options for {@link createNonceStore}. */
export interface NonceStoreOptions {
  /** Lifetime of a nonce in milliseconds; default {@link NONCE_TTL_MS}. */
  readonly ttlMs?: number;
  /** The most unconsumed nonces held at once; default {@link NONCE_STORE_MAX}. */
  readonly max?: number;
  /** Outstanding nonces one owner (principal) may hold; default 64, so no one can fill the store. */
  readonly maxPerOwner?: number;
  /** The clock, in milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** The source of randomness; default `crypto.randomBytes`. */
  readonly random?: (size: number) => Uint8Array;
}

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `createNonceStore: ${field} ${reason}.`, {
    details: { field },
  });
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw usage(field, 'is not a positive integer');
  return value;
}

/**
 * Creates an in-memory {@link NonceStore}. Nonces are kept in issue order, so with one lifetime for
 * all, the oldest is the first to expire and eviction only ever looks at the front.
 *
 * Full-store policy: expired nonces are evicted, then a full store refuses to issue. Evicting live
 * nonces instead would let anyone who can ask for nonces invalidate other workloads' challenges;
 * refusing keeps memory bounded and leaves throttling to the caller's per-principal rate limits.
 * Consumed nonces are remembered (at most `max`, oldest dropped first, none past its lifetime) only
 * so that {@link NonceStore.status} can tell a replay from an unknown nonce.
 */
export function createNonceStore(options: NonceStoreOptions = {}): NonceStore {
  const ttl = positiveInteger(options.ttlMs ?? NONCE_TTL_MS, 'ttlMs');
  const max = positiveInteger(options.max ?? NONCE_STORE_MAX, 'max');
  const perOwner = positiveInteger(options.maxPerOwner ?? NONCE_MAX_PER_OWNER, 'maxPerOwner');
  const owners = new Map<string, string>();
  const held = new Map<string, number>();
  const release = (nonce: string): void => {
    const owner = owners.get(nonce);
    if (owner === undefined) return;
    owners.delete(nonce);
    const n = (held.get(owner) ?? 1) - 1;
    if (n <= 0) held.delete(owner);
    else held.set(owner, n);
  };
  const now = options.now ?? Date.now;
  const random = options.random ?? randomBytes;
  const expiries = new Map<string, number>();
  const spent = new Map<string, number>();

  const evictExpired = (at: number): void => {
    for (const [nonce, expires] of expiries) {
      if (expires > at) break;
      expiries.delete(nonce);
      release(nonce);
    }
    for (const [nonce, expires] of spent) {
      if (expires > at && spent.size <= max) break;
      spent.delete(nonce);
    }
  };

  return {
    issue(owner?: string): string {
      const at = now();
      evictExpired(at);
      if (owner !== undefined && (held.get(owner) ?? 0) >= perOwner)
        throw new SealtrainError(
          'ERR_BROKER_REQUEST',
          `Cannot issue an attestation nonce: ${owner} holds ${perOwner} unused ones; use or let them expire first.`,
          { details: { field: 'nonce', reason: 'nonce-store-full', max: perOwner } },
        );
      if (expiries.size >= max)
        throw new SealtrainError(
          'ERR_BROKER_REQUEST',
          `Cannot issue an attestation nonce: ${max} are outstanding; try again when some are used or expire.`,
          { details: { field: 'nonce', reason: 'nonce-store-full', max } },
        );
      const bytes = random(NONCE_BYTES);
      if (!(bytes instanceof Uint8Array) || bytes.length !== NONCE_BYTES)
        throw usage('random', `did not return ${NONCE_BYTES} bytes`);
      const nonce = Buffer.from(bytes).toString('base64url');
      if (expiries.has(nonce)) throw usage('random', 'returned a nonce already outstanding');
      expiries.set(nonce, at + ttl);
      if (owner !== undefined) {
        owners.set(nonce, owner);
        held.set(owner, (held.get(owner) ?? 0) + 1);
      }
      return nonce;
    },
    consume(nonce: string): boolean {
      if (typeof nonce !== 'string') return false;
      const at = now();
      const expires = expiries.get(nonce);
      if (expires === undefined) return false;
      expiries.delete(nonce);
      release(nonce);
      spent.set(nonce, expires);
      evictExpired(at);
      return at < expires;
    },
    status(nonce: string): NonceStatus {
      const expires = expiries.get(nonce);
      if (expires !== undefined) return now() < expires ? 'live' : 'expired';
      return spent.has(nonce) ? 'spent' : 'unknown';
    },
    get size(): number {
      return expiries.size;
    },
  };
}
