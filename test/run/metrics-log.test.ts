// metrics.jsonl as training writes it: lines queued without a promise per step, appended in order,
// and an append that fails is reported once asked for, with nothing appended after it.

import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readMetrics } from '../../src/run/index.js';
import { MetricsLog, type RunMetric } from '../../src/run/metrics-log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-metrics-'));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const step = (n: number): RunMetric => ({
  type: 'step',
  epoch: 0,
  step: n,
  loss: 1 / n,
  accuracy: null,
  learning_rate: 0.001,
  samples_per_second: 100,
  time: new Date(0).toISOString(),
});

describe('MetricsLog', () => {
  it('queues a step without a promise or a write, and appends the queue in order on flush', async () => {
    const path = join(dir, 'ordered.jsonl');
    const seen: number[] = [];
    const log = new MetricsLog(path, (m) => {
      seen.push(m.step);
      if (m.step === 2) throw new Error('a monitor that fails');
    });
    for (let n = 1; n <= 3; n++) expect(log.add(step(n))).toBeUndefined();
    // Within the first second nothing is written yet.
    await log.written();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await log.flush();
    log.add(step(4));
    await log.flush();
    expect((await readMetrics(path)).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('appends on its own once a second has passed since the last append', async () => {
    const path = join(dir, 'timed.jsonl');
    let clock = 1_000_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => clock);
    try {
      const log = new MetricsLog(path);
      log.add(step(1));
      clock += 999;
      log.add(step(2));
      await log.written();
      await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
      clock += 1;
      log.add(step(3));
      await log.written();
      expect((await readMetrics(path)).map((m) => m.step)).toEqual([1, 2, 3]);
    } finally {
      now.mockRestore();
    }
  });

  it('reports a failed append by the file, and appends nothing after it', async () => {
    // The first append fails (no folder); once the folder exists, a later append must still not
    // land, or the file would have a gap that reads as a whole record of the run.
    const folder = join(dir, 'later');
    const path = join(folder, 'metrics.jsonl');
    const log = new MetricsLog(path);
    log.add(step(1));
    const failure = { code: 'ERR_IO_NOT_FOUND', message: expect.stringContaining(path) };
    await expect(log.flush()).rejects.toMatchObject(failure);
    await mkdir(folder);
    log.add(step(2));
    await expect(log.flush()).rejects.toMatchObject(failure);
    await expect(log.written()).rejects.toMatchObject(failure);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
