import type { TopLevelSpec } from 'vega-lite';
import { SealtrainError } from '../errors/index.js';
import {
  accuracyData,
  type ChartData,
  lossData,
  releaseData,
  releaseEntries,
  resourceData,
} from './internal/chart-data.js';
import { type RenderPngOptions, renderChartPng } from './internal/chart-png.js';
import { noDataSpec, PALETTES, plotSpec, resourcesSpec, type SpecInput } from './internal/chart-specs.js';
import { finishSvg } from './internal/chart-svg.js';
import { useChartTextWidths } from './internal/chart-text-width.js';
import type { RecordedRun } from './run-record.js';

export {
  type ChartFont,
  DEFAULT_CHART_FONT,
  type RenderPngOptions,
  renderChartPng,
} from './internal/chart-png.js';

/** The charts of a run, in the order a report shows them. */
export const CHART_NAMES = ['loss', 'accuracy', 'resources', 'releases'] as const;
export type ChartName = (typeof CHART_NAMES)[number];

/** A chart ready to render: its Vega-Lite specification with the run's values inlined. */
export interface ChartSpec {
  readonly name: ChartName;
  readonly title: string;
  /** One sentence saying what the chart shows; the SVG's `<desc>` and `aria-label`. */
  readonly description: string;
  /** True when the run recorded nothing for this chart: it says "No data recorded". */
  readonly empty: boolean;
  /** The number of points plotted. */
  readonly points: number;
  readonly vegaLite: TopLevelSpec;
}

/** A rendered chart. */
export interface RenderedChart {
  readonly name: ChartName;
  readonly title: string;
  /** A standalone SVG document that can also be inlined in HTML (no XML prolog, prefixed ids). */
  readonly svg: string;
  /** The PNG, when asked for. */
  readonly png?: Buffer;
}

/** Image formats {@link renderRunCharts} can produce. */
export const CHART_FORMATS = ['svg', 'png'] as const;
export type ChartFormat = (typeof CHART_FORMATS)[number];

const TITLES: Record<ChartName, string> = {
  loss: 'Loss',
  accuracy: 'Accuracy',
  resources: 'Resource use',
  releases: 'Key releases',
};

function describe(name: ChartName, run: RecordedRun, data: ChartData): string {
  const id = run.manifest.run_id;
  const count = (series: string) => data.rows.filter((r) => r.series === series).length;
  if (data.rows.length === 0) return `${TITLES[name]} of run ${id}: no data recorded. ${data.missing}`;
  const epochs = run.metrics.filter((m) => m.type === 'epoch').length;
  switch (name) {
    case 'loss':
      return `Loss of run ${id}: train loss at ${count('train (step)')} steps, and train and validation loss at the end of each of ${epochs} epochs.`;
    case 'accuracy':
      return `Accuracy of run ${id}: train and validation accuracy at the end of each of ${epochs} epochs.`;
    case 'resources':
      return `Resource use of run ${id}: resident memory and heap used (MiB), CPU (% of one core) and event-loop delay (ms, 99th percentile) over ${count('CPU')} samples.`;
    case 'releases':
      return `Key releases for run ${id}: ${count('allowed')} allowed and ${count('denied')} denied over time, from ${releaseEntries(run).source}.`;
  }
}

/** The Vega-Lite specification of one chart of `run`. */
export function chartSpec(run: RecordedRun, name: ChartName): ChartSpec {
  const data = { loss: lossData, accuracy: accuracyData, resources: resourceData, releases: releaseData }[
    name
  ](run);
  const input: SpecInput = { title: TITLES[name], description: describe(name, run, data), data };
  const empty = data.rows.length === 0;
  let vegaLite: TopLevelSpec;
  if (empty) vegaLite = noDataSpec(input);
  else if (name === 'resources') vegaLite = resourcesSpec(input);
  else if (name === 'loss')
    vegaLite = plotSpec(input, { palette: PALETTES.loss, yTitle: 'loss', zero: false, wholeX: true });
  else if (name === 'accuracy')
    vegaLite = plotSpec(input, { palette: PALETTES.accuracy, yTitle: 'accuracy', zero: false, wholeX: true });
  else
    vegaLite = plotSpec(input, {
      palette: PALETTES.releases,
      yTitle: 'releases so far',
      zero: true,
      interpolate: 'step-after',
      counts: true,
      shapes: ['circle', 'cross'],
    });
  return {
    name,
    title: TITLES[name],
    description: input.description,
    empty,
    points: data.rows.length,
    vegaLite,
  };
}

/** The specifications of all four charts of `run`, in {@link CHART_NAMES} order. */
export function chartSpecs(run: RecordedRun): ChartSpec[] {
  return CHART_NAMES.map((name) => chartSpec(run, name));
}

/** A Vega loader that loads nothing: every value is inlined, so a chart never reaches out. */
const NO_LOADER = {
  load: () => Promise.reject(new Error('charts load no external data')),
  sanitize: () => Promise.reject(new Error('charts load no external data')),
  http: () => Promise.reject(new Error('charts load no external data')),
  file: () => Promise.reject(new Error('charts load no external data')),
};

/**
 * Renders a chart to SVG without a browser or canvas: Vega-Lite compiles the spec, a headless
 * Vega view renders it. The output is deterministic, self-contained (no fetched fonts, images or
 * data) and ready to inline in HTML; every point carries an `aria-label` naming its values.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RENDER_FAILED` naming the chart.
 */
export async function renderChartSvg(spec: ChartSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  // Warnings stay quiet: stdout and stderr belong to the command that draws.
  const logger = vega.logger(vega.Error);
  useChartTextWidths(
    (vega as unknown as { textMetrics: Parameters<typeof useChartTextWidths>[0] }).textMetrics,
  );
  let view: import('vega').View | undefined;
  try {
    const compiled = vegaLite.compile(spec.vegaLite, { logger }).spec;
    view = new vega.View(vega.parse(compiled), {
      renderer: 'none',
      loader: NO_LOADER as unknown as import('vega').Loader,
      logger,
    });
    const svg = await view.toSVG();
    return finishSvg(svg, {
      idPrefix: `sealtrain-chart-${spec.name}`,
      title: `${spec.title}`,
      description: spec.description,
      name: spec.name,
    });
  } catch (error) {
    if (error instanceof SealtrainError) throw error;
    throw new SealtrainError(
      'ERR_MONITOR_RENDER_FAILED',
      `Cannot render the ${spec.name} chart: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { chart: spec.name } },
    );
  } finally {
    view?.finalize();
  }
}

/** Options for {@link renderRunCharts}. */
export interface RenderRunChartsOptions {
  /** What to produce (default `['svg']`); the SVG is always returned, PNG only when asked for. */
  readonly formats?: readonly ChartFormat[];
  /** PNG options (width, font). */
  readonly png?: Omit<RenderPngOptions, 'name'>;
}

/**
 * Renders all four charts of `run` ({@link CHART_NAMES} order). A chart the run recorded nothing
 * for renders as a "No data recorded" chart rather than failing.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RENDER_FAILED` naming the chart that failed.
 */
export async function renderRunCharts(
  run: RecordedRun,
  options: RenderRunChartsOptions = {},
): Promise<RenderedChart[]> {
  const png = options.formats?.includes('png') ?? false;
  const out: RenderedChart[] = [];
  for (const spec of chartSpecs(run)) {
    const svg = await renderChartSvg(spec);
    out.push({
      name: spec.name,
      title: spec.title,
      svg,
      ...(png ? { png: renderChartPng(svg, { ...options.png, name: spec.name }) } : {}),
    });
  }
  return out;
}
