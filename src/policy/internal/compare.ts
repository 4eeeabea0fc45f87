import type { Claims, ClaimValue } from '../../attest/index.js';
import type { ConditionParts } from '../release-policy.js';

/** What one claim condition concluded. */
export interface Comparison {
  readonly passed: boolean;
  readonly present: boolean;
  readonly found?: ClaimValue;
  readonly reason: string;
}

/**
 * The claim at a dotted path, like `claimAt` from `attest/`, but reading own properties only, so
 * a claim named `constructor` or `__proto__` is absent rather than something inherited.
 */
export function lookupClaim(claims: Claims, path: string): ClaimValue | undefined {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value as ClaimValue;
}

const show = (value: unknown): string => JSON.stringify(value);

function kindOf(value: ClaimValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const NUMERIC = {
  less: (a: number, b: number) => a < b,
  lessOrEquals: (a: number, b: number) => a <= b,
  greater: (a: number, b: number) => a > b,
  greaterOrEquals: (a: number, b: number) => a >= b,
} as const;

function compareExists(want: boolean, found: ClaimValue | undefined): Comparison {
  const present = found !== undefined;
  const seen = present ? `present (${show(found)})` : 'absent';
  const base = {
    passed: present === want,
    present,
    reason: `${seen}; wanted ${want ? 'present' : 'absent'}`,
  };
  return present ? { ...base, found } : base;
}

/**
 * Applies one condition to a claim value. Missing claims fail (except `exists: false`), as in Key
 * Vault. Values of another JSON type fail rather than being converted; strings compare exactly
 * (case-sensitive); objects and arrays never compare.
 */
export function compare(parts: ConditionParts, found: ClaimValue | undefined): Comparison {
  const { operator, value: want } = parts;
  if (operator === 'exists') return compareExists(want === true, found);
  const wanted = `wanted ${operator} ${show(want)}`;
  if (found === undefined) return { passed: false, present: false, reason: `absent; ${wanted}` };
  const fail = (why: string): Comparison => ({
    passed: false,
    present: true,
    found,
    reason: `${why}; ${wanted}`,
  });
  if (found === null || typeof found === 'object') return fail(`${kindOf(found)}, which does not compare`);
  if (typeof found !== typeof want) return fail(`${kindOf(found)} (${show(found)}), not ${kindOf(want)}`);
  let passed: boolean;
  if (operator === 'equals') passed = found === want;
  else if (operator === 'notEquals') passed = found !== want;
  else passed = NUMERIC[operator](found as number, want as number);
  return { passed, present: true, found, reason: `found ${show(found)}; ${wanted}` };
}

/** An issuer URL as compared: trailing slashes dropped, scheme and host in lower case. */
export function normaliseAuthority(authority: string): string {
  const trimmed = authority.trim().replace(/\/+$/, '');
  try {
    const url = new URL(trimmed);
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return trimmed;
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return trimmed;
  }
}
