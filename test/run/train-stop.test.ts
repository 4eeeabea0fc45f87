// Stopping `sealtrain train` (the built CLI, sim TEE, real broker over TLS). Alert rules live: a
// `stop` rule ends the run with exit 125 after sealing a checkpoint, records the alert in
// alerts.jsonl and the audit log, and --resume finishes it; a dead webhook does not keep the run
// from finishing; a bad rules file fails before any key is released. Ctrl-C: the first SIGINT
// seals a checkpoint and exits 130, and --resume finishes.

import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditEntries } from '../../src/audit/index.js';
import { listCheckpoints } from '../../src/run/index.js';
import { cli } from '../helpers/cli.js';
import { type RunFixture, startRunFixture, writeRunConfig } from './run-fixture.js';

let f: RunFixture;
beforeAll(async () => {
  f = await startRunFixture();
}, 120_000);
afterAll(async () => {
  await f?.cleanup();
});

const run = (args: string[]) => cli([...args, '--home', f.home]);

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('sealtrain train --alerts', () => {
  it('stops on a stop rule with a sealed checkpoint (exit 125), records the alert, and --resume finishes', async () => {
    const rules = join(f.dir, 'stop-rules.yaml');
    // Any process is over 1 MiB: the rule fires at the first resource sample, taken as training
    // starts, so the run stops before its first step however fast the machine.
    await writeFile(
      rules,
      'version: 1\nrules:\n  - name: memory-cap\n    when: { rss_above_mib: 1 }\n    severity: critical\n    actions: [log, stop]\n',
    );
    const config = await writeRunConfig(f, 'stopped', {
      data: f.prepared.large,
      model: { architecture: 'mlp', input_size: 64, hidden_size: 64, output_size: 4 },
      training: { batch_size: 16, learning_rate: 0.001, epochs: 12, seed: 3 },
    });
    const r = await run(['train', '--config', config, '--alerts', rules]);
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toContain('Alert rule "memory-cap" stopped the run');
    expect(r.stderr).toContain('--resume');
    const dir = join(f.dir, 'runs', 'stopped');
    expect((await listCheckpoints(dir)).length).toBeGreaterThan(0);
    await expect(readFile(join(dir, 'model.sealed'))).rejects.toThrow();
    const alerts = (await readFile(join(dir, 'alerts.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule: 'memory-cap', condition: 'rss_above_mib', severity: 'critical' });
    expect(alerts[0].actions).toContain('stop');
    const runId = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')).run_id;
    const recorded = await readAuditEntries(join(f.home, 'audit'), { action: 'monitor.alert' });
    expect(recorded.some((e) => e.details?.run_id === runId && e.details?.rule === 'memory-cap')).toBe(true);

    const resumed = await run(['train', '--config', config, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json?.epochs).toBe(12);

    // The report shows the alert; alerts test finds it again on the recorded run.
    const report = await run(['report', dir, '--json']);
    expect(report.code, report.stderr).toBe(0);
    expect(report.json?.alerts).toBe(1);
    const replay = await run(['alerts', 'test', rules, dir, '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.stringify(replay.json)).toContain('memory-cap');
  }, 180_000);

  it('finishes a run whose webhook is dead, and says the delivery did not go through', async () => {
    const secret = join(f.dir, 'hook.secret');
    await writeFile(secret, 'a-webhook-secret-of-enough-length');
    await chmod(secret, 0o600);
    const rules = join(f.dir, 'webhook-rules.yaml');
    await writeFile(
      rules,
      [
        'version: 1',
        'webhooks:',
        `  ops: { url: "https://127.0.0.1:${await deadPort()}/hook", secret_file: ${secret}, retries: 2 }`,
        'rules:',
        '  - { name: memory-note, when: { rss_above_mib: 1 }, actions: [log, { webhook: ops }] }',
        '',
      ].join('\n'),
    );
    const config = await writeRunConfig(f, 'dead-hook', { data: f.prepared.wdbc });
    const r = await run(['train', '--config', config, '--alerts', rules, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.epochs).toBe(5);
    expect(r.stderr).toContain('memory-note');
    // The run finished first; the delivery gave up (or was cut off at the end of the run) and said so.
    expect(r.stderr).toMatch(/webhook ops for alert memory-note: (gave-up|deadline)|did not go through/);
    expect(r.stderr).not.toContain('a-webhook-secret-of-enough-length');
    const alerts = await readFile(join(f.dir, 'runs', 'dead-hook', 'alerts.jsonl'), 'utf8');
    expect(alerts).not.toContain('a-webhook-secret');
  }, 120_000);

  it('refuses a rules file with an unknown field before any key is released (exit 35)', async () => {
    const rules = join(f.dir, 'bad-rules.yaml');
    await writeFile(
      rules,
      'version: 1\nrules:\n  - { name: x, when: { rss_above_mib: 1 }, actions: [log], colour: red }\n',
    );
    const config = await writeRunConfig(f, 'bad-rules', { data: f.prepared.wdbc });
    const countEntries = () =>
      readAuditEntries(join(f.home, 'audit')).then(
        (e) => e.length,
        () => 0,
      );
    const before = await countEntries();
    const r = await run(['train', '--config', config, '--alerts', rules]);
    expect(r.code).toBe(35);
    expect(r.stderr).toContain('colour');
    expect(r.stderr).toContain(rules);
    expect(await countEntries()).toBe(before);
    await expect(readFile(join(f.dir, 'runs', 'bad-rules', 'run.json'))).rejects.toThrow();
  }, 60_000);
});

describe('sealtrain train and Ctrl-C', () => {
  it('seals a checkpoint on the first SIGINT, exits 130, and --resume finishes the run', async () => {
    const config = await writeRunConfig(f, 'interrupted', {
      data: f.prepared.large,
      model: { architecture: 'mlp', input_size: 64, hidden_size: 64, output_size: 4 },
      training: { batch_size: 16, learning_rate: 0.001, epochs: 40, seed: 3 },
      output: { checkpoint_every_epochs: 0 },
    });
    const dir = join(f.dir, 'runs', 'interrupted');
    const r = await cli(['train', '--config', config, '--home', f.home], {
      // Once training has begun: the monitor writes its first resource sample as it starts.
      signalWhen: {
        signal: 'SIGINT',
        ready: () =>
          stat(join(dir, 'resources.jsonl')).then(
            (s) => s.size > 0,
            () => false,
          ),
      },
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('sealing a checkpoint');
    expect(r.stderr).toMatch(/checkpoint 1 was sealed\. Continue with --resume/);
    // checkpoint_every_epochs 0: the only checkpoint is the one the interrupt sealed.
    expect((await listCheckpoints(dir)).map((c) => c.counter)).toEqual([1]);
    await expect(readFile(join(dir, 'model.sealed'))).rejects.toThrow();
    const resumed = await run(['train', '--config', config, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ epochs: 40, resumed_from: 1 });
  }, 180_000);
});
