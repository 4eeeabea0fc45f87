/**
 * Monitoring: what a run recorded (`resources.jsonl`, `alerts.jsonl` beside `metrics.jsonl`),
 * read back for alert rules, charts and the run report ({@link readRecordedRun}).
 *
 * @module
 */

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
  isAuthChallenge,
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
export { mib, ResourceSampler, type ResourceSamplerOptions } from './resources.js';
export { type LiveAlerts, RunMonitor, type RunMonitorOptions } from './run-monitor.js';
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
export { TrainingMetrics } from './training-metrics.js';
