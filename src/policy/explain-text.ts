import type { AuthorityNode, ExplainNode, PolicyDecision } from './evaluate-policy.js';

/** Options for {@link explainText}. */
export interface ExplainTextOptions {
  /** Also list the conditions of rules whose authority did not match; default false. */
  readonly verbose?: boolean;
}

const mark = (passed: boolean): string => (passed ? 'ok  ' : 'FAIL');

function ruleLine(node: AuthorityNode): string {
  return `${mark(node.passed)} ${node.path} authority ${node.authority} (${node.combinator}): ${node.reason}`;
}

function lines(node: ExplainNode, indent: string, out: string[]): void {
  if (node.kind === 'claim') {
    out.push(`${indent}${mark(node.passed)} ${node.claim}: ${node.reason}`);
    return;
  }
  out.push(
    `${indent}${node.kind === 'authority' ? ruleLine(node) : `${mark(node.passed)} ${node.kind}: ${node.reason}`}`,
  );
  for (const child of node.children) lines(child, `${indent}  `, out);
}

function headline(decision: PolicyDecision): string {
  const issuer =
    decision.authority === undefined ? 'no token issuer given' : `token issuer ${decision.authority}`;
  if (decision.allowed) return `ALLOWED by anyOf[${decision.matchedRule}] (${issuer}).`;
  const matching = decision.explanation.filter((n) => n.kind === 'authority' && n.authorityMatched).length;
  const why = matching === 0 ? 'no rule names the token issuer as its authority' : 'no rule holds';
  return `DENIED: ${why} (${issuer}).`;
}

/**
 * A decision for people: a headline (ALLOWED or DENIED and why), then each rule with its
 * authority, and under the rules whose authority matched, every condition passed or failed with
 * the value found and the value wanted.
 */
export function explainText(decision: PolicyDecision, options: ExplainTextOptions = {}): string {
  const out = [headline(decision)];
  for (const node of decision.explanation) {
    if (node.kind === 'authority' && !node.authorityMatched && !options.verbose)
      out.push(`  ${ruleLine(node)}`);
    else lines(node, '  ', out);
  }
  return out.join('\n');
}

function collectFailed(node: ExplainNode, out: ExplainNode[]): void {
  if (node.passed) return;
  if (node.kind === 'claim') out.push(node);
  else for (const child of node.children) collectFailed(child, out);
}

/**
 * Why a decision is a denial, as the nodes to name: the failed claim conditions of the rules
 * whose authority matched, or, when no authority matched, the rules themselves. Empty when allowed.
 */
export function failedConditions(decision: PolicyDecision): readonly ExplainNode[] {
  if (decision.allowed) return [];
  const rules = decision.explanation.filter((n): n is AuthorityNode => n.kind === 'authority');
  const matched = rules.filter((n) => n.authorityMatched);
  if (matched.length === 0) return rules;
  const out: ExplainNode[] = [];
  for (const rule of matched) for (const child of rule.children) collectFailed(child, out);
  return out;
}
