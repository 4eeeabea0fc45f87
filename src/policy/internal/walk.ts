import { OPERATORS, type Operator } from '../release-policy.js';

/** Size limits, so a hostile policy cannot exhaust memory or the stack. */
export const LIMITS = {
  /** Bytes of policy JSON (when given as text or bytes). */
  bytes: 64 * 1024,
  /** Top-level authority rules. */
  rules: 64,
  /** Entries in any one `allOf` / `anyOf`. */
  items: 64,
  /** Conditions of every kind in the whole policy. */
  conditions: 1024,
  /** Levels of `allOf` / `anyOf` under a rule, the rule's own counting as 1. */
  depth: 8,
  /** Characters of a claim name. */
  claim: 256,
  /** Characters of a string value. */
  value: 1024,
  /** Characters of an authority URL. */
  authority: 512,
  /** Problems reported before giving up. */
  problems: 20,
} as const;

/** One thing wrong with a policy, at a JSON path such as `anyOf[0].allOf[1].equals`. */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/** Collects problems and counts conditions while a policy is walked. */
export class Walk {
  readonly problems: Problem[] = [];
  conditions = 0;

  /** Records a problem at `path`. */
  add(path: string, message: string): void {
    if (this.problems.length < LIMITS.problems) this.problems.push({ path, message });
  }

  /** True once the problem list is full: stop walking. */
  get full(): boolean {
    return this.problems.length >= LIMITS.problems;
  }
}

/** `base.key`, or `key` at the top level. */
export const at = (base: string, key: string): string => (base === '' ? key : `${base}.${key}`);

/** A plain JSON object (not an array, not null). */
export { isRecord as isObject } from '../../internal/json-shapes.js';

/** How a JSON value is described in messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const KNOWN = ['version', 'anyOf', 'allOf', 'authority', 'claim', ...OPERATORS];

/** Reports every key of `node` outside `allowed`, suggesting the right spelling of a known field. */
export function unknownFields(
  walk: Walk,
  path: string,
  node: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(node)) {
    if (allowed.includes(key)) continue;
    const known = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase() && k !== key);
    const hint = known === undefined ? '' : ` (field names are case-sensitive: did you mean ${known}?)`;
    const where = KNOWN.includes(key) ? ' here' : '';
    walk.add(at(path, key), `is not a field allowed${where}${hint}`);
  }
}

/** The operators present in a claim condition, in grammar order. */
export function operatorsIn(node: Readonly<Record<string, unknown>>): Operator[] {
  return OPERATORS.filter((op) => Object.hasOwn(node, op));
}

/** Checks an array of conditions: an array, not empty, not too long. Returns it or undefined. */
export function conditionArray(walk: Walk, path: string, value: unknown): readonly unknown[] | undefined {
  if (!Array.isArray(value)) {
    walk.add(path, `must be an array of conditions, not ${typeName(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    walk.add(path, 'must list at least one condition');
    return undefined;
  }
  if (value.length > LIMITS.items) {
    walk.add(path, `lists ${value.length} conditions, over the limit of ${LIMITS.items}`);
    return undefined;
  }
  return value;
}
