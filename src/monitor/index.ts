/**
 * Monitoring: what a run recorded (`resources.jsonl`, `alerts.jsonl` beside `metrics.jsonl`),
 * read back for alert rules, charts and the run report ({@link readRecordedRun}).
 *
 * @module
 */

export {
  CHART_FORMATS,
  CHART_NAMES,
  type ChartFormat,
  type ChartName,
  type ChartSpec,
  chartSpec,
  chartSpecs,
  type RenderedChart,
  type RenderRunChartsOptions,
  renderChartSvg,
  renderRunCharts,
} from './charts.js';
export {
  type ChartFont,
  DEFAULT_CHART_FONT,
  type RenderPngOptions,
  renderChartPng,
} from './internal/chart-png.js';
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
