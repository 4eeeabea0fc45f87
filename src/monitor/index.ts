/**
 * Monitoring: a live run's metrics and resources ({@link RunMonitor}, Prometheus on
 * `--metrics-port`), alert rules with signed webhooks ({@link AlertEngine}, the same evaluator
 * for recorded runs: {@link evaluateRecordedRun}), charts as SVG and PNG ({@link renderRunCharts})
 * and the run report ({@link buildRunReport}, {@link renderReportHtml}), all from what a run
 * folder records ({@link readRecordedRun}). `docs/monitor.md` describes it.
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
  CHART_FORMATS,
  CHART_NAMES,
  type ChartFont,
  type ChartFormat,
  type ChartName,
  type ChartSpec,
  chartSpec,
  chartSpecs,
  DEFAULT_CHART_FONT,
  type RenderedChart,
  type RenderPngOptions,
  type RenderRunChartsOptions,
  renderChartPng,
  renderChartSvg,
  renderRunCharts,
} from './charts.js';
export { type MetricsServer, serveMetrics } from './metrics-server.js';
export {
  type BuildReportOptions,
  buildRunReport,
  type CheckStatus,
  type ReportCheck,
  type ReportCheckpoint,
  type ReportRelease,
  type RunReport,
  releasesOf,
} from './report.js';
export {
  REPORT_SECTIONS,
  type ReportChart,
  renderReportHtml,
  renderReportMarkdown,
  reportCharts,
} from './report-render.js';
export { registerResourceGauges } from './resource-gauges.js';
export { mib, ResourceSampler, type ResourceSamplerOptions } from './resources.js';
export { type LiveAlerts, RunMonitor, type RunMonitorOptions } from './run-monitor.js';
export {
  type AlertRecord,
  isAuthChallenge,
  MONITOR_FILES,
  type ReadRecordedRunOptions,
  type RecordedRun,
  type ResourceSample,
  readRecordedRun,
  SEVERITIES,
  type Severity,
} from './run-record.js';
export { TrainingMetrics } from './training-metrics.js';
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
