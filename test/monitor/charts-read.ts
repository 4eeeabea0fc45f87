// Reads rendered charts back for the chart tests: the SVG as XML (every element with its
// attributes, in document order) and the PNG as decoded pixels.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PNG } from 'pngjs';
import { expect } from 'vitest';

/** One SVG element: its tag, its attributes and its text. */
export interface SvgElement {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly text: string;
}

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Parses `svg` as XML (failing the test when it is not well-formed) and lists its elements. */
export function svgElements(svg: string): SvgElement[] {
  const valid = XMLValidator.validate(svg);
  expect(valid, JSON.stringify(valid)).toBe(true);
  const tree = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    processEntities: true,
  }).parse(svg) as Node[];
  const out: SvgElement[] = [];
  const walk = (nodes: Node[]) => {
    for (const node of nodes) {
      const tag = Object.keys(node).find((k) => k !== ':@');
      if (tag === undefined || tag === '#text') continue;
      const children = (node[tag] as Node[] | undefined) ?? [];
      const text = children
        .filter((c) => '#text' in c)
        .map((c) => String(c['#text']))
        .join('');
      out.push({ tag, attrs: node[':@'] ?? {}, text });
      walk(children);
    }
  };
  walk(tree);
  return out;
}

/** The aria-labels of the plotted points (`path` marks of the point layer), in document order. */
export function pointLabels(svg: string): string[] {
  return svgElements(svg)
    .filter((e) => e.tag === 'path' && e.attrs['aria-roledescription'] === 'point')
    .map((e) => e.attrs['aria-label'] ?? '');
}

/** The numbers in labels matching `pattern`, whose first group is the value. */
export function valuesOf(labels: readonly string[], pattern: RegExp): number[] {
  return labels.flatMap((l) => {
    const m = pattern.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

/** The SVG root's width and height attributes. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = svgElements(svg)[0];
  expect(root?.tag).toBe('svg');
  return { width: Number(root?.attrs.width), height: Number(root?.attrs.height) };
}

/** Decodes a PNG fully (CRCs, zlib, filters) and counts pixels that are not white. */
export function decodePng(png: Buffer): {
  width: number;
  height: number;
  ink: number;
  pixel: (x: number, y: number) => number[];
} {
  const image = PNG.sync.read(png);
  let ink = 0;
  for (let i = 0; i < image.data.length; i += 4)
    if (image.data[i] !== 255 || image.data[i + 1] !== 255 || image.data[i + 2] !== 255) ink++;
  const pixel = (x: number, y: number) => [
    ...image.data.subarray((y * image.width + x) * 4, (y * image.width + x) * 4 + 4),
  ];
  return { width: image.width, height: image.height, ink, pixel };
}

/** Counts pixels within `tolerance` of the colour `rgb` (e.g. the denied red). */
export function pixelsNear(png: Buffer, rgb: readonly [number, number, number], tolerance = 24): number {
  const image = PNG.sync.read(png);
  let n = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const d = Math.max(
      Math.abs((image.data[i] ?? 0) - rgb[0]),
      Math.abs((image.data[i + 1] ?? 0) - rgb[1]),
      Math.abs((image.data[i + 2] ?? 0) - rgb[2]),
    );
    if (d <= tolerance) n++;
  }
  return n;
}
