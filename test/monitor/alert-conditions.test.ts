// Each condition fires on a recorded run built for it and stays quiet on its twin.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import { evaluateRecordedRun, parseAlertRules, readRecordedRun } from '../../src/monitor/index.js';
import { type BuildRunOptions, type BuiltRun, buildRun, START } from './recorded-run.js';

const built: BuiltRun[] = [];
afterEach(async () => {
  for (const b of built.splice(0)) await b.cleanup();
});

async function make(options: BuildRunOptions): Promise<BuiltRun> {
  const b = await buildRun(options);
  built.push(b);
  return b;
}

const rulesOf = (when: string) =>
  parseAlertRules(`version: 1\nrules:\n  - name: r\n    when: ${when}\n    actions: [log]\n`, 'rules.yaml');

async function alerts(b: BuiltRun, when: string, logs: { broker?: boolean; audit?: boolean } = {}) {
  const run = await readRecordedRun(b.runDir, {
    ...(logs.audit === false ? {} : { auditDir: b.auditDir }),
    ...(logs.broker === false ? {} : { brokerAuditDir: b.brokerAuditDir }),
  });
  return evaluateRecordedRun(rulesOf(when), run, { log: () => {} });
}

const minutesAfterStart = (iso: string) => (Date.parse(iso) - START.getTime()) / 60_000;
/** 50 steps a minute apart: a 50-minute run, long enough for windows of minutes. */
const LONG = { secondsPerStep: 60 } as const;

describe('releases_denied', () => {
  const when = '{ releases_denied: { count: 3, within_minutes: 10 } }';

  it('fires at the third denial within 10 minutes, and not for three spread over 30', async () => {
    const [fired] = await alerts(await make({ ...LONG, deniedAt: [5, 8, 12] }), when);
    expect(fired?.condition).toBe('releases_denied');
    expect(fired?.value).toBe(3);
    expect(minutesAfterStart(fired?.time ?? '')).toBe(12);
    expect(fired?.message).toMatch(/3 key release\(s\) denied by policy within 10 min.*data-key/);
    expect(await alerts(await make({ ...LONG, deniedAt: [5, 20, 35] }), when)).toEqual([]);
  });

  it('fires once per burst: a fourth denial in the same window adds nothing, a later burst fires again', async () => {
    const fired = await alerts(await make({ ...LONG, deniedAt: [1, 2, 3, 4, 30, 31, 32] }), when);
    expect(fired.map((a) => minutesAfterStart(a.time))).toEqual([3, 32]);
  });

  it('counts a denial once when both the run and the broker logged it', async () => {
    const b = await make({ ...LONG, deniedAt: [5, 6] });
    // The run saw the same two refusals from its side.
    let clock = new Date(START.getTime() + 5 * 60_000);
    const log = await AuditLog.open(b.auditDir, { clock: () => clock });
    for (const m of [5, 6]) {
      clock = new Date(START.getTime() + m * 60_000);
      await log.record({
        actor: 'test',
        action: 'run.release',
        outcome: 'error',
        code: 'ERR_RELEASE_DENIED',
        key: { uri: 'azurekv://127.0.0.1:8443/keys/data-key' },
      });
    }
    await log.close();
    const three = '{ releases_denied: { count: 3, within_minutes: 10 } }';
    const two = '{ releases_denied: { count: 2, within_minutes: 10 } }';
    expect(await alerts(b, three)).toEqual([]);
    expect(await alerts(b, two)).toHaveLength(1);
    // Without the broker's log, the run's own entries are what there is.
    expect(await alerts(b, two, { broker: false })).toHaveLength(1);
  });
});

describe('attestation_failed', () => {
  it('fires on any attestation failure at the broker, and not on a clean run', async () => {
    const [fired, more] = await alerts(
      await make({ ...LONG, attestFailedAt: [7] }),
      '{ attestation_failed: {} }',
    );
    expect(fired?.message).toMatch(/ERR_ATTEST_REJECTED at broker\.attest\.evidence/);
    expect(more).toBeUndefined();
    expect(await alerts(await make({ ...LONG, deniedAt: [7] }), '{ attestation_failed: {} }')).toEqual([]);
  });
});

describe('loss_not_finite', () => {
  const base = (s: number) => 2 / (1 + 0.1 * s);

  it('fires once at the first NaN loss (stored as null), not at every NaN step', async () => {
    const b = await make({ loss: (s) => (s >= 23 ? Number.NaN : base(s)) });
    expect((await readFile(join(b.runDir, 'metrics.jsonl'), 'utf8')).includes('"loss":null')).toBe(true);
    const fired = await alerts(b, '{ loss_not_finite: {} }');
    expect(fired).toHaveLength(1);
    expect(fired[0]?.message).toMatch(/NaN .* at step 23, epoch 2/);
    expect(fired[0]?.value).toBeUndefined();
  });

  it('re-arms after a finite loss, and stays quiet on a finite run', async () => {
    const twice = await make({ loss: (s) => (s === 10 || s === 30 ? Number.POSITIVE_INFINITY : base(s)) });
    expect((await alerts(twice, '{ loss_not_finite: {} }')).map((a) => a.message)).toEqual([
      expect.stringMatching(/step 10,/),
      expect.stringMatching(/step 30,/),
    ]);
    expect(await alerts(await make({}), '{ loss_not_finite: {} }')).toEqual([]);
  });
});

describe('loss_diverging', () => {
  const when = '{ loss_diverging: { factor: 3, window_steps: 10 } }';

  it('fires when the loss climbs to over 3 × its best 10-step mean', async () => {
    const b = await make({ loss: (s) => (s <= 20 ? 2 / (1 + 0.1 * s) : 0.67 * 1.2 ** (s - 20)) });
    const [fired] = await alerts(b, when);
    expect(fired?.condition).toBe('loss_diverging');
    expect(fired?.message).toMatch(/3\.\d+ × the best such mean .*fires above 3 ×/);
    expect(fired?.value).toBeGreaterThan(3 * 0.7);
  });

  it('stays quiet on a falling loss and on a noisy flat one', async () => {
    expect(await alerts(await make({}), when)).toEqual([]);
    expect(await alerts(await make({ loss: (s) => (s % 2 === 0 ? 1.5 : 0.5) }), when)).toEqual([]);
  });
});

describe('rss_above_mib', () => {
  const GiB = 1024 ** 3;

  it('fires when resident memory goes over the threshold, once per episode', async () => {
    const b = await make({ rss: (i) => ((i >= 5 && i < 8) || i >= 15 ? 5 * GiB : 200 * 1024 ** 2) });
    const fired = await alerts(b, '{ rss_above_mib: 4096 }');
    expect(fired.map((a) => a.value)).toEqual([5120, 5120]);
    expect(fired[0]?.message).toBe('Resident memory is 5120 MiB, above 4096 MiB.');
  });

  it('stays quiet under the threshold', async () => {
    expect(await alerts(await make({ rss: () => 4096 * 1024 ** 2 }), '{ rss_above_mib: 4096 }')).toEqual([]);
  });
});

describe('audit_verification_failed', () => {
  async function editLine(dir: string, index: number, edit: (line: string) => string): Promise<void> {
    const path = join(dir, 'audit.jsonl');
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[index] = edit(lines[index] ?? '');
    await writeFile(path, lines.join('\n'));
  }

  it('fires when one line of the run’s audit log was edited, and not for the intact log', async () => {
    const intact = await make({ epochs: 3 });
    expect(await alerts(intact, '{ audit_verification_failed: {} }')).toEqual([]);
    const b = await make({ epochs: 3 });
    await editLine(b.auditDir, 2, (l) => l.replace('"counter":2', '"counter":7'));
    const [fired] = await alerts(b, '{ audit_verification_failed: {} }');
    expect(fired?.message).toContain(`The audit log ${b.auditDir} failed verification`);
    expect(fired?.message).toMatch(/edited|hash/i);
  });

  it('fires when a line was deleted from the broker’s log', async () => {
    const b = await make({ ...LONG, deniedAt: [1, 2] });
    await editLine(b.brokerAuditDir, 1, () => '');
    const fired = await alerts(b, '{ audit_verification_failed: {} }');
    expect(fired.map((a) => a.message)).toEqual([expect.stringContaining(b.brokerAuditDir)]);
  });

  it('sees nothing without an audit folder', async () => {
    const b = await make({});
    await editLine(b.auditDir, 1, (l) => l.replace('"outcome":"ok"', '"outcome":"error"'));
    expect(await alerts(b, '{ audit_verification_failed: {} }', { audit: false, broker: false })).toEqual([]);
  });
});

describe('run_longer_than_minutes', () => {
  it('fires once when the run passes its budget, and not for a shorter run', async () => {
    const long = await make({ secondsPerStep: 20 });
    const fired = await alerts(long, '{ run_longer_than_minutes: 10 }');
    expect(fired).toHaveLength(1);
    // At the first observation past 10 minutes (resources are sampled every second).
    expect(minutesAfterStart(fired[0]?.time ?? '')).toBeGreaterThan(10);
    expect(minutesAfterStart(fired[0]?.time ?? '')).toBeLessThan(10.1);
    expect(fired[0]?.message).toBe('The run has lasted 10.02 min, over its budget of 10 min.');
    expect(await alerts(await make({ secondsPerStep: 10 }), '{ run_longer_than_minutes: 10 }')).toEqual([]);
  });
});

describe('evaluateRecordedRun', () => {
  it('writes nothing unless asked: no alerts.jsonl, the audit logs unchanged', async () => {
    const b = await make({ loss: () => Number.NaN, ...LONG, deniedAt: [1, 2, 3] });
    const before = await readFile(join(b.auditDir, 'audit.jsonl'), 'utf8');
    const all = parseAlertRules(
      await readFile(new URL('../../examples/alerts.yaml', import.meta.url), 'utf8'),
      'alerts.yaml',
    );
    const run = await readRecordedRun(b.runDir, { auditDir: b.auditDir, brokerAuditDir: b.brokerAuditDir });
    const fired = await evaluateRecordedRun(all, run);
    expect(fired.map((a) => a.rule).sort()).toEqual(['loss-nan', 'releases-denied']);
    expect(await readdir(b.runDir)).not.toContain('alerts.jsonl');
    expect(await readFile(join(b.auditDir, 'audit.jsonl'), 'utf8')).toBe(before);
  });
});
