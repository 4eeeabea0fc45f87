import type { Claims, ClaimValue } from '../attest/index.js';
import { compare, lookupClaim, normaliseAuthority } from './internal/compare.js';
import {
  type Condition,
  type ConditionValue,
  conditionParts,
  groupOf,
  isClaimCondition,
  type Operator,
  type ReleasePolicy,
} from './release-policy.js';

/** Options for {@link evaluatePolicy}. */
export interface EvaluatePolicyOptions {
  /**
   * The issuer of the verified token the claims come from. A rule applies only when its
   * `authority` equals this (trailing slashes, scheme and host case ignored). Without it no rule
   * applies and the decision is a denial that says so.
   */
  readonly authority?: string;
}

interface NodeBase {
  /** Where the node is in the policy, e.g. `anyOf[1].allOf[0]`. */
  readonly path: string;
  readonly passed: boolean;
  /** Why, in one phrase for people. */
  readonly reason: string;
}

/** One top-level rule: did its authority match, and do its conditions hold. */
export interface AuthorityNode extends NodeBase {
  readonly kind: 'authority';
  readonly authority: string;
  readonly authorityMatched: boolean;
  /** How the rule combines its conditions. */
  readonly combinator: 'allOf' | 'anyOf';
  /** Whether the conditions hold, whatever the authority. */
  readonly conditionsPassed: boolean;
  readonly children: readonly ExplainNode[];
}

/** A nested `allOf` / `anyOf`. */
export interface GroupNode extends NodeBase {
  readonly kind: 'allOf' | 'anyOf';
  readonly children: readonly ExplainNode[];
}

/** One claim condition, with the value found (absent when the claim is missing). */
export interface ClaimNode extends NodeBase {
  readonly kind: 'claim';
  readonly claim: string;
  readonly operator: Operator;
  readonly wanted: ConditionValue;
  readonly present: boolean;
  readonly found?: ClaimValue;
}

/** A node of the explanation tree. */
export type ExplainNode = AuthorityNode | GroupNode | ClaimNode;

/** The outcome of {@link evaluatePolicy}. */
export interface PolicyDecision {
  readonly allowed: boolean;
  /** The token issuer the rules were matched against, as given. */
  readonly authority?: string;
  /** The index in the policy's `anyOf` of the first rule that held, when allowed. */
  readonly matchedRule?: number;
  /** One {@link AuthorityNode} per rule, in policy order, each with every condition evaluated. */
  readonly explanation: readonly ExplainNode[];
}

function evaluateCondition(condition: Condition, claims: Claims, path: string): ExplainNode {
  if (isClaimCondition(condition)) {
    const parts = conditionParts(condition);
    const r = compare(parts, lookupClaim(claims, parts.claim));
    const { claim, operator, value: wanted } = parts;
    const found = r.found === undefined ? {} : { found: r.found };
    return {
      kind: 'claim',
      path,
      claim,
      operator,
      wanted,
      passed: r.passed,
      present: r.present,
      reason: r.reason,
      ...found,
    };
  }
  const { kind, conditions } = groupOf(condition);
  const children = conditions.map((c, i) => evaluateCondition(c, claims, `${path}.${kind}[${i}]`));
  return { kind, path, children, ...groupVerdict(kind, children) };
}

function groupVerdict(kind: 'allOf' | 'anyOf', children: readonly ExplainNode[]) {
  const held = children.filter((c) => c.passed).length;
  const n = children.length;
  // An empty group never holds: parsing refuses one, and a policy built in code must not release on it.
  if (n === 0) return { passed: false, reason: 'an empty group holds nothing' };
  if (kind === 'allOf')
    return held === n
      ? { passed: true, reason: `all ${n} hold` }
      : { passed: false, reason: `${n - held} of ${n} fail` };
  return held > 0
    ? { passed: true, reason: `${held} of ${n} hold` }
    : { passed: false, reason: `none of ${n} holds` };
}

function authorityReason(matched: boolean, authority: string | undefined, conditions: boolean): string {
  const holds = conditions ? 'its conditions hold' : 'its conditions fail';
  if (matched) return `the token issuer matches; ${holds}`;
  if (authority === undefined) return `no token issuer was given, so this authority cannot match (${holds})`;
  return `the token was issued by ${authority}, not by this authority (${holds})`;
}

/**
 * Evaluates a release policy against claims in MAA's names (dotted paths such as
 * `x-ms-isolation-tee.x-ms-attestation-type`). The key may be released when some rule's
 * authority equals the token issuer and its conditions hold. Every condition of every rule is
 * evaluated and explained, passed or failed and why. Pure: no I/O, no clock.
 */
export function evaluatePolicy(
  policy: ReleasePolicy,
  claims: Claims,
  options: EvaluatePolicyOptions = {},
): PolicyDecision {
  const issuer = options.authority === undefined ? undefined : normaliseAuthority(options.authority);
  const explanation = policy.anyOf.map((rule, i): AuthorityNode => {
    const path = `anyOf[${i}]`;
    const { kind, conditions } = groupOf(rule);
    const children = conditions.map((c, j) => evaluateCondition(c, claims, `${path}.${kind}[${j}]`));
    const conditionsPassed = groupVerdict(kind, children).passed;
    const authorityMatched = issuer !== undefined && normaliseAuthority(rule.authority) === issuer;
    const reason = authorityReason(authorityMatched, options.authority, conditionsPassed);
    const passed = authorityMatched && conditionsPassed;
    const { authority } = rule;
    return {
      kind: 'authority',
      path,
      authority,
      authorityMatched,
      combinator: kind,
      conditionsPassed,
      passed,
      reason,
      children,
    };
  });
  const matchedRule = explanation.findIndex((n) => n.passed);
  return {
    allowed: matchedRule >= 0,
    ...(options.authority === undefined ? {} : { authority: options.authority }),
    ...(matchedRule >= 0 ? { matchedRule } : {}),
    explanation,
  };
}
