import type { Graph } from './graph.js';
import type { Resource } from './resource.js';

/** How bad a failed rule is. */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** Severities from the worst down. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** A rule's verdict on one resource. `unknown`: a value it needs could not be resolved. */
export type Status = 'pass' | 'fail' | 'warn' | 'unknown';

/** The IDs other tools give the same control (`—` when they have none). */
export interface OtherTools {
  readonly checkov: string;
  readonly trivy: string;
  readonly kics: string;
  readonly azurePolicy: string;
}

/** What a rule is, for people: the table in docs/scan.md is made from these. */
export interface RuleInfo {
  /** The stable ID (`WS-01`). */
  readonly id: string;
  readonly severity: Severity;
  /** The control, in a few words. */
  readonly title: string;
  /** The resource types it applies to. */
  readonly types: readonly string[];
  /** Why it matters. */
  readonly rationale: string;
  /** What to change. */
  readonly fix: string;
  readonly tools: OtherTools;
}

/** One verdict with its reason; `attr` points the finding at an attribute's line. */
export interface Verdict {
  readonly status: Status;
  readonly message: string;
  readonly attr?: string;
}

/** A rule: its description and its check (undefined when it does not apply to the resource). */
export interface Rule extends RuleInfo {
  check(resource: Resource, graph: Graph): Verdict | undefined;
  /** Runs after every other rule, reading their verdicts (WS-10). */
  readonly late?: boolean;
}

/** The control is met. */
export const pass = (message: string, attr?: string): Verdict => ({
  status: 'pass',
  message,
  ...(attr ? { attr } : {}),
});
/** The control is not met. */
export const fail = (message: string, attr?: string): Verdict => ({
  status: 'fail',
  message,
  ...(attr ? { attr } : {}),
});
/** The control is partly met (e.g. `VMGuestStateOnly`). */
export const warn = (message: string, attr?: string): Verdict => ({
  status: 'warn',
  message,
  ...(attr ? { attr } : {}),
});
/** A value the verdict needs could not be resolved. */
export const unknown = (message: string, attr?: string): Verdict => ({
  status: 'unknown',
  message,
  ...(attr ? { attr } : {}),
});

/** Other-tool IDs in the order of the rule table: Checkov, Trivy, KICS, Azure Policy / PSRule. */
export function tools(checkov = '—', trivy = '—', kics = '—', azurePolicy = '—'): OtherTools {
  return { checkov, trivy, kics, azurePolicy };
}
