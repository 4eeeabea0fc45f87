import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import type { Finding, ScanReport, Severity } from '../../../iac/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

/** The scanner (and its WASM HCL parser) loads only when `scan` runs. */
const iac = () => import('../../../iac/index.js');

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
  dataOnStdout?: (o: Record<string, unknown>) => boolean,
) => (...args: unknown[]) => Promise<void>;

interface ScanCliOptions {
  format?: string;
  output?: string;
  failOn?: string;
  failOnUnknown?: boolean;
  varFile?: string[];
  baseline?: string;
  writeBaseline?: string;
  all?: boolean;
  listRules?: boolean;
}

const FORMATS = ['text', 'json', 'sarif', 'junit'];
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const HELP = `
Examples:
  sealtrain scan infra/terraform
  sealtrain scan main.tf network.tf --var-file prod.tfvars --fail-on high
  sealtrain scan . --format sarif -o scan.sarif
  sealtrain scan . --baseline scan-baseline.json --fail-on medium
  sealtrain scan . --write-baseline scan-baseline.json
  sealtrain scan --list-rules

Reads .tf and .tf.json files (folders recursively), terraform.tfvars and *.auto.tfvars beside
them, TF_VAR_* from the environment, and the local modules they call. A value that cannot be
resolved gives UNKNOWN, never a pass. Suppress a finding with a comment in or above the resource:
  # sealtrain:ignore ST-07 datastores still use account keys until the migration
(the reason is required). Exit code 0; ERR_IAC_FINDINGS (31) with --fail-on when a failed or
warned rule of that severity or worse remains; ERR_IAC_PARSE (30) when a file does not parse
(the other files are still scanned and reported). docs/scan.md lists every rule.`;

function failing(
  active: readonly Finding[],
  threshold: Severity,
  unknown: boolean,
  atLeast: (a: Severity, b: Severity) => boolean,
): Finding[] {
  return active.filter(
    (f) =>
      (f.status === 'fail' || f.status === 'warn' || (unknown && f.status === 'unknown')) &&
      atLeast(f.severity, threshold),
  );
}

async function render(report: ScanReport, o: ScanCliOptions): Promise<string> {
  const m = await iac();
  if (o.format === 'sarif')
    return `${JSON.stringify(m.formatSarif(report, { toolVersion: '0.1.0' }), null, 2)}\n`;
  if (o.format === 'junit') return m.formatJunit(report);
  if (o.format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  return `${m.formatText(report, { all: o.all === true })}\n`;
}

async function listRules(out: Output): Promise<void> {
  const { RULES } = await iac();
  out.result(
    { rules: RULES },
    RULES.map((r) => `${r.id.padEnd(7)} ${r.severity.padEnd(8)} ${r.title}  [${r.types.join(', ')}]`).join(
      '\n',
    ),
  );
}

function assertOptions(o: ScanCliOptions, paths: readonly string[]): void {
  if (o.format !== undefined && !FORMATS.includes(o.format))
    throw new SealtrainError('ERR_USAGE_INVALID', `--format takes ${FORMATS.join(', ')}; not "${o.format}".`);
  if (paths.length === 0)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'scan needs at least one file or folder (or --list-rules).',
    );
}

async function runScan(out: Output, paths: string[], o: ScanCliOptions): Promise<void> {
  const m = await iac();
  assertOptions(o, paths);
  const threshold = o.failOn === undefined ? undefined : m.parseSeverity(o.failOn);
  if (o.failOn !== undefined && threshold === undefined)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--fail-on takes ${m.SEVERITIES.join(', ')}; not "${o.failOn}".`,
    );
  const report = await m.scanPaths(paths, {
    env: process.env,
    ...(o.varFile ? { varFiles: o.varFile } : {}),
    ...(o.baseline ? { baselineFile: o.baseline } : {}),
  });
  const active = m.activeFindings(report);
  if (o.writeBaseline) await write(o.writeBaseline, `${JSON.stringify(m.makeBaseline(active), null, 2)}\n`);
  const document = await render(report, o);
  const toStdout = o.output === undefined || o.output === '-';
  if (!toStdout) await write(o.output as string, document);
  else if (!out.json || o.format !== undefined) process.stdout.write(document);
  const where = (f: Finding) => `${f.ruleId} ${f.resource} (${f.file}:${f.line}): ${f.message}`;
  if (report.problems.length > 0)
    throw new SealtrainError(
      'ERR_IAC_PARSE',
      `Cannot parse ${report.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message.replace(/\.$/, '')}`).join('; ')}. The other files were scanned.`,
      { details: { problems: report.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`) } },
    );
  const bad = threshold ? failing(active, threshold, o.failOnUnknown === true, m.atLeast) : [];
  if (bad.length > 0)
    throw new SealtrainError(
      'ERR_IAC_FINDINGS',
      `${bad.length} finding(s) at or above ${threshold}: ${bad.map((f) => `${f.ruleId} ${f.resource}`).join(', ')}.`,
      {
        details: { failures: bad.map(where) },
      },
    );
  const status = (s: Finding['status']) => active.filter((f) => f.status === s).length;
  if (!out.json) {
    if (!toStdout) out.note(`Wrote the ${o.format ?? 'text'} report to ${o.output}.`);
    return;
  }
  out.result(
    {
      files: report.files,
      resources: report.resources,
      summary: {
        fail: status('fail'),
        warn: status('warn'),
        unknown: status('unknown'),
        pass: report.findings.filter((f) => f.status === 'pass').length,
      },
      findings: report.findings.filter((f) => f.status !== 'pass'),
      notes: report.notes,
      badSuppressions: report.badSuppressions,
    },
    '',
  );
}

async function write(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (e) {
    throw fromFsError(e, 'write', path);
  }
}

/** `sealtrain scan <dir|file…>`. */
export function scanCommand(program: Command, run: Run): void {
  program
    .command('scan [paths...]')
    .description('Scan Terraform for the Azure ML and confidential-computing security rules')
    .option('--format <format>', `report format: ${FORMATS.join(', ')} (default text)`)
    .option('-o, --output <file>', 'write the report to this file (default: stdout)')
    .option(
      '--fail-on <severity>',
      'exit non-zero when a finding of this severity or worse remains: critical, high, medium, low, info',
    )
    .option('--fail-on-unknown', 'with --fail-on: count UNKNOWN verdicts as failures too')
    .option('--var-file <file>', 'a .tfvars file, as terraform -var-file (repeat for several)', collect)
    .option('--baseline <file>', 'accept the findings listed in this baseline file')
    .option('--write-baseline <file>', 'write the remaining findings to a baseline file')
    .option('--all', 'text format: list passed, suppressed and baselined verdicts too')
    .option('--list-rules', 'list the rules and exit')
    .addHelpText('after', HELP)
    .action(
      run(
        async (session, out, ...args) => {
          const o = session.opts as ScanCliOptions;
          const paths = (args[0] as unknown as string[] | undefined) ?? [];
          if (o.listRules) return listRules(out);
          return runScan(out, paths, o);
        },
        (o) => o.format !== undefined && (o.output === undefined || o.output === '-'),
      ),
    );
}
