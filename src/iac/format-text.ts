import { activeFindings, type Finding, type ScanReport } from './scan.js';

const LABEL: Record<Finding['status'], string> = {
  fail: 'FAIL',
  warn: 'WARN',
  unknown: 'UNKNOWN',
  pass: 'PASS',
};

/** Options of {@link formatText}. */
export interface TextOptions {
  /** List passed, suppressed and baselined verdicts too. */
  readonly all?: boolean;
}

function counts(report: ScanReport): string {
  const by = (s: Finding['status']) => report.findings.filter((f) => f.status === s).length;
  const active = activeFindings(report);
  const n = (s: Finding['status']) => active.filter((f) => f.status === s).length;
  const suppressed = report.findings.filter((f) => f.status !== 'pass' && f.suppressed !== undefined).length;
  const baselined = report.findings.filter(
    (f) => f.status !== 'pass' && f.suppressed === undefined && f.baselined,
  ).length;
  return `${report.files} files, ${report.resources} resources: ${n('fail')} failed, ${n('warn')} warnings, ${n('unknown')} unknown, ${by('pass')} passed, ${suppressed} suppressed, ${baselined} baselined.`;
}

function line(f: Finding): string {
  const tag = f.suppressed !== undefined ? ` [ignored: ${f.suppressed}]` : f.baselined ? ' [baseline]' : '';
  return `  ${LABEL[f.status].padEnd(7)} ${f.severity.padEnd(8)} ${f.ruleId.padEnd(7)} ${f.title}: ${f.message} (${f.file}:${f.line})${tag}`;
}

/** The report for people: findings grouped by resource with file:line, then problems and a summary. */
export function formatText(report: ScanReport, options: TextOptions = {}): string {
  const shown = options.all ? report.findings : activeFindings(report);
  const groups = new Map<string, Finding[]>();
  for (const f of shown) groups.set(f.resource, [...(groups.get(f.resource) ?? []), f]);
  const out: string[] = [];
  for (const [resource, list] of groups) {
    const first = list.reduce((a, b) => (b.line < a.line ? b : a));
    out.push(`${resource}  (${first.file})`);
    out.push(...list.map(line), '');
  }
  for (const p of report.problems) out.push(`PARSE ERROR ${p.file}:${p.line}:${p.column}: ${p.message}`);
  for (const s of report.badSuppressions)
    out.push(
      `${s.file}:${s.line}: sealtrain:ignore ${s.ids.join(',')} has no reason, so it suppresses nothing.`,
    );
  for (const n of report.notes) out.push(`note: ${n}`);
  out.push(counts(report));
  return out.join('\n');
}
