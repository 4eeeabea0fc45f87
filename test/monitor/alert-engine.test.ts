// The engine as a live run drives it: alerts.jsonl, the audit log, log lines and stop requests.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditEntries, verifyAuditLog } from '../../src/audit/index.js';
import {
  AlertEngine,
  type AlertRecord,
  parseAlertRules,
  readRecordedRun,
  type StopRequest,
  WebhookSender,
} from '../../src/monitor/index.js';
import type { StepMetric } from '../../src/run/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { type BuiltRun, buildRun, START } from './recorded-run.js';

const RULES = parseAlertRules(
  `version: 1
rules:
  - name: loss-nan
    when: { loss_not_finite: {} }
    severity: critical
    actions: [log, stop]
  - name: memory
    when: { rss_above_mib: 1024 }
    actions: [log]
  - name: budget
    when: { run_longer_than_minutes: 20 }
    actions: [log, stop]
  - name: denied
    when: { releases_denied: { count: 1 } }
    actions: [log]
`,
  'rules.yaml',
);

const at = (seconds: number) => new Date(START.getTime() + seconds * 1000);

function step(n: number, loss: number): StepMetric {
  const time = at(n).toISOString();
  return {
    type: 'step',
    epoch: 0,
    step: n,
    loss,
    accuracy: 0.5,
    learning_rate: 0.01,
    samples_per_second: 1,
    time,
  };
}

function sample(seconds: number, mib: number) {
  return {
    type: 'resources' as const,
    time: at(seconds).toISOString(),
    elapsed_seconds: seconds,
    cpu_percent: 100,
    rss_bytes: mib * 1024 * 1024,
    heap_used_bytes: 1,
    event_loop_delay_ms: 1,
  };
}

let built: BuiltRun;
let tmp: string;
beforeEach(async () => {
  built = await buildRun({ epochs: 1, stepsPerEpoch: 2 });
  tmp = await mkdtemp(join(tmpdir(), 'sealtrain-alert-engine-'));
});
afterEach(async () => {
  await built.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

describe('AlertEngine (live)', () => {
  it('appends each alert to alerts.jsonl and the audit log, prints it, and asks once to stop', async () => {
    const sink = await AuditLog.open(built.auditDir);
    const lines: string[] = [];
    const stops: StopRequest[] = [];
    const engine = new AlertEngine(RULES, {
      sink,
      actor: 'trainer',
      runId: 'feedfacecafebeef',
      alertsPath: join(built.runDir, 'alerts.jsonl'),
      log: (line) => lines.push(line),
      startedAt: START,
    });
    engine.onStop((s) => stops.push(s));
    engine.observeMetric(step(1, 1.2));
    expect(engine.stopRequested).toBeUndefined();
    engine.observeMetric(step(2, Number.NaN));
    engine.observeMetric(step(3, Number.NaN));
    engine.observeResources(sample(3, 2048));
    engine.observeResources(sample(4, 3000));
    await engine.close();
    await sink.close();

    expect(stops).toEqual([
      { rule: 'loss-nan', message: expect.stringMatching(/NaN at step 2/), time: at(2).toISOString() },
    ]);
    expect(engine.stopRequested).toEqual(stops[0]);
    expect(lines).toEqual([
      expect.stringMatching(/^sealtrain: alert loss-nan \[critical\]: The training loss is NaN at step 2/),
      'sealtrain: alert memory [warning]: Resident memory is 2048 MiB, above 1024 MiB.',
    ]);
    const fired = engine.fired();
    expect(fired.map((a) => [a.rule, a.actions])).toEqual([
      ['loss-nan', ['log', 'stop']],
      ['memory', ['log']],
    ]);
    // alerts.jsonl holds exactly the records, and the run reader reads them back.
    const text = await readFile(join(built.runDir, 'alerts.jsonl'), 'utf8');
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AlertRecord),
    ).toEqual(fired);
    expect((await readRecordedRun(built.runDir)).alerts).toEqual(fired);
    // One monitor.alert entry per alert, primitives only, and the chain still verifies.
    const entries = await readAuditEntries(built.auditDir, { action: 'monitor.alert' });
    expect(entries.map((e) => [e.actor, e.details])).toEqual([
      [
        'trainer',
        {
          rule: 'loss-nan',
          condition: 'loss_not_finite',
          severity: 'critical',
          message: fired[0]?.message,
          run_id: 'feedfacecafebeef',
        },
      ],
      [
        'trainer',
        {
          rule: 'memory',
          condition: 'rss_above_mib',
          severity: 'warning',
          message: fired[1]?.message,
          value: 2048,
          run_id: 'feedfacecafebeef',
        },
      ],
    ]);
    expect((await verifyAuditLog(built.auditDir)).ok).toBe(true);
  });

  it('spends the time budget once, on tick, from the run’s start', async () => {
    const engine = new AlertEngine(RULES, { startedAt: START, log: () => {} });
    engine.tick(at(19 * 60));
    expect(engine.fired()).toEqual([]);
    engine.tick(at(21 * 60));
    engine.tick(at(40 * 60));
    expect(engine.fired().map((a) => [a.rule, a.value])).toEqual([['budget', 21]]);
    expect(engine.stopRequested?.rule).toBe('budget');
  });

  it('reads audit events as they are recorded, without a time of their own, and ignores its own', async () => {
    const engine = new AlertEngine(RULES, { clock: () => at(5), log: () => {} });
    engine.observeAudit({
      actor: 'sealtrain',
      action: 'monitor.alert',
      outcome: 'error',
      code: 'ERR_RELEASE_DENIED',
    });
    expect(engine.fired()).toEqual([]);
    engine.observeAudit({ actor: 'w', action: 'run.release', outcome: 'error', code: 'ERR_RELEASE_DENIED' });
    expect(engine.fired().map((a) => [a.rule, a.time])).toEqual([['denied', at(5).toISOString()]]);
  });

  it('keeps observing when alerts.jsonl cannot be written, and reports it from close', async () => {
    const engine = new AlertEngine(RULES, { alertsPath: join(tmp, 'gone', 'alerts.jsonl'), log: () => {} });
    engine.observeMetric(step(1, Number.NaN));
    engine.observeResources(sample(2, 4096));
    expect(engine.fired()).toHaveLength(2);
    const error = await rejectsWith(engine.close(), 'ERR_IO_NOT_FOUND');
    expect(error.message).toContain(join(tmp, 'gone', 'alerts.jsonl'));
  });

  it('refuses rules that post to a webhook its sender does not know', async () => {
    const rules = parseAlertRules(
      `version: 1
webhooks:
  ops: { url: "https://127.0.0.1:1/x", secret_file: s }
rules:
  - { name: r, when: { loss_not_finite: {} }, actions: [{ webhook: ops }] }
`,
      'rules.yaml',
    );
    const sender = new WebhookSender([]);
    expect(() => new AlertEngine(rules, { webhooks: sender })).toThrow(/Rule r posts to webhook "ops"/);
    // Without a sender the webhook actions are a dry run.
    const dry = new AlertEngine(rules, { log: () => {} });
    dry.observeMetric(step(1, Number.NaN));
    expect(dry.fired()[0]?.actions).toEqual(['webhook']);
    await sender.close();
  });
});
