// Builds recorded run folders for the monitor tests: run.json, metrics.jsonl, resources.jsonl and
// audit logs (the run's and the broker's, real hash-chained logs) shaped for each alert condition.
// Each knob changes one thing, so a test can build the run that should fire a rule and the twin
// that should not.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/index.js';
import type { ResourceSample } from '../../src/monitor/index.js';
import type { EpochMetric, RunManifest, StepMetric } from '../../src/run/index.js';

export interface BuildRunOptions {
  /** Epochs (default 5) and steps per epoch (default 10). */
  readonly epochs?: number;
  readonly stepsPerEpoch?: number;
  /** The loss of step `step` (1-based); default a falling curve 2/(1+0.1·step). */
  readonly loss?: (step: number) => number;
  /** RSS of resource sample `i`; default 200 MiB. */
  readonly rss?: (i: number) => number;
  /** Seconds between steps (default 0.5), so a run's length can be chosen. */
  readonly secondsPerStep?: number;
  /** Broker release denials, as minutes after the start; default none. */
  readonly deniedAt?: readonly number[];
  /** Broker attestation failures, as minutes after the start; default none. */
  readonly attestFailedAt?: readonly number[];
  /** `sim` (default) or another TEE type for run.json. */
  readonly tee?: string;
  /** Write a model card (default true). */
  readonly finished?: boolean;
}

export interface BuiltRun {
  readonly root: string;
  readonly runDir: string;
  readonly auditDir: string;
  readonly brokerAuditDir: string;
  readonly start: Date;
  readonly metrics: readonly (StepMetric | EpochMetric)[];
  readonly resources: readonly ResourceSample[];
  cleanup(): Promise<void>;
}

/** The start time of every built run: fixed, so the files are reproducible. */
export const START = new Date('2026-11-01T10:00:00.000Z');

/** Writes a run folder and its audit logs under a new temporary folder. */
export async function buildRun(o: BuildRunOptions = {}): Promise<BuiltRun> {
  const root = await mkdtemp(join(tmpdir(), 'sealtrain-monitor-'));
  const runDir = join(root, 'run');
  const auditDir = join(root, 'audit');
  const brokerAuditDir = join(root, 'broker-audit');
  await mkdir(join(runDir, 'checkpoints'), { recursive: true });
  const epochs = o.epochs ?? 5;
  const per = o.stepsPerEpoch ?? 10;
  const dt = (o.secondsPerStep ?? 0.5) * 1000;
  const loss = o.loss ?? ((s: number) => 2 / (1 + 0.1 * s));
  const at = (ms: number) => new Date(START.getTime() + ms);
  const runId = 'feedfacecafebeef';
  const manifest: RunManifest = {
    version: 1,
    run_id: runId,
    created: START.toISOString(),
    config_sha256: 'a'.repeat(64),
    training_sha256: 'b'.repeat(64),
    tee: o.tee ?? 'sim',
    data_sha256: { train: 'c'.repeat(64) },
  };
  await writeFile(join(runDir, 'run.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const metrics: (StepMetric | EpochMetric)[] = [];
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    let sum = 0;
    for (let i = 0; i < per; i++) {
      step++;
      const l = loss(step);
      sum += l;
      metrics.push({
        type: 'step',
        epoch: e,
        step,
        loss: l,
        accuracy: Math.min(1, 0.5 + step / (2 * epochs * per)),
        learning_rate: 0.001,
        samples_per_second: 5000 + step,
        time: at(step * dt).toISOString(),
      });
    }
    // As the run writes them: step lines carry the epoch's index, epoch lines the epochs done.
    metrics.push({
      type: 'epoch',
      epoch: e + 1,
      step,
      loss: sum / per,
      accuracy: Math.min(1, 0.5 + step / (2 * epochs * per)),
      validation_loss: sum / per + 0.01,
      validation_accuracy: Math.min(1, 0.45 + step / (2 * epochs * per)),
      seconds: (per * dt) / 1000,
      samples_per_second: 5000,
      time: at(step * dt).toISOString(),
    });
  }
  // JSON.stringify writes NaN and Infinity as null: a diverged loss is stored as null.
  await writeFile(join(runDir, 'metrics.jsonl'), metrics.map((m) => `${JSON.stringify(m)}\n`).join(''));

  const resources: ResourceSample[] = [];
  const samples = Math.max(1, Math.ceil((step * dt) / 1000));
  const rss = o.rss ?? (() => 200 * 1024 * 1024);
  for (let i = 0; i < samples; i++)
    resources.push({
      type: 'resources',
      time: at((i + 1) * 1000).toISOString(),
      elapsed_seconds: i + 1,
      cpu_percent: 95 + (i % 5),
      rss_bytes: rss(i),
      heap_used_bytes: 50 * 1024 * 1024 + i * 1024,
      event_loop_delay_ms: 1 + (i % 3),
    });
  await writeFile(join(runDir, 'resources.jsonl'), resources.map((r) => `${JSON.stringify(r)}\n`).join(''));

  // Stand-ins for the sealed files (the monitor checks them by SHA-256 only, never opens them).
  const sealedFile = async (path: string, seed: string) => {
    const bytes = createHash('sha512').update(seed).digest();
    await writeFile(path, bytes);
    return createHash('sha256').update(bytes).digest('hex');
  };
  const checkpointFiles: { path: string; sha256: string }[] = [];
  for (let e = 1; e <= epochs; e++) {
    const path = join(runDir, 'checkpoints', `checkpoint-${String(e).padStart(6, '0')}.sealed`);
    checkpointFiles.push({ path, sha256: await sealedFile(path, `checkpoint ${e}`) });
  }
  const model =
    o.finished !== false
      ? {
          path: join(runDir, 'model.sealed'),
          sha256: await sealedFile(join(runDir, 'model.sealed'), 'model'),
        }
      : undefined;

  // The run's own audit log: releases before, checkpoints during, the model at the end.
  let clock = at(-2000);
  const runLog = await AuditLog.open(auditDir, { clock: () => clock });
  const key = { uri: 'azurekv://127.0.0.1:8443/keys/data-key', version: '0123456789abcdef' };
  await runLog.record({
    actor: 'test',
    action: 'run.release',
    outcome: 'ok',
    key,
    details: { tee: manifest.tee },
  });
  for (let e = 1; e <= epochs; e++) {
    clock = at(e * per * dt);
    await runLog.record({
      actor: 'test',
      action: 'run.checkpoint',
      outcome: 'ok',
      key: { uri: 'azurekv://127.0.0.1:8443/keys/model-key' },
      file: checkpointFiles[e - 1] ?? { path: '', sha256: '' },
      details: { counter: e, epoch: e, run_id: runId, step: e * per },
    });
  }
  if (model)
    await runLog.record({
      actor: 'test',
      action: 'run.model',
      outcome: 'ok',
      key: { uri: 'azurekv://127.0.0.1:8443/keys/model-key' },
      file: model,
      details: { run_id: runId },
    });
  await runLog.close();

  // The broker's log: one allowed release, then the denials and attestation failures asked for.
  clock = at(-3000);
  const broker = await AuditLog.open(brokerAuditDir, { clock: () => clock });
  await broker.record({
    actor: 'workload',
    action: 'broker.keys.release',
    outcome: 'ok',
    key,
    details: { status: 200 },
  });
  const events = [
    ...(o.deniedAt ?? []).map((m) => ({ m, action: 'broker.keys.release', code: 'ERR_RELEASE_DENIED' })),
    ...(o.attestFailedAt ?? []).map((m) => ({
      m,
      action: 'broker.attest.evidence',
      code: 'ERR_ATTEST_REJECTED',
    })),
  ].sort((a, b) => a.m - b.m);
  for (const ev of events) {
    clock = at(ev.m * 60_000);
    await broker.record({
      actor: 'workload',
      action: ev.action,
      outcome: 'error',
      code: ev.code,
      ...(ev.action === 'broker.keys.release' ? { key } : {}),
      details: { status: 403 },
    });
  }
  await broker.close();

  if (model) {
    const last = metrics[metrics.length - 1];
    await writeFile(
      join(runDir, 'model-card.json'),
      `${JSON.stringify(
        {
          version: 1,
          run_id: runId,
          created: last?.time ?? START.toISOString(),
          tool: { name: 'sealtrain', version: '0.1.0', kernels: 'js' },
          config_sha256: manifest.config_sha256,
          training_sha256: manifest.training_sha256,
          model: {
            config: { architecture: 'mlp', input_size: 4, hidden_size: 8, output_size: 2 },
            parameters: 58,
          },
          training: { epochs, steps: step, stopped_early: false },
          metrics: { train_loss: metrics.at(-1)?.loss ?? null, test_accuracy: 0.9 },
          data: {
            train: {
              path: '/data/train.tensor.sealed',
              tensor_sha256: 'c'.repeat(64),
              sealed: true,
              rows: 100,
            },
          },
          lineage: null,
          attestation: { type: 'none', warning: 'built by the monitor tests' },
          keys_released: [key],
          sealed_to: 'azurekv://127.0.0.1:8443/keys/model-key',
          model_file: model,
        },
        null,
        2,
      )}\n`,
    );
  }
  return {
    root,
    runDir,
    auditDir,
    brokerAuditDir,
    start: START,
    metrics,
    resources,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
