/**
 * Monitoring: what a run recorded (`resources.jsonl`, `alerts.jsonl` beside `metrics.jsonl`),
 * read back for alert rules, charts and the run report ({@link readRecordedRun}).
 *
 * @module
 */
export {
  type AlertRecord,
  MONITOR_FILES,
  type ReadRecordedRunOptions,
  type RecordedRun,
  type ResourceSample,
  readRecordedRun,
  SEVERITIES,
  type Severity,
} from './run-record.js';
