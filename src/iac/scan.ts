import { type Baseline, fingerprint } from './baseline.js';
import { runRules } from './internal/engine.js';
import type { ParseProblem, SourceFile } from './internal/parse.js';
import { type FilePositions, scanPositions } from './internal/positions.js';
import { loadProject } from './internal/project.js';
import { ALL_RULES } from './internal/rules/index.js';
import type { Severity, Status } from './rules.js';

export type { ParseProblem, SourceFile } from './internal/parse.js';

/** One rule's verdict on one resource, placed at a file and line. */
export interface Finding {
  readonly ruleId: string;
  readonly title: string;
  readonly severity: Severity;
  readonly status: Status;
  /** The resource address, with its module path. */
  readonly resource: string;
  /** The azurerm type the rule read (an azapi body is mapped to one). */
  readonly resourceType: string;
  readonly file: string;
  readonly line: number;
  readonly message: string;
  /** The reason of the inline `sealtrain:ignore` comment that suppresses it. */
  readonly suppressed?: string;
  /** True when the baseline accepts it. */
  readonly baselined?: boolean;
}

/** A `sealtrain:ignore` comment that suppresses nothing because it gives no reason. */
export interface BadSuppression {
  readonly file: string;
  readonly line: number;
  readonly ids: readonly string[];
}

/** What a scan found. `findings` holds every verdict, passes included. */
export interface ScanReport {
  readonly files: number;
  readonly resources: number;
  readonly findings: readonly Finding[];
  /** Files that did not parse; the others were still scanned. */
  readonly problems: readonly ParseProblem[];
  /** What the scan could not follow (remote modules), for people. */
  readonly notes: readonly string[];
  readonly badSuppressions: readonly BadSuppression[];
}

/** Options of {@link scanSources}. */
export interface ScanOptions {
  /** The environment for `TF_VAR_*` (default: none; the CLI passes `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `--var-file` files in order (later wins). */
  readonly varFiles?: readonly SourceFile[];
  /** Findings to accept. */
  readonly baseline?: Baseline;
}

const tail = (address: string): string => address.split('.').slice(-2).join('.');

function place(positions: FilePositions | undefined, address: string, attr: string | undefined): number {
  const key = tail(address);
  const attrs = positions?.attributes.get(key);
  const attrLine = attr === undefined ? undefined : attrs?.get(attr);
  return attrLine ?? positions?.resources.get(key) ?? 1;
}

/**
 * Scans Terraform sources held in memory (`.tf`, `.tf.json`, and the `terraform.tfvars` /
 * `*.auto.tfvars` of each folder). No I/O: {@link scanPaths} reads the files.
 */
export async function scanSources(
  files: readonly SourceFile[],
  options: ScanOptions = {},
): Promise<ScanReport> {
  const project = await loadProject(files, {
    ...(options.env ? { env: options.env } : {}),
    ...(options.varFiles ? { varFiles: options.varFiles } : {}),
  });
  const positions = new Map<string, FilePositions>();
  for (const f of files)
    if (/\.tf(\.json)?$/.test(f.path)) positions.set(f.path, scanPositions(f.path, f.text));
  const accepted = new Set((options.baseline?.findings ?? []).map(fingerprint));
  const findings = runRules(project.resources, ALL_RULES).map(({ rule, resource, verdict }): Finding => {
    const pos = positions.get(resource.file);
    const ignore = pos?.suppressions
      .get(tail(resource.address))
      ?.find((s) => s.reason && s.ids.includes(rule.id.toUpperCase()));
    const base = {
      ruleId: rule.id,
      title: rule.title,
      severity: rule.severity,
      status: verdict.status,
      resource: resource.address,
      resourceType: resource.type,
      file: resource.file,
      line: place(pos, resource.address, verdict.attr),
      message: verdict.message,
    };
    const baselined = accepted.has(
      fingerprint({ rule: rule.id, resource: resource.address, file: resource.file }),
    );
    return { ...base, ...(ignore ? { suppressed: ignore.reason } : {}), ...(baselined ? { baselined } : {}) };
  });
  const badSuppressions: BadSuppression[] = [];
  for (const [file, pos] of positions)
    for (const list of pos.suppressions.values())
      for (const s of list) if (!s.reason) badSuppressions.push({ file, line: s.line, ids: s.ids });
  return {
    files: files.filter((f) => /\.tf(\.json)?$/.test(f.path)).length,
    resources: new Set(project.resources.map((r) => r.address)).size,
    findings,
    problems: project.problems,
    notes: project.notes,
    badSuppressions,
  };
}

/** Findings that count: not passed, not suppressed, not in the baseline. */
export function activeFindings(report: ScanReport): Finding[] {
  return report.findings.filter((f) => f.status !== 'pass' && f.suppressed === undefined && !f.baselined);
}
