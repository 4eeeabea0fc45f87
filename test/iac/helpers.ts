import { type Finding, type ScanOptions, type ScanReport, scanSources } from '../../src/iac/index.js';

/** Scans one main.tf (plus more files) held in memory. */
export function scanText(
  main: string,
  more: Record<string, string> = {},
  options: ScanOptions = {},
): Promise<ScanReport> {
  const files = [
    { path: 'main.tf', text: main },
    ...Object.entries(more).map(([path, text]) => ({ path, text })),
  ];
  return scanSources(files, options);
}

/** The finding of a rule on a resource, failing the test when there is none. */
export function findingOf(report: ScanReport, ruleId: string, resource: string): Finding {
  const f = report.findings.find((x) => x.ruleId === ruleId && x.resource === resource);
  if (!f) {
    const seen = report.findings.filter((x) => x.resource === resource).map((x) => x.ruleId);
    throw new Error(`no ${ruleId} verdict on ${resource} (verdicts: ${seen.join(', ') || 'none'})`);
  }
  return f;
}

/** The status of a rule on a resource. */
export async function statusOf(
  main: string,
  ruleId: string,
  resource: string,
  options: ScanOptions = {},
): Promise<string> {
  return findingOf(await scanText(main, {}, options), ruleId, resource).status;
}
