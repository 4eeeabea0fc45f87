// Vega-Lite specifications for the run charts: one layered line-and-point chart per metric, and a
// "no data recorded" chart in place of any chart without rows. No I/O; data is inlined.

import type { TopLevelSpec } from 'vega-lite';
import type { ChartData } from './chart-data.js';
import { RELEASE_OUTCOMES, RESOURCE_PANELS } from './chart-data.js';

/** Width and height of one plot area, in SVG pixels. */
export const PLOT = { width: 560, height: 220, panelHeight: 110 } as const;

/** Colours per series, and point sizes (one series may have smaller points). */
interface Palette {
  readonly domain: readonly string[];
  readonly colors: readonly string[];
  readonly size: number;
  readonly small?: { readonly series: string; readonly size: number };
}

export const PALETTES = {
  loss: {
    domain: ['train (step)', 'train (epoch)', 'validation (epoch)'],
    colors: ['#9ecae1', '#1f77b4', '#ff7f0e'],
    size: 40,
    small: { series: 'train (step)', size: 10 },
  },
  accuracy: { domain: ['train', 'validation'], colors: ['#1f77b4', '#ff7f0e'], size: 40 },
  resources: {
    domain: ['RSS', 'heap used', 'CPU', 'event-loop delay'],
    colors: ['#1f77b4', '#17becf', '#2ca02c', '#9467bd'],
    size: 14,
  },
  releases: { domain: [...RELEASE_OUTCOMES], colors: ['#2e7d32', '#c62828'], size: 60 },
} as const satisfies Record<string, Palette>;

const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelFontSize: 11, orient: 'top', title: null },
  title: { anchor: 'start', fontSize: 14, subtitleColor: '#555' },
} as const;

interface Layers {
  readonly palette: Palette;
  readonly yTitle: string | null;
  readonly zero: boolean;
  readonly interpolate?: 'linear' | 'step-after';
  /** The y values are counts: whole-number ticks. */
  readonly counts?: boolean;
  /** The x values are steps or epochs: whole-number ticks. */
  readonly wholeX?: boolean;
  /** Draw a point shape per series (for charts read in print or by colour-blind readers). */
  readonly shapes?: readonly string[];
}

type LayerSpec = Extract<TopLevelSpec, { layer: unknown }>;
type FacetSpec = Extract<TopLevelSpec, { facet: unknown }>;

/** A line per series (no aria: one path cannot name its points) under one point per row. */
function layered(data: ChartData, o: Layers): Pick<LayerSpec, 'encoding' | 'layer'> {
  const domain = [...o.palette.domain];
  const { size, small } = o.palette;
  return {
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: data.xTitle,
        scale: { zero: false, nice: true },
        ...(o.wholeX ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yTitle,
        scale: { zero: o.zero },
        ...(o.counts ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
      },
      color: { field: 'series', type: 'nominal', scale: { domain, range: [...o.palette.colors] } },
    },
    layer: [
      { mark: { type: 'line', aria: false, strokeWidth: 1.5, interpolate: o.interpolate ?? 'linear' } },
      {
        mark: { type: 'point', filled: true, opacity: 1 },
        encoding: {
          // A condition, not a scale: a size scale on `series` would merge into the colour legend.
          size: small
            ? {
                condition: { test: `datum.series === ${JSON.stringify(small.series)}`, value: small.size },
                value: size,
              }
            : { value: size },
          ...(o.shapes
            ? { shape: { field: 'series', type: 'nominal', scale: { domain, range: [...o.shapes] } } }
            : {}),
          description: { field: 'label', type: 'nominal' },
        },
      },
    ],
  };
}

function title(text: string, notes: readonly string[]) {
  return notes.length > 0 ? { text, subtitle: [...notes] } : { text };
}

/** What a chart is, for the spec builders. */
export interface SpecInput {
  readonly title: string;
  readonly description: string;
  readonly data: ChartData;
}

/** The chart shown when a run recorded nothing for it: its title and "No data recorded". */
export function noDataSpec(input: SpecInput): TopLevelSpec {
  const message = 'No data recorded';
  return {
    width: PLOT.width,
    height: PLOT.height,
    title: title(input.title, [input.data.missing]),
    description: input.description,
    config: CONFIG,
    data: { values: [{ text: message, label: `${message}: ${input.data.missing}` }] },
    mark: { type: 'text', fontSize: 18, color: '#666' },
    encoding: {
      x: { value: PLOT.width / 2 },
      y: { value: PLOT.height / 2 },
      text: { field: 'text', type: 'nominal' },
      description: { field: 'label', type: 'nominal' },
    },
  };
}

/** A single plot: loss, accuracy or releases. */
export function plotSpec(input: SpecInput, layers: Layers): LayerSpec {
  return {
    width: PLOT.width,
    height: PLOT.height,
    title: title(input.title, input.data.notes),
    description: input.description,
    config: CONFIG,
    data: { values: input.data.rows.map((r) => ({ ...r })) },
    ...layered(input.data, layers),
  };
}

/** The resources chart: one panel per unit, stacked, sharing the time axis. */
export function resourcesSpec(input: SpecInput): FacetSpec {
  return {
    title: title(input.title, input.data.notes),
    description: input.description,
    config: CONFIG,
    data: { values: input.data.rows.map((r) => ({ ...r })) },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        title: null,
        sort: [...RESOURCE_PANELS],
        header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontSize: 12 },
      },
    },
    spec: {
      width: PLOT.width,
      height: PLOT.panelHeight,
      ...layered(input.data, { palette: PALETTES.resources, yTitle: null, zero: true }),
    },
    resolve: { scale: { y: 'independent' } },
    spacing: 14,
  };
}
