import type { Finding, ScanReport } from './scan.js';

const xml = (s: string): string =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );

function testcase(f: Finding): string {
  const head = `    <testcase classname="${xml(f.resource)}" name="${xml(`${f.ruleId} ${f.title}`)}" file="${xml(f.file)}" line="${f.line}"`;
  const where = `${f.file}:${f.line} ${f.resource}: ${f.message}`;
  if (f.suppressed !== undefined)
    return `${head}><skipped message="${xml(`suppressed: ${f.suppressed}`)}"/></testcase>`;
  if (f.baselined) return `${head}><skipped message="accepted in the baseline"/></testcase>`;
  if (f.status === 'fail' || f.status === 'warn')
    return `${head}><failure type="${f.severity}" message="${xml(f.message)}">${xml(where)}</failure></testcase>`;
  if (f.status === 'unknown')
    return `${head}><skipped message="${xml(`UNKNOWN: ${f.message}`)}"/></testcase>`;
  return `${head}/>`;
}

/** The report as JUnit XML: one test suite per resource, one test case per rule verdict. */
export function formatJunit(report: ScanReport): string {
  const groups = new Map<string, Finding[]>();
  for (const f of report.findings) groups.set(f.resource, [...(groups.get(f.resource) ?? []), f]);
  const suites: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const [resource, list] of groups) {
    const fails = list.filter(
      (f) => (f.status === 'fail' || f.status === 'warn') && f.suppressed === undefined && !f.baselined,
    ).length;
    const skips = list.filter(
      (f) => f.suppressed !== undefined || f.baselined || f.status === 'unknown',
    ).length;
    failures += fails;
    skipped += skips;
    suites.push(
      `  <testsuite name="${xml(resource)}" tests="${list.length}" failures="${fails}" errors="0" skipped="${skips}">\n${list.map(testcase).join('\n')}\n  </testsuite>`,
    );
  }
  if (report.problems.length > 0)
    suites.push(
      `  <testsuite name="parse" tests="${report.problems.length}" failures="0" errors="${report.problems.length}" skipped="0">\n${report.problems
        .map(
          (p) =>
            `    <testcase classname="parse" name="${xml(p.file)}" file="${xml(p.file)}" line="${p.line}"><error message="${xml(p.message)}">${xml(`${p.file}:${p.line}:${p.column}: ${p.message}`)}</error></testcase>`,
        )
        .join('\n')}\n  </testsuite>`,
    );
  const tests = report.findings.length + report.problems.length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sealtrain scan" tests="${tests}" failures="${failures}" errors="${report.problems.length}" skipped="${skipped}">\n${suites.join('\n')}\n</testsuites>\n`;
}
