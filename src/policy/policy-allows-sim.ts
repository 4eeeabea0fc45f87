import { CLAIM } from '../attest/index.js';
import {
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
