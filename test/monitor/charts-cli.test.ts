import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { decodePng, pointLabels, svgElements, svgSize, valuesOf } from './charts-read.js';
import { type BuiltRun, buildRun } from './recorded-run.js';

let built: BuiltRun | undefined;
afterEach(async () => {
  await built?.cleanup();
  built = undefined;
});

const NAMES = ['loss', 'accuracy', 'resources', 'releases'];

describe('sealtrain charts', () => {
  it('writes every chart as SVG and PNG, the releases from the broker log, and lists them with --json', async () => {
    built = await buildRun({ epochs: 2, stepsPerEpoch: 6, deniedAt: [0.01] });
    const out = join(built.root, 'charts');
    const r = await cli([
      'charts',
      built.runDir,
      '-o',
      out,
      '--broker-audit',
      built.brokerAuditDir,
      '--home',
      join(built.root, 'no-home'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, run: 'feedfacecafebeef', output: out });
    expect(r.json?.charts).toEqual(
      NAMES.map((name) => ({ name, svg: join(out, `${name}.svg`), png: join(out, `${name}.png`) })),
    );
    expect((await readdir(out)).sort()).toEqual(NAMES.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort());
    for (const name of NAMES) {
      const svg = await readFile(join(out, `${name}.svg`), 'utf8');
      const png = decodePng(await readFile(join(out, `${name}.png`)));
      expect([png.width, png.height]).toEqual(Object.values(svgSize(svg)));
      expect(png.ink).toBeGreaterThan(1000);
    }
    const loss = pointLabels(await readFile(join(out, 'loss.svg'), 'utf8'));
    const steps = built.metrics.filter((m) => m.type === 'step');
    expect(valuesOf(loss, /^step \d+: train loss (\S+)$/)).toEqual(steps.map((m) => m.loss));
    const releases = pointLabels(await readFile(join(out, 'releases.svg'), 'utf8'));
    expect(releases.filter((l) => l.startsWith('denied'))).toHaveLength(1);
  });

  it('reads releases from <home>/audit when no broker log is given, and writes only the asked format', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 3 });
    const out = join(built.root, 'charts');
    // buildRun's audit log is <root>/audit: the root is the home.
    const r = await cli(['charts', built.runDir, '-o', out, '--format', 'svg', '--home', built.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toContain(`Wrote 4 chart files for run feedfacecafebeef to ${out}`);
    expect((await readdir(out)).sort()).toEqual(NAMES.map((n) => `${n}.svg`).sort());
    const svg = await readFile(join(out, 'releases.svg'), 'utf8');
    expect(svgElements(svg)[0]?.attrs['aria-label']).toContain("from the run's audit log");
    expect(pointLabels(svg)).toEqual([expect.stringMatching(/^allowed 1 at /)]);
  });

  it('sizes PNGs with --width and writes PNG only with --format png', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 3 });
    const out = join(built.root, 'charts');
    const r = await cli(['charts', built.runDir, '-o', out, '--format', 'png', '--width', '900', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(((r.json?.charts ?? []) as Array<{ svg: unknown }>).map((c) => c.svg)).toEqual([
      null,
      null,
      null,
      null,
    ]);
    for (const name of NAMES) expect(decodePng(await readFile(join(out, `${name}.png`))).width).toBe(900);
    expect((await readdir(out)).every((f) => f.endsWith('.png'))).toBe(true);
  });

  it('refuses a folder that is not a run with exit 37, naming it, and writes nothing', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 1 });
    const out = join(built.root, 'charts');
    const r = await cli(['charts', built.root, '-o', out, '--json']);
    expect(r.code).toBe(37);
    expect(r.json).toMatchObject({ ok: false, error: { code: 'ERR_MONITOR_RUN_INVALID' } });
    expect(r.stderr).toContain(`${built.root} is not a run folder`);
    await expect(stat(out)).rejects.toThrow();
  });

  it('leaves existing charts as they were unless --force, and names the file in the way', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 2 });
    const out = join(built.root, 'charts');
    expect((await cli(['charts', built.runDir, '-o', out, '--format', 'svg'])).code).toBe(0);
    await writeFile(join(out, 'accuracy.svg'), 'kept');
    const first = await readFile(join(out, 'loss.svg'), 'utf8');
    await writeFile(join(out, 'loss.svg'), 'old loss');
    const refused = await cli(['charts', built.runDir, '-o', out]);
    expect(refused.code).toBe(11);
    expect(refused.stderr).toContain(join(out, 'loss.svg'));
    expect(await readFile(join(out, 'loss.svg'), 'utf8')).toBe('old loss');
    expect(await readFile(join(out, 'accuracy.svg'), 'utf8')).toBe('kept');
    expect((await readdir(out)).some((f) => f.endsWith('.png'))).toBe(false);
    const forced = await cli(['charts', built.runDir, '-o', out, '--format', 'svg', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(join(out, 'loss.svg'), 'utf8')).toBe(first);
  });

  it('rejects a bad --format, --width or -o - with exit 2', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 1 });
    const out = join(built.root, 'charts');
    for (const args of [
      ['--format', 'jpeg'],
      ['--width', 'wide'],
      ['--width', '0'],
    ]) {
      const r = await cli(['charts', built.runDir, '-o', out, ...args, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.json).toMatchObject({ ok: false, error: { code: 'ERR_USAGE_INVALID' } });
      expect(r.stderr).toContain(args[0] ?? '');
    }
    expect((await cli(['charts', built.runDir, '-o', '-'])).code).toBe(2);
    expect((await cli(['charts', built.runDir])).code).toBe(2);
    await expect(stat(out)).rejects.toThrow();
  });
});
