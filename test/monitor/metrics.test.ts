// Monitoring a run: the Prometheus endpoint during training serves the figures metrics.jsonl
// records, resources.jsonl gets samples of the process, the broker exposes its own process, and a
// port in use fails before anything else happens.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import { loadLineageSigningKey, prepareDataset } from '../../src/data/index.js';
import { LocalKeyring } from '../../src/kms/index.js';
import { ResourceSampler, RunMonitor, readRecordedRun, serveMetrics } from '../../src/monitor/index.js';
import { parseRunConfig, readMetrics, resolveInputs, runTraining } from '../../src/run/index.js';
import { brokerWithPrincipals, raw, tempDir } from '../broker/helpers.js';
import { rejectsWith } from '../helpers/rejects.js';

let dir: string;
let ring: LocalKeyring;
let audit: AuditLog;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-monitor-run-'));
  ring = await LocalKeyring.init(join(dir, 'keyring'), randomBytes(16), { scryptCost: 1024 });
  await ring.create('owner');
  audit = await AuditLog.open(join(dir, 'audit'));
  const rows = ['a,b,c,label'];
  for (let i = 0; i < 600; i++) rows.push(`${i % 7},${(i * 3) % 11},${(i * 5) % 13},${i % 2 ? 'p' : 'n'}`);
  await writeFile(join(dir, 'data.csv'), `${rows.join('\n')}\n`);
  await prepareDataset(join(dir, 'data.csv'), join(dir, 'prepared'), {
    infer: { label: 'label' },
    signingKey: await loadLineageSigningKey(dir),
  });
});
afterAll(async () => {
  ring?.close();
  await audit?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Prometheus text → value of the first series named `name` (labels ignored). */
function value(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('a monitored training run', () => {
  it('serves the figures metrics.jsonl records on /metrics, labelled with the run, and samples resources', async () => {
    const config = parseRunConfig(
      {
        model: { architecture: 'mlp', input_size: 3, hidden_size: 16, output_size: 2 },
        training: { batch_size: 16, learning_rate: 0.01, epochs: 4, seed: 3 },
        security: { key: 'local:owner', attestation: false },
        data: { dir: 'prepared' },
        output: { dir: 'run', checkpoint_every_epochs: 0 },
      },
      join(dir, 'train.json'),
    );
    const monitor = new RunMonitor({ metricsPort: 0, sampleIntervalMs: 100 });
    const url = await monitor.listen();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scrapes: string[] = [];
    try {
      await runTraining(config, {
        keys: { providers: [ring], attestation: undefined, released: [], close: () => {} },
        inputs: await resolveInputs(config),
        audit: { sink: audit, actor: 'test' },
        auditDir: join(dir, 'audit'),
        tee: 'none',
        observer: monitor,
        // Scraped while the run is live, between epochs.
        onEpoch: () => {
          void fetch(String(url)).then(async (r) => scrapes.push(await r.text()));
        },
      });
      const text = await (await fetch(String(url))).text();
      const metrics = await readMetrics(join(dir, 'run', 'metrics.jsonl'));
      const steps = metrics.filter((m) => m.type === 'step');
      const epochs = metrics.filter((m) => m.type === 'epoch');
      const last = steps[steps.length - 1];
      const manifest = JSON.parse(await readFile(join(dir, 'run', 'run.json'), 'utf8'));
      expect(text).toContain(`run_id="${manifest.run_id}"`);
      expect(value(text, 'sealtrain_train_steps_total')).toBe(steps.length);
      expect(value(text, 'sealtrain_train_loss')).toBeCloseTo(last?.loss ?? Number.NaN, 12);
      expect(value(text, 'sealtrain_train_learning_rate')).toBe(last?.learning_rate);
      expect(value(text, 'sealtrain_train_epoch')).toBe(epochs.length);
      expect(value(text, 'sealtrain_train_validation_loss')).toBeCloseTo(
        epochs[epochs.length - 1]?.validation_loss ?? Number.NaN,
        12,
      );
      expect(value(text, 'sealtrain_train_process_rss_bytes')).toBeGreaterThan(10 * 1024 * 1024);
      expect(scrapes.length).toBeGreaterThan(0);

      const run = await readRecordedRun(join(dir, 'run'));
      expect(run.resources.length).toBeGreaterThan(0);
      for (const r of run.resources) {
        expect(r.rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
        expect(r.heap_used_bytes).toBeGreaterThan(0);
        expect(r.cpu_percent).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(r.event_loop_delay_ms)).toBe(true);
        expect(Date.parse(r.time)).toBeGreaterThanOrEqual(Date.parse(manifest.created));
      }
    } finally {
      await monitor.close();
    }
    await expect(fetch(String(url))).rejects.toThrow();
  });

  it('refuses a metrics port in use before the run starts, naming the port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const monitor = new RunMonitor({ metricsPort: port });
      const error = await rejectsWith(monitor.listen(), 'ERR_USAGE_INVALID');
      expect(error.message).toContain(`--metrics-port ${port}`);
    } finally {
      blocker.close();
    }
  });

  it('labels the figures with the run even when the port is bound after the run started', async () => {
    const runDir = await mkdtemp(join(dir, 'late-'));
    const monitor = new RunMonitor({ metricsPort: 0 });
    try {
      const manifest = { run_id: 'run-late-listen' } as Parameters<RunMonitor['started']>[1];
      await monitor.started(runDir, manifest);
      const url = await monitor.listen();
      const text = await (await fetch(String(url))).text();
      expect(text).toMatch(/^sealtrain_train_process_rss_bytes\{run_id="run-late-listen"\} \d+/m);
      await monitor.finished();
    } finally {
      await monitor.close();
    }
  });

  it('binds nothing without a port, and TrainingMetrics refuses anything but the sampler it serves', async () => {
    const monitor = new RunMonitor();
    expect(await monitor.listen()).toBeUndefined();
    const { TrainingMetrics } = await import('../../src/monitor/index.js');
    expect(() => new TrainingMetrics({ intervalMs: 100 } as never)).toThrow(/new TrainingMetrics\(sampler\)/);
    const served = new TrainingMetrics(monitor.sampler);
    expect(await served.registry.metrics()).toContain('sealtrain_train_process_cpu_percent');
    await monitor.close();
  });

  it('answers 404 off /metrics', async () => {
    const server = await serveMetrics(new Registry(), { port: 0 });
    try {
      const res = await fetch(server.url.replace('/metrics', '/'));
      expect(res.status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('measures CPU over the interval as the OS counts it: a busy loop shows, an idle wait does not', async () => {
    const sampler = new ResourceSampler();
    sampler.sample();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const until = Date.now() + 200;
    while (Date.now() < until) {}
    const busy = sampler.sample();
    const used = process.cpuUsage(cpu0);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const idle = sampler.sample();
    // However loaded the machine, the figure is this process's CPU time over the wall time.
    const expected = ((used.user + used.system) / wallUs) * 100;
    expect(Math.abs(busy.cpu_percent - expected)).toBeLessThan(15);
    expect(busy.cpu_percent).toBeGreaterThan(idle.cpu_percent);
  });
});

describe('the broker', () => {
  it('exposes its own process resources on /metrics', async () => {
    const tmp = await tempDir();
    const { broker, owner } = await brokerWithPrincipals(tmp.dir);
    try {
      const text = await (await raw(broker, '/metrics', { token: owner })).text();
      expect(value(text, 'sealtrain_broker_process_rss_bytes')).toBeGreaterThan(10 * 1024 * 1024);
      expect(value(text, 'sealtrain_broker_process_heap_used_bytes')).toBeGreaterThan(0);
      expect(value(text, 'sealtrain_broker_process_cpu_percent')).toBeGreaterThanOrEqual(0);
      expect(text).toContain('sealtrain_broker_process_event_loop_delay_seconds');
    } finally {
      await broker.close();
      await tmp.cleanup();
    }
  });
});
