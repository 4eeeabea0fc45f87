import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHART_NAMES,
  chartSpec,
  chartSpecs,
  type RecordedRun,
  readRecordedRun,
  renderChartPng,
  renderChartSvg,
  renderRunCharts,
} from '../../src/monitor/index.js';
import type { EpochMetric, StepMetric } from '../../src/run/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { decodePng, pixelsNear, pointLabels, svgElements, svgSize, valuesOf } from './charts-read.js';
import { type BuildRunOptions, type BuiltRun, buildRun } from './recorded-run.js';

let built: BuiltRun | undefined;
afterEach(async () => {
  await built?.cleanup();
  built = undefined;
});

async function recorded(options: BuildRunOptions = {}, broker = true): Promise<RecordedRun> {
  built = await buildRun(options);
  return readRecordedRun(built.runDir, {
    auditDir: built.auditDir,
    ...(broker ? { brokerAuditDir: built.brokerAuditDir } : {}),
  });
}

const steps = (b: BuiltRun) => b.metrics.filter((m): m is StepMetric => m.type === 'step');
const epochs = (b: BuiltRun) => b.metrics.filter((m): m is EpochMetric => m.type === 'epoch');

/** The `translate(x,y)` of each plotted point whose label matches `pattern`. */
function positions(svg: string, pattern: RegExp): Array<{ x: number; y: number }> {
  return svgElements(svg)
    .filter((e) => e.attrs['aria-roledescription'] === 'point' && pattern.test(e.attrs['aria-label'] ?? ''))
    .map((e) => {
      const m = /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(e.attrs.transform ?? '');
      return { x: Number(m?.[1]), y: Number(m?.[2]) };
    });
}

describe('loss chart', () => {
  it('plots every step’s loss and each epoch’s train and validation loss, with the values of metrics.jsonl', async () => {
    const run = await recorded({ epochs: 3, stepsPerEpoch: 7 });
    const svg = await renderChartSvg(chartSpec(run, 'loss'));
    const labels = pointLabels(svg);
    const b = built as BuiltRun;
    expect(valuesOf(labels, /^step \d+: train loss (\S+)$/)).toEqual(steps(b).map((m) => m.loss));
    expect(valuesOf(labels, /^epoch \d+ \(step \d+\): train loss (\S+)$/)).toEqual(
      epochs(b).map((m) => m.loss),
    );
    expect(valuesOf(labels, /^epoch \d+ \(step \d+\): validation loss (\S+)$/)).toEqual(
      epochs(b).map((m) => m.validation_loss),
    );
    expect(labels[0]).toBe(`step 1: train loss ${steps(b)[0]?.loss}`);
    expect(labels).toContain(
      `epoch ${epochs(b)[2]?.epoch} (step 21): validation loss ${epochs(b)[2]?.validation_loss}`,
    );
  });

  it('places each point where its value is: height falls linearly as the loss rises', async () => {
    const run = await recorded({ epochs: 2, stepsPerEpoch: 6, loss: (s) => (s % 3) + 0.25 * s });
    const svg = await renderChartSvg(chartSpec(run, 'loss'));
    const at = positions(svg, /^step \d+:/);
    const loss = steps(built as BuiltRun).map((m) => m.loss);
    expect(at).toHaveLength(loss.length);
    // y = a + b·loss with b < 0 for every point (SVG y grows downwards); x grows with the step.
    const [l0, l1] = [loss[0] ?? 0, loss[1] ?? 0];
    const slope = ((at[1]?.y ?? 0) - (at[0]?.y ?? 0)) / (l1 - l0);
    expect(slope).toBeLessThan(0);
    at.forEach((p, i) => {
      expect(p.y).toBeCloseTo((at[0]?.y ?? 0) + slope * ((loss[i] ?? 0) - l0), 6);
      if (i > 0) expect(p.x).toBeGreaterThan(at[i - 1]?.x ?? Number.POSITIVE_INFINITY);
    });
  });

  it('leaves out a loss that is not a finite number and says so', async () => {
    const run = await recorded({ epochs: 1, stepsPerEpoch: 8, loss: (s) => (s === 5 ? Number.NaN : 1 / s) });
    const spec = chartSpec(run, 'loss');
    const svg = await renderChartSvg(spec);
    const labels = pointLabels(svg);
    expect(labels.filter((l) => l.startsWith('step '))).toHaveLength(7);
    expect(labels.some((l) => l.startsWith('step 5:'))).toBe(false);
    expect(svg).toContain('1 step(s) with a loss that is not a finite number are not plotted.');
  });

  it('thins a long run to at most 1000 points per series, keeping the first and the last step', async () => {
    const run = await recorded({ epochs: 1, stepsPerEpoch: 2500 });
    const svg = await renderChartSvg(chartSpec(run, 'loss'));
    const plotted = pointLabels(svg).filter((l) => l.startsWith('step '));
    expect(plotted.length).toBeLessThanOrEqual(1000);
    expect(plotted.length).toBeGreaterThan(800);
    expect(plotted[0]).toMatch(/^step 1: /);
    expect(plotted.at(-1)).toMatch(/^step 2500: /);
    expect(svg).toContain('One step in 3 is plotted, and the last (2500 steps).');
  });
});

describe('accuracy, resources and releases charts', () => {
  it('plots train and validation accuracy per epoch, numbered as the epoch lines number them', async () => {
    const run = await recorded({ epochs: 4, stepsPerEpoch: 3 });
    const labels = pointLabels(await renderChartSvg(chartSpec(run, 'accuracy')));
    const e = epochs(built as BuiltRun);
    expect(valuesOf(labels, /^epoch \d+: train accuracy (\S+)$/)).toEqual(e.map((m) => m.accuracy));
    expect(valuesOf(labels, /^epoch \d+: validation accuracy (\S+)$/)).toEqual(
      e.map((m) => m.validation_accuracy),
    );
    expect(valuesOf(labels, /^epoch (\d+): train/)).toEqual(e.map((m) => m.epoch));
  });

  it('plots RSS and heap in MiB, CPU and event-loop delay for every resource sample', async () => {
    const run = await recorded({ epochs: 2, stepsPerEpoch: 10, rss: (i) => (100 + 10 * i) * 1024 * 1024 });
    const svg = await renderChartSvg(chartSpec(run, 'resources'));
    const labels = pointLabels(svg);
    const samples = (built as BuiltRun).resources;
    expect(samples.length).toBeGreaterThan(5);
    expect(valuesOf(labels, /: RSS (\S+) MiB/)).toEqual(samples.map((_, i) => 100 + 10 * i));
    expect(valuesOf(labels, /: heap used \S+ MiB \((\d+) bytes\)/)).toEqual(
      samples.map((s) => s.heap_used_bytes),
    );
    expect(valuesOf(labels, /: CPU (\S+) %/)).toEqual(samples.map((s) => s.cpu_percent));
    expect(valuesOf(labels, /: event-loop delay (\S+) ms/)).toEqual(
      samples.map((s) => s.event_loop_delay_ms),
    );
    const text = svgElements(svg).map((e) => e.text);
    for (const panel of ['memory (MiB)', 'CPU (% of one core)', 'event-loop delay p99 (ms)'])
      expect(text).toContain(panel);
  });

  it('shows the broker’s denials in their own colour, counted over time', async () => {
    const run = await recorded({
      epochs: 1,
      stepsPerEpoch: 4,
      deniedAt: [0.01, 0.02],
      attestFailedAt: [0.015],
    });
    const spec = chartSpec(run, 'releases');
    const svg = await renderChartSvg(spec);
    const points = svgElements(svg).filter((e) => e.attrs['aria-roledescription'] === 'point');
    const denied = points.filter((p) => p.attrs['aria-label']?.startsWith('denied'));
    const allowed = points.filter((p) => p.attrs['aria-label']?.startsWith('allowed'));
    // The attestation failure is not a release; the broker's one allowed release comes first.
    expect(denied.map((p) => p.attrs['aria-label'])).toEqual([
      expect.stringMatching(
        /^denied 1 at 2026-11-01T10:00:00\.600Z \(0\.6 s from the run's start\): .*ERR_RELEASE_DENIED$/,
      ),
      expect.stringMatching(/^denied 2 at 2026-11-01T10:00:01\.200Z .*ERR_RELEASE_DENIED$/),
    ]);
    expect(allowed).toHaveLength(1);
    const fills = (ps: typeof points) => new Set(ps.map((p) => p.attrs.fill));
    expect(fills(denied).size).toBe(1);
    expect(fills(allowed).size).toBe(1);
    expect([...fills(denied)][0]).not.toBe([...fills(allowed)][0]);
    expect(spec.description).toMatch(/1 allowed and 2 denied over time, from the broker's audit log/);
    // Each denial is one higher than the last: the second sits above the first.
    const at = positions(svg, /^denied/);
    expect(at[1]?.y).toBeLessThan(at[0]?.y ?? 0);
  });

  it('reads the run’s own release entries when no broker log is given', async () => {
    const run = await recorded({ epochs: 1, stepsPerEpoch: 2, deniedAt: [0.01] }, false);
    const spec = chartSpec(run, 'releases');
    const labels = pointLabels(await renderChartSvg(spec));
    expect(labels).toEqual([
      expect.stringMatching(/^allowed 1 at 2026-11-01T09:59:58\.000Z \(-2 s from the run's start\)/),
    ]);
    expect(spec.description).toMatch(/from the run's audit log/);
  });
});

describe('charts of a run that recorded nothing', () => {
  it('render as "No data recorded" charts, each saying what is missing', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 1 });
    await writeFile(join(built.runDir, 'metrics.jsonl'), '');
    await rm(join(built.runDir, 'resources.jsonl'));
    const run = await readRecordedRun(built.runDir);
    const specs = chartSpecs(run);
    expect(specs.map((s) => [s.name, s.empty, s.points])).toEqual(CHART_NAMES.map((n) => [n, true, 0]));
    const charts = await renderRunCharts(run, { formats: ['svg', 'png'] });
    expect(charts.map((c) => c.name)).toEqual([...CHART_NAMES]);
    const missing = {
      loss: 'metrics.jsonl holds no finite loss.',
      accuracy: 'metrics.jsonl holds no epoch accuracy',
      resources: 'resources.jsonl holds no samples.',
      releases: 'No audit log was given, so no key release could be read.',
    };
    for (const chart of charts) {
      const elements = svgElements(chart.svg);
      expect(elements.some((e) => e.tag === 'text' && e.text === 'No data recorded')).toBe(true);
      expect(elements.find((e) => e.tag === 'title')?.text).toBe(chart.title);
      expect(elements[0]?.attrs['aria-label']).toContain(missing[chart.name]);
      expect(decodePng(chart.png as Buffer).ink).toBeGreaterThan(500);
    }
  });
});

describe('SVG output', () => {
  it('is well-formed XML, titled, self-contained, with ids unique to each chart', async () => {
    const run = await recorded({ epochs: 2, stepsPerEpoch: 5, deniedAt: [0.01] });
    const charts = await renderRunCharts(run);
    const ids: string[] = [];
    for (const chart of charts) {
      expect(chart.svg.startsWith('<svg ')).toBe(true);
      expect(chart.png).toBeUndefined();
      const elements = svgElements(chart.svg);
      expect(elements[0]?.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
      expect(elements[1]).toMatchObject({ tag: 'title', text: chart.title });
      expect(elements[0]?.attrs['aria-label']).toMatch(
        / of run feedfacecafebeef: |for run feedfacecafebeef: /,
      );
      const links = chart.svg.match(/https?:\/\/[^"'\s)]*/g) ?? [];
      expect(links.filter((l) => l !== 'http://www.w3.org/2000/svg')).toEqual([]);
      for (const e of elements) {
        for (const [name, value] of Object.entries(e.attrs))
          if (name.endsWith('href') || value.includes('url(')) expect(value).toMatch(/^#|url\(#/);
        if (e.attrs.id !== undefined) {
          expect(e.attrs.id.startsWith(`sealtrain-chart-${chart.name}-`)).toBe(true);
          ids.push(e.attrs.id);
        }
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is the same, byte for byte, for the same recorded run', async () => {
    const first = await renderRunCharts(await recorded({ epochs: 2, stepsPerEpoch: 4, deniedAt: [0.01] }));
    await built?.cleanup();
    const second = await renderRunCharts(await recorded({ epochs: 2, stepsPerEpoch: 4, deniedAt: [0.01] }));
    expect(second.map((c) => c.svg)).toEqual(first.map((c) => c.svg));
  });

  it('escapes text from the audit log instead of letting it break the document', async () => {
    const run = await recorded({ epochs: 1, stepsPerEpoch: 2 });
    const hostile = {
      ...run,
      manifest: { ...run.manifest, run_id: '<script>&"' },
      brokerAudit: run.brokerAudit?.map((e) => ({ ...e, key: { uri: 'azurekv://v/keys/<a&b>"' } })),
    };
    for (const name of CHART_NAMES) {
      const svg = await renderChartSvg(chartSpec(hostile, name));
      expect(svg).not.toContain('<script>');
      expect(svgElements(svg)[0]?.attrs['aria-label']).toContain('<script>&"');
    }
    expect(pointLabels(await renderChartSvg(chartSpec(hostile, 'releases')))[0]).toContain('<a&b>"');
  });
});

describe('PNG output', () => {
  it('decodes at the SVG’s size, or the asked width with its aspect ratio, and is not blank', async () => {
    const run = await recorded({ epochs: 2, stepsPerEpoch: 5, deniedAt: [0.01] });
    for (const spec of chartSpecs(run)) {
      const svg = await renderChartSvg(spec);
      const size = svgSize(svg);
      const png = decodePng(renderChartPng(svg));
      expect([png.width, png.height]).toEqual([size.width, size.height]);
      // Text, axes and marks: a blank or text-only image has far fewer non-white pixels.
      expect(png.ink / (png.width * png.height)).toBeGreaterThan(0.02);
      const wide = decodePng(renderChartPng(svg, { width: 1200 }));
      expect(wide.width).toBe(1200);
      expect(wide.height).toBe(Math.round((size.height * 1200) / size.width));
    }
  });

  it('draws the denied releases in red and the allowed one in green', async () => {
    const red = [0xc6, 0x28, 0x28] as const;
    const green = [0x2e, 0x7d, 0x32] as const;
    const quiet = renderChartPng(await renderChartSvg(chartSpec(await recorded({ epochs: 1 }), 'releases')));
    await built?.cleanup();
    const run = await recorded({ epochs: 1, deniedAt: [0.01, 0.02] });
    const png = renderChartPng(await renderChartSvg(chartSpec(run, 'releases')));
    // Both runs have the legend's symbols; only the one with denials has red marks and a red line.
    expect(pixelsNear(png, red)).toBeGreaterThan(pixelsNear(quiet, red) + 40);
    expect(pixelsNear(quiet, green)).toBeGreaterThan(40);
  });

  it('refuses a missing font file, a bad width and an SVG that is not one, naming the problem', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text y="5">x</text></svg>';
    const font = { file: '/nonexistent/font.ttf', family: 'Nothing' };
    const fail = (f: () => unknown, code: string) => rejectsWith(Promise.resolve().then(f), code);
    return Promise.all([
      fail(() => renderChartPng(svg, { font }), 'ERR_MONITOR_RENDER_FAILED').then((e) =>
        expect(e.message).toContain('/nonexistent/font.ttf'),
      ),
      fail(() => renderChartPng(svg, { width: 0 }), 'ERR_USAGE_INVALID'),
      fail(() => renderChartPng(svg, { width: 2.5 }), 'ERR_USAGE_INVALID'),
      fail(() => renderChartPng('<svg', { name: 'loss' }), 'ERR_MONITOR_RENDER_FAILED').then((e) =>
        expect(e.message).toMatch(/the loss chart/),
      ),
    ]);
  });
});
