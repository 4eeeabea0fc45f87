/**
 * The types of a release policy in Azure Key Vault's Secure Key Release grammar. A parsed policy
 * is plain JSON in the same shape Key Vault stores, so it can be written back unchanged.
 */

/** The only grammar version Key Vault defines. */
export const POLICY_VERSION = '1.0.0';

/** The operators a claim condition may use, exactly one per condition. */
export const OPERATORS = [
  'equals',
  'notEquals',
  'less',
  'lessOrEquals',
  'greater',
  'greaterOrEquals',
  'exists',
] as const;

/** A claim comparison operator. */
export type Operator = (typeof OPERATORS)[number];

/** The value a condition compares with: a JSON string, number or boolean (never an object or array). */
export type ConditionValue = string | number | boolean;

/** `{ claim, <operator>: value }`: `less…`/`greater…` take numbers, `exists` a boolean. */
export type ClaimCondition = { readonly claim: string } & (
  | { readonly equals: ConditionValue }
  | { readonly notEquals: ConditionValue }
  | { readonly less: number }
  | { readonly lessOrEquals: number }
  | { readonly greater: number }
  | { readonly greaterOrEquals: number }
  | { readonly exists: boolean }
);

/** True when every listed condition holds (AND). */
export interface AllOfCondition {
  readonly allOf: readonly Condition[];
}

/** True when at least one listed condition holds (OR). */
export interface AnyOfCondition {
  readonly anyOf: readonly Condition[];
}

/** A claim condition or a nested `allOf` / `anyOf`. */
export type Condition = ClaimCondition | AllOfCondition | AnyOfCondition;

/** One top-level rule: the token's issuer must be `authority`, and its `allOf` or `anyOf` must hold. */
export type AuthorityRule = { readonly authority: string } & (
  | { readonly allOf: readonly Condition[] }
  | { readonly anyOf: readonly Condition[] }
);

/** A release policy: the key is released when any one rule holds. */
export interface ReleasePolicy {
  readonly version: typeof POLICY_VERSION;
  readonly anyOf: readonly AuthorityRule[];
}

/** A claim condition taken apart into its operator and value. */
export interface ConditionParts {
  readonly claim: string;
  readonly operator: Operator;
  readonly value: ConditionValue;
}

/** The operator and value of a parsed claim condition. */
export function conditionParts(condition: ClaimCondition): ConditionParts {
  const record = condition as unknown as Readonly<Record<string, ConditionValue>>;
  for (const operator of OPERATORS) {
    const value = record[operator];
    if (value !== undefined) return { claim: condition.claim, operator, value };
  }
  throw new TypeError(`conditionParts: the condition on ${condition.claim} has no operator.`);
}

/** True for a claim condition, false for `allOf` / `anyOf`. */
export function isClaimCondition(condition: Condition): condition is ClaimCondition {
  return 'claim' in condition;
}

/** The conditions of an `allOf` / `anyOf` node and which combinator it is. */
export function groupOf(node: AllOfCondition | AnyOfCondition | AuthorityRule): {
  readonly kind: 'allOf' | 'anyOf';
  readonly conditions: readonly Condition[];
} {
  return 'allOf' in node
    ? { kind: 'allOf', conditions: node.allOf }
    : { kind: 'anyOf', conditions: node.anyOf };
}
