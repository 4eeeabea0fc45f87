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
