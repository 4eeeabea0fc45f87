import { RULES, type Severity } from './rules.js';
import type { Finding, ScanReport } from './scan.js';

/** The SARIF version written. */
export const SARIF_VERSION = '2.1.0';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

const uri = (path: string): string => encodeURI(path.replaceAll('\\', '/'));

function result(f: Finding, ruleIndex: number): Record<string, unknown> {
  const suppressions = [
    ...(f.suppressed !== undefined ? [{ kind: 'inSource', justification: f.suppressed }] : []),
    ...(f.baselined ? [{ kind: 'external', justification: 'accepted in the baseline file' }] : []),
  ];
  return {
    ruleId: f.ruleId,
    ruleIndex,
    // An UNKNOWN verdict asks for review; SARIF wants level "none" on results that are not "fail".
    level: f.status === 'fail' ? LEVEL[f.severity] : f.status === 'warn' ? 'warning' : 'none',
    kind: f.status === 'unknown' ? 'review' : 'fail',
    message: {
      text: `${f.resource}: ${f.message}${f.status === 'unknown' ? ' (UNKNOWN: could not be resolved)' : ''}`,
    },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: uri(f.file) }, region: { startLine: f.line } },
        logicalLocations: [{ fullyQualifiedName: f.resource, kind: 'resource' }],
      },
    ],
    ...(suppressions.length > 0 ? { suppressions } : {}),
    properties: { status: f.status, severity: f.severity, resourceType: f.resourceType },
  };
}

/** Options of {@link formatSarif}. */
export interface SarifOptions {
  readonly toolVersion?: string;
}

/** The report as a SARIF 2.1.0 log (one run; passes left out; parse errors as notifications). */
export function formatSarif(report: ScanReport, options: SarifOptions = {}): Record<string, unknown> {
  const index = new Map(RULES.map((r, i) => [r.id, i]));
  const rules = RULES.map((r) => ({
    id: r.id,
    name: r.id.replace('-', ''),
    shortDescription: { text: r.title },
    fullDescription: { text: r.rationale },
    help: { text: r.fix },
    defaultConfiguration: { level: LEVEL[r.severity] },
    properties: { severity: r.severity, appliesTo: r.types, otherTools: r.tools },
  }));
  const notifications = report.problems.map((p) => ({
    level: 'error',
    message: { text: p.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: uri(p.file) },
          region: { startLine: p.line, startColumn: p.column },
        },
      },
    ],
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: SARIF_VERSION,
    runs: [
      {
        tool: {
          driver: {
            name: 'sealtrain',
            ...(options.toolVersion ? { version: options.toolVersion } : {}),
            rules,
          },
        },
        invocations: [
          { executionSuccessful: report.problems.length === 0, toolExecutionNotifications: notifications },
        ],
        results: report.findings
          .filter((f) => f.status !== 'pass')
          .map((f) => result(f, index.get(f.ruleId) ?? 0)),
      },
    ],
  };
}
