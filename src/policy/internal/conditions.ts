import type { ClaimCondition, Condition, ConditionValue, Operator } from '../release-policy.js';
import {
  at,
  conditionArray,
  isObject,
  LIMITS,
  operatorsIn,
  typeName,
  unknownFields,
  type Walk,
} from './walk.js';

function checkClaimName(walk: Walk, path: string, claim: unknown): claim is string {
  if (typeof claim !== 'string') {
    walk.add(path, `must be a claim name (a string), not ${typeName(claim)}`);
    return false;
  }
  if (claim.length === 0 || claim.length > LIMITS.claim) {
    walk.add(path, `must be 1 to ${LIMITS.claim} characters, not ${claim.length}`);
    return false;
  }
  if (claim.split('.').some((part) => part.length === 0)) {
    walk.add(path, `"${claim}" has an empty part: dotted claim names look like a.b.c`);
    return false;
  }
  return true;
}

function checkValue(walk: Walk, path: string, operator: Operator, value: unknown): value is ConditionValue {
  if (operator === 'exists') {
    if (typeof value === 'boolean') return true;
    walk.add(path, `must be true or false, not ${typeName(value)}`);
    return false;
  }
  if (operator !== 'equals' && operator !== 'notEquals') {
    if (typeof value === 'number' && Number.isFinite(value)) return true;
    walk.add(path, `must be a number (${operator} compares numbers), not ${typeName(value)}`);
    return false;
  }
  if (typeof value === 'boolean') return true;
  if (typeof value === 'number' && Number.isFinite(value)) return true;
  if (typeof value === 'string') {
    if (value.length <= LIMITS.value) return true;
    walk.add(path, `is ${value.length} characters, over the limit of ${LIMITS.value}`);
    return false;
  }
  walk.add(path, `must be a string, number or boolean, not ${typeName(value)}`);
  return false;
}

function claimCondition(
  walk: Walk,
  path: string,
  node: Readonly<Record<string, unknown>>,
): ClaimCondition | undefined {
  const operators = operatorsIn(node);
  unknownFields(walk, path, node, ['claim', ...operators]);
  const nameOk = checkClaimName(walk, at(path, 'claim'), node.claim);
  const [operator, second] = operators;
  if (operator === undefined) {
    walk.add(
      path,
      `has no operator: add one of equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists`,
    );
    return undefined;
  }
  if (second !== undefined) {
    walk.add(
      path,
      `has ${operators.length} operators (${operators.join(', ')}); a condition takes exactly one`,
    );
    return undefined;
  }
  const value = node[operator];
  if (!checkValue(walk, at(path, operator), operator, value) || !nameOk) return undefined;
  return { claim: node.claim as string, [operator]: value } as unknown as ClaimCondition;
}

/** Parses the conditions of an `allOf` / `anyOf` at `path`, nested `depth` levels deep. */
export function conditionList(
  walk: Walk,
  path: string,
  value: unknown,
  depth: number,
): Condition[] | undefined {
  if (depth > LIMITS.depth) {
    walk.add(path, `nests allOf/anyOf deeper than ${LIMITS.depth} levels`);
    return undefined;
  }
  const items = conditionArray(walk, path, value);
  if (items === undefined) return undefined;
  const out: Condition[] = [];
  items.forEach((item, i) => {
    if (walk.full) return;
    const parsed = condition(walk, `${path}[${i}]`, item, depth);
    if (parsed !== undefined) out.push(parsed);
  });
  return out.length === items.length ? out : undefined;
}

/** Parses one condition: a claim condition, or a nested `allOf` / `anyOf`. */
function condition(walk: Walk, path: string, value: unknown, depth: number): Condition | undefined {
  walk.conditions += 1;
  if (walk.conditions === LIMITS.conditions + 1)
    walk.add(path, `is past the limit of ${LIMITS.conditions} conditions in one policy`);
  if (walk.conditions > LIMITS.conditions) return undefined;
  if (!isObject(value)) {
    walk.add(path, `must be a condition object, not ${typeName(value)}`);
    return undefined;
  }
  const groups = ['allOf', 'anyOf'].filter((k) => Object.hasOwn(value, k));
  if (Object.hasOwn(value, 'claim')) {
    if (groups.length > 0) walk.add(path, `mixes claim with ${groups.join(' and ')}; nest them instead`);
    return groups.length > 0 ? undefined : claimCondition(walk, path, value);
  }
  const [kind, other] = groups;
  if (kind === undefined) {
    unknownFields(walk, path, value, []);
    walk.add(path, 'is not a condition: it needs claim, allOf or anyOf');
    return undefined;
  }
  if (other !== undefined) {
    walk.add(path, 'has both allOf and anyOf; nest one inside the other instead');
    return undefined;
  }
  unknownFields(walk, path, value, [kind]);
  const list = conditionList(walk, at(path, kind), value[kind], depth + 1);
  return list === undefined ? undefined : ({ [kind]: list } as unknown as Condition);
}
