/**
 * Monitoring: what a run recorded (`resources.jsonl`, `alerts.jsonl` beside `metrics.jsonl`),
 * read back for alert rules, charts and the run report ({@link readRecordedRun}).
 *
 * @module
 */
export {
  AlertEngine,
  type AlertEngineOptions,
  type AuditVerification,
  type StopRequest,
} from './alert-engine.js';
export { type EvaluateRecordedRunOptions, evaluateRecordedRun } from './alert-replay.js';
export {
  ALERT_CONDITIONS,
  type AlertAction,
  type AlertCondition,
  type AlertConditionKind,
  type AlertRule,
  type AlertRules,
  type AlertRulesFile,
  alertRulesJsonSchema,
  loadAlertRules,
  parseAlertRules,
  type WebhookConfig,
} from './alert-rules.js';
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
export {
  type DeliveryOutcome,
  type DeliveryResult,
  type SignedRequest,
  signWebhook,
  verifyWebhookSignature,
  type WebhookCloseSummary,
  WebhookSender,
  type WebhookSenderOptions,
  type WebhookTarget,
} from './webhook.js';
