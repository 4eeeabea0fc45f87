/**
 * The infrastructure scanner: Terraform (`.tf`, `.tf.json`, and `azapi_resource` bodies) against
 * the Azure ML and confidential-computing rules of docs/scan.md, with text, JSON, SARIF and JUnit
 * output. `scanSources` does no I/O; `scanPaths` reads files and folders for it.
 *
 * @module
 */
export { type Baseline, makeBaseline, parseBaseline } from './baseline.js';
export { formatJunit } from './format-junit.js';
export { formatSarif, SARIF_VERSION, type SarifOptions } from './format-sarif.js';
export { formatText, type TextOptions } from './format-text.js';
export {
  atLeast,
  type OtherTools,
  parseSeverity,
  RULES,
  type RuleInfo,
  rulesMarkdown,
  SEVERITIES,
  type Severity,
  type Status,
} from './rules.js';
export {
  activeFindings,
  type BadSuppression,
  type Finding,
  type ParseProblem,
  type ScanOptions,
  type ScanReport,
  type SourceFile,
  scanSources,
} from './scan.js';
export { readSources, type ScanPathsOptions, scanPaths } from './scan-paths.js';
