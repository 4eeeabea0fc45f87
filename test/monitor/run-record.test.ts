import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecordedRun } from '../../src/monitor/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { type BuiltRun, buildRun } from './recorded-run.js';

let built: BuiltRun | undefined;
afterEach(async () => {
  await built?.cleanup();
  built = undefined;
});

describe('readRecordedRun', () => {
  it('reads the metrics, resources, card and the run’s audit entries from both logs', async () => {
    built = await buildRun({ epochs: 3, stepsPerEpoch: 4, deniedAt: [0.05, 10] });
    const run = await readRecordedRun(built.runDir, {
      auditDir: built.auditDir,
      brokerAuditDir: built.brokerAuditDir,
    });
    expect(run.manifest.run_id).toBe('feedfacecafebeef');
    expect(run.metrics).toHaveLength(3 * 4 + 3);
    expect(run.resources.length).toBe(built.resources.length);
    expect(run.card?.training.steps).toBe(12);
    expect(run.audit.map((e) => e.action)).toEqual([
      'run.release',
      'run.checkpoint',
      'run.checkpoint',
      'run.checkpoint',
      'run.model',
    ]);
    // The denial 3 s in is the run's; the one 10 minutes later is outside its window.
    expect(run.brokerAudit?.filter((e) => e.outcome === 'error')).toHaveLength(1);
    expect(run.window.start).toBe(built.start.toISOString());
  });

  it('skips a torn last line instead of failing', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 2 });
    await appendFile(join(built.runDir, 'metrics.jsonl'), '{"type":"step","epo');
    const run = await readRecordedRun(built.runDir);
    expect(run.metrics).toHaveLength(3);
    expect(run.audit).toEqual([]);
  });

  it('refuses a folder that is not a run, and a malformed card, naming the file', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 1 });
    expect((await rejectsWith(readRecordedRun(built.root), 'ERR_MONITOR_RUN_INVALID')).message).toMatch(
      /run\.json/,
    );
    await writeFile(join(built.runDir, 'model-card.json'), '{"version":9}');
    expect((await rejectsWith(readRecordedRun(built.runDir), 'ERR_MONITOR_RUN_INVALID')).message).toMatch(
      /model-card\.json/,
    );
  });
});
