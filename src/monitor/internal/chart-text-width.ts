// Text widths for chart layout without a canvas. Vega measures text to place axis titles, legends
// and the chart's bounds; without a canvas it guesses 0.8 em per character, about half again too
// wide, which leaves wide blank margins. These are DejaVu Sans's advance widths (the font PNGs are
// drawn with, and wider than most browsers' sans-serif, so text never overflows its space).

/** Advance widths of ASCII 32–126 in DejaVu Sans, in thousandths of an em (from its hmtx table). */
const DEJAVU_SANS = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636,
  636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295,
  295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838,
  500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521,
  392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];

/** Width of any other character: about an average letter. */
const OTHER = 650;
/** DejaVu Sans Bold is about 10% wider. */
const BOLD = 1.1;

/** The width in pixels of `text` in DejaVu Sans at `fontSize` pixels. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    units += c >= 32 && c < 127 ? (DEJAVU_SANS[c - 32] ?? OTHER) : OTHER;
  }
  return (units / 1000) * fontSize * (bold ? BOLD : 1);
}

/** The fields of a Vega text item that its width depends on. */
interface TextItem {
  readonly fontSize?: number | string;
  readonly fontWeight?: number | string;
  readonly limit?: number;
}

/** Vega's text measurement hook (`vega-scenegraph`'s `textMetrics`). */
interface TextMetrics {
  width: (item: TextItem, text: unknown) => number;
}

/**
 * Makes Vega measure text with {@link textWidth}. Vega supports replacing `textMetrics.width`; the
 * setting is Vega's, process-wide, and the same on every call.
 */
export function useChartTextWidths(metrics: TextMetrics): void {
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const weight = item.fontWeight;
    const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
    const line = text == null ? '' : String(text).trim();
    const width = textWidth(line, size, bold);
    return item.limit !== undefined && item.limit > 0 ? Math.min(width, item.limit) : width;
  };
}
