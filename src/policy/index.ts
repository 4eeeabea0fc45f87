/**
 * Release policies in Azure Key Vault's Secure Key Release grammar: parse and validate them with
 * errors that name the JSON path, evaluate them against attestation claims with an explanation
 * of every condition, generate one from verified evidence, and tell whether one admits the
 * simulated attester. Pure: no I/O. `docs/policy.md` describes the grammar and the semantics.
 *
 * @module
 */
export {
  type AuthorityNode,
  type ClaimNode,
  type EvaluatePolicyOptions,
  type ExplainNode,
  evaluatePolicy,
  type GroupNode,
  type PolicyDecision,
} from './evaluate-policy.js';
export { type ExplainTextOptions, explainText, failedConditions } from './explain-text.js';
export { type GeneratePolicyOptions, generatePolicy } from './generate-policy.js';
export {
  POLICY_LIMITS,
  parseReleasePolicy,
  type ValidatedReleasePolicy,
  validateReleasePolicy,
} from './parse-release-policy.js';
export { policyAllowsSim, simOnlyPolicy } from './policy-allows-sim.js';
export {
  type AllOfCondition,
  type AnyOfCondition,
  type AuthorityRule,
  type ClaimCondition,
  type Condition,
  type ConditionParts,
  type ConditionValue,
  conditionParts,
  groupOf,
  isClaimCondition,
  OPERATORS,
  type Operator,
  POLICY_VERSION,
  type ReleasePolicy,
} from './release-policy.js';
