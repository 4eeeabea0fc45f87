// Rasterises chart SVGs with resvg (a native renderer shipped as an npm platform package: nothing
// is built or downloaded at install). Text needs a font file; the system's DejaVu Sans is used.

import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { SealtrainError } from '../../errors/index.js';

/** A font file and the family name inside it. */
export interface ChartFont {
  readonly file: string;
  readonly family: string;
}

/** The font used when none is given: Debian's `fonts-dejavu-core`. */
export const DEFAULT_CHART_FONT: ChartFont = {
  file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  family: 'DejaVu Sans',
};

/** Options for {@link renderChartPng}. */
export interface RenderPngOptions {
  /** Width of the PNG in pixels; the height keeps the SVG's aspect ratio. Default: the SVG's width. */
  readonly width?: number;
  /** The font for all text (default {@link DEFAULT_CHART_FONT}). */
  readonly font?: ChartFont;
  /** The chart's name, for error messages. */
  readonly name?: string;
}

type Resvg = typeof import('@resvg/resvg-js');
let resvg: Resvg | undefined;

/** Loads the native rasteriser on first use, so commands that draw nothing never load it. */
function loadResvg(): Resvg {
  if (resvg === undefined) {
    try {
      resvg = createRequire(import.meta.url)('@resvg/resvg-js') as Resvg;
    } catch (error) {
      throw new SealtrainError(
        'ERR_MONITOR_RENDER_FAILED',
        `Cannot load the PNG rasteriser @resvg/resvg-js for ${process.platform}-${process.arch}: reinstall sealtrain with its optional dependencies (npm install --include=optional).`,
        { cause: error },
      );
    }
  }
  return resvg;
}

function assertReadable(font: ChartFont, isDefault: boolean): void {
  try {
    accessSync(font.file, constants.R_OK);
  } catch {
    const fix = isDefault
      ? 'install the fonts-dejavu-core package (apt-get install fonts-dejavu-core)'
      : 'give a readable TrueType or OpenType font file';
    throw new SealtrainError(
      'ERR_MONITOR_RENDER_FAILED',
      `Cannot draw chart text as PNG: the font ${font.file} is missing or unreadable; ${fix}, or use SVG.`,
      { details: { path: font.file } },
    );
  }
}

/**
 * Rasterises a chart SVG to PNG. Only the given font is loaded (no system font scan), and every
 * generic family maps to it, so the same SVG gives the same pixels on every machine with that font.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RENDER_FAILED` when the font is missing, the rasteriser
 *   cannot load, or the SVG does not render.
 */
export function renderChartPng(svg: string, options: RenderPngOptions = {}): Buffer {
  const font = options.font ?? DEFAULT_CHART_FONT;
  assertReadable(font, options.font === undefined);
  if (
    options.width !== undefined &&
    (!Number.isInteger(options.width) || options.width < 1 || options.width > 16384)
  )
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The PNG width must be a whole number of pixels from 1 to 16384, not ${options.width}.`,
    );
  const { Resvg } = loadResvg();
  const render: ResvgRenderOptions = {
    font: {
      loadSystemFonts: false,
      fontFiles: [font.file],
      defaultFontFamily: font.family,
      sansSerifFamily: font.family,
      serifFamily: font.family,
      monospaceFamily: font.family,
    },
    fitTo: options.width === undefined ? { mode: 'original' } : { mode: 'width', value: options.width },
    background: 'white',
    logLevel: 'off',
  };
  try {
    return new Resvg(svg, render).render().asPng();
  } catch (error) {
    throw new SealtrainError(
      'ERR_MONITOR_RENDER_FAILED',
      `Cannot rasterise ${options.name ? `the ${options.name} chart` : 'the chart'} to PNG: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, ...(options.name ? { details: { chart: options.name } } : {}) },
    );
  }
}
