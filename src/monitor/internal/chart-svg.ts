// Makes Vega's SVG output safe to inline in an HTML page beside other charts: ids prefixed with
// the chart's name and numbered in order (Vega numbers clip paths and gradients per process), a
// <title> and an aria-label saying what the chart shows, no unused namespaces, and no reference to
// anything outside the document.

import { SealtrainError } from '../../errors/index.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

/** Escapes text for an XML attribute value or element content. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Options for {@link finishSvg}. */
export interface FinishSvgOptions {
  /** Prefix of every id in the document, e.g. `sealtrain-chart-loss`. */
  readonly idPrefix: string;
  /** The chart's title and its one-sentence description. */
  readonly title: string;
  readonly description: string;
  /** The chart's name, for error messages. */
  readonly name: string;
}

/**
 * Rewrites Vega's SVG for inlining.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RENDER_FAILED` when the output is not one `<svg>` element
 *   or refers to anything outside itself.
 */
export function finishSvg(svg: string, o: FinishSvgOptions): string {
  let out = svg.trim();
  const open = /^<svg\b[^>]*>/.exec(out);
  if (open === null || !out.endsWith('</svg>'))
    throw new SealtrainError(
      'ERR_MONITOR_RENDER_FAILED',
      `The ${o.name} chart did not render as one <svg> element.`,
      {
        details: { chart: o.name },
      },
    );
  out = renumberIds(out, o.idPrefix);
  if (!out.slice(open[0].length).includes('xlink:')) out = out.replace(` xmlns:xlink="${XLINK_NS}"`, '');
  const root = /^<svg\b[^>]*>/.exec(out)?.[0] ?? '';
  const attrs = ` role="graphics-document document" aria-label="${escapeXml(o.description)}"`;
  const head = `${root.slice(0, -1)}${attrs}><title>${escapeXml(o.title)}</title><desc>${escapeXml(o.description)}</desc>`;
  out = head + out.slice(root.length);
  assertSelfContained(out, o.name);
  return out;
}

/** Renames every `id` to `<prefix>-<n>` in order of appearance, and every reference to it. */
function renumberIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    const id = m[1] ?? '';
    if (!ids.has(id)) ids.set(id, `${prefix}-${ids.size + 1}`);
  }
  if (ids.size === 0) return svg;
  const swap = (id: string, whole: string, make: (n: string) => string) => {
    const next = ids.get(id);
    return next === undefined ? whole : make(next);
  };
  return svg
    .replace(/(\s)id="([^"]+)"/g, (whole, space: string, id: string) =>
      swap(id, whole, (n) => `${space}id="${n}"`),
    )
    .replace(/url\(#([^)]+)\)/g, (whole, id: string) => swap(id, whole, (n) => `url(#${n})`))
    .replace(/href="#([^"]+)"/g, (whole, id: string) => swap(id, whole, (n) => `href="#${n}"`));
}

/** Throws when an attribute or style refers to a resource outside the document. */
function assertSelfContained(svg: string, name: string): void {
  const refs = [
    ...[...svg.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1] ?? ''),
    ...[...svg.matchAll(/url\(\s*['"]?([^)'"]*)/g)].map((m) => m[1] ?? ''),
    ...[...svg.matchAll(/@import\s+[^;]*/g)].map((m) => m[0]),
  ].filter((ref) => !ref.startsWith('#'));
  const namespaces = [...svg.matchAll(/\bxmlns(?::\w+)?="([^"]*)"/g)].map((m) => m[1]);
  const foreign = namespaces.filter((ns) => ns !== SVG_NS && ns !== XLINK_NS);
  if (refs.length > 0 || foreign.length > 0)
    throw new SealtrainError(
      'ERR_MONITOR_RENDER_FAILED',
      `The ${name} chart refers to something outside itself (${[...refs, ...foreign].join(', ')}); charts must be self-contained.`,
      { details: { chart: name } },
    );
}
