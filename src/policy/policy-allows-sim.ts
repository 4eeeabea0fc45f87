import { CLAIM } from '../attest/index.js';
import {
  type AuthorityRule,
  type Condition,
  conditionParts,
  groupOf,
  isClaimCondition,
  type ReleasePolicy,
} from './release-policy.js';

const TYPE_CLAIMS: readonly string[] = [
  CLAIM.attestationType,
  `${CLAIM.isolationTee}.${CLAIM.attestationType}`,
];

function mentionsSim(condition: Condition): boolean {
  if (!isClaimCondition(condition)) return groupOf(condition).conditions.some(mentionsSim);
  const { claim, operator, value } = conditionParts(condition);
  return operator === 'equals' && value === 'sim' && TYPE_CLAIMS.includes(claim);
}

/**
 * True when the policy admits simulated evidence on purpose: some rule has a condition
 * `x-ms-attestation-type` or `x-ms-isolation-tee.x-ms-attestation-type` `equals` `sim`. The broker
 * releases to `sim` evidence only when this is true and it was started with `--allow-simulated`.
 */
export function policyAllowsSim(policy: ReleasePolicy): boolean {
  return policy.anyOf.some((rule) => groupOf(rule).conditions.some(mentionsSim));
}

/** True when every way of satisfying `node` passes through a `sim` attestation-type condition. */
function requiresSim(node: Condition | AuthorityRule): boolean {
  if (!('authority' in node) && isClaimCondition(node)) return mentionsSim(node);
  const group = groupOf(node);
  if (group.kind === 'allOf') return group.conditions.some(requiresSim);
  return group.conditions.length > 0 && group.conditions.every(requiresSim);
}

/**
 * The policy cut down to the rules that cannot be satisfied without the attestation type being
 * `sim` (a mandatory `equals "sim"` on every path). A simulated token may be released only through
 * one of these, so a `sim` condition written for another rule or authority admits nothing here.
 * `undefined` when no rule requires `sim`.
 */
export function simOnlyPolicy(policy: ReleasePolicy): ReleasePolicy | undefined {
  const rules = policy.anyOf.filter(requiresSim);
  return rules.length === 0 ? undefined : { ...policy, anyOf: rules };
}
