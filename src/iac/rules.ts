import { type RuleInfo, SEVERITIES, type Severity } from './internal/rule.js';
import { ALL_RULES } from './internal/rules/index.js';

export type { OtherTools, RuleInfo, Severity, Status } from './internal/rule.js';
export { SEVERITIES } from './internal/rule.js';

/** Every rule `sealtrain scan` implements, in the order of docs/scan.md. */
export const RULES: readonly RuleInfo[] = ALL_RULES.map(
  ({ id, severity, title, types, rationale, fix, tools }): RuleInfo => ({
    id,
    severity,
    title,
    types,
    rationale,
    fix,
    tools,
  }),
);

/** True when `severity` is at least as bad as `threshold`. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold);
}

/** Parses a severity name (`high`); undefined for anything else. */
export function parseSeverity(text: string): Severity | undefined {
  const s = text.trim().toLowerCase();
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : undefined;
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The rule table of docs/scan.md, made from {@link RULES} (a test keeps the two equal). */
export function rulesMarkdown(): string {
  const head =
    '| ID | Severity | Control | Applies to | Fix | Checkov | Trivy | KICS | Azure Policy / PSRule |';
  const rows = RULES.map((r) =>
    [
      r.id,
      r.severity,
      r.title,
      r.types.map((t) => `\`${t}\``).join(', '),
      r.fix,
      r.tools.checkov,
      r.tools.trivy,
      r.tools.kics,
      r.tools.azurePolicy,
    ]
      .map(cell)
      .join(' | '),
  );
  return [head, `|${' --- |'.repeat(9)}`, ...rows.map((r) => `| ${r} |`)].join('\n');
}
