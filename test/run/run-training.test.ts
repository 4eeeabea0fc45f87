// runTraining as a library, with a local key and plaintext splits (attestation off): timed
// checkpoints land mid-epoch, an aborted run checkpoints where it stopped, and both resume to the
// weights of an uninterrupted run.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PerformanceMark, PerformanceObserver, performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditLog, readAuditEntries } from '../../src/audit/index.js';
import { loadLineageSigningKey, prepareDataset } from '../../src/data/index.js';
import { TensorFileWriter } from '../../src/data/tensor-file.js';
import { LocalKeyring } from '../../src/kms/index.js';
import {
  type KeyAccess,
  listCheckpoints,
  openSealedModel,
  PHASE_MARK_PREFIX,
  parseRunConfig,
  readMetrics,
  readSealedCheckpoint,
  resolveInputs,
  runTraining,
  type TrainRunOptions,
} from '../../src/run/index.js';

let dir: string;
let ring: LocalKeyring;
let audit: AuditLog;
let keys: KeyAccess;
let whole: Awaited<ReturnType<typeof runTraining>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-run-'));
  ring = await LocalKeyring.init(join(dir, 'keyring'), randomBytes(16), { scryptCost: 1024 });
  await ring.create('owner');
  audit = await AuditLog.open(join(dir, 'audit'));
  keys = { providers: [ring], attestation: undefined, released: [], close: () => {} };
  let s = 7;
  const rand = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const rows = ['a,b,c,d,e,f,g,h,label'];
  for (let i = 0; i < 4000; i++) {
    const x = Array.from({ length: 8 }, rand);
    rows.push(`${x.map((v) => v.toFixed(4)).join(',')},${(x[0] ?? 0) * (x[1] ?? 0) > 0 ? 'p' : 'n'}`);
  }
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

function config(name: string, output: object = {}) {
  return parseRunConfig(
    {
      model: { architecture: 'mlp', input_size: 8, hidden_size: [256, 256], output_size: 2 },
      training: { batch_size: 16, learning_rate: 0.001, epochs: 3, seed: 5 },
      security: { key: 'local:owner', attestation: false },
      data: { dir: 'prepared' },
      output: { dir: join('runs', name), checkpoint_every_epochs: 0, ...output },
    },
    join(dir, `${name}.json`),
  );
}

async function train(name: string, output: object = {}, extra: Partial<TrainRunOptions> = {}) {
  const c = config(name, output);
  return runTraining(c, {
    keys,
    inputs: await resolveInputs(c),
    audit: { sink: audit, actor: 'test' },
    auditDir: join(dir, 'audit'),
    tee: 'none',
    ...extra,
  });
}

/** A run of up to 200 epochs that early stopping ends (learning rate 0.05 on a small MLP). */
function stopping(name: string, earlyStopping: object, output: object) {
  return parseRunConfig(
    {
      model: { architecture: 'mlp', input_size: 8, hidden_size: 16, output_size: 2 },
      training: { batch_size: 16, learning_rate: 0.05, epochs: 200, seed: 5, early_stopping: earlyStopping },
      security: { key: 'local:owner', attestation: false },
      data: { dir: 'prepared' },
      output: { dir: join('runs', name), ...output },
    },
    join(dir, `${name}.json`),
  );
}

const weights = async (run: string) =>
  Buffer.from((await openSealedModel(join(dir, 'runs', run, 'model.sealed'), [ring])).network.params.buffer);

/** What `run` marks on the performance timeline (its phases, `sealtrain.run.*`), in order. */
async function marked<T>(run: () => Promise<T>) {
  const seen: { name: string; at: number; detail: unknown }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.name.startsWith(PHASE_MARK_PREFIX))
        seen.push({
          name: e.name.slice(PHASE_MARK_PREFIX.length),
          at: e.startTime,
          detail: (e as PerformanceMark).detail,
        });
  });
  observer.observe({ entryTypes: ['mark'] });
  try {
    const result = await run();
    await new Promise((resolve) => setImmediate(resolve)); // observers are told on a later turn
    return { result, seen };
  } finally {
    observer.disconnect();
  }
}

describe('runTraining', () => {
  it('checkpoints mid-epoch when the minutes are up, without changing a single weight', async () => {
    whole = await train('whole');
    expect(whole.checkpoints).toBe(0);
    // The run's clock moves one second per reading: a checkpoint every 30 readings, many per epoch.
    let t = Date.parse('2026-11-23T00:00:00Z');
    const clock = () => {
      t += 1000;
      return new Date(t);
    };
    const timed = await train(
      'timed',
      { checkpoint_every_minutes: 0.5, keep_checkpoints: 1000 },
      { now: clock },
    );
    expect(timed.checkpoints).toBeGreaterThan(6);
    const all = await listCheckpoints(join(dir, 'runs', 'timed'));
    const positions = await Promise.all(
      all.map(async (c) => (await readSealedCheckpoint(c.path, [ring])).header.position),
    );
    expect(positions.some((p) => p > 0)).toBe(true);
    expect((await weights('timed')).equals(await weights('whole'))).toBe(true);
    // An epoch split by checkpoints is still one line with the whole epoch's figures.
    const epochs = (await readMetrics(join(dir, 'runs', 'timed', 'metrics.jsonl'))).filter(
      (m) => m.type === 'epoch',
    );
    const wholeEpochs = (await readMetrics(join(dir, 'runs', 'whole', 'metrics.jsonl'))).filter(
      (m) => m.type === 'epoch',
    );
    expect(epochs).toHaveLength(3);
    for (const [i, e] of epochs.entries()) expect(e.loss).toBeCloseTo(wholeEpochs[i]?.loss ?? Number.NaN, 12);
    const card = whole.card;
    expect(card?.attestation.type).toBe('none');
    expect(card?.training.epochs).toBe(3);
    // The digests the card and the audit log give are those of the sealed files as written.
    const sha = async (path: string) =>
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    const model = join(dir, 'runs', 'whole', 'model.sealed');
    expect(card?.model_file).toEqual({ path: model, sha256: await sha(model) });
    expect(whole.model?.sha256).toBe(await sha(model));
    const recorded = await readAuditEntries(join(dir, 'audit'), { action: 'run.checkpoint' });
    for (const c of all)
      expect(recorded.filter((e) => e.file?.path === c.path).map((e) => e.file?.sha256)).toEqual([
        await sha(c.path),
      ]);
  }, 60_000);

  it('stops on its signal with a checkpoint, and --resume finishes with the same weights', async () => {
    const stop = new AbortController();
    let steps = 0;
    const r = await train(
      'aborted',
      {},
      {
        signal: stop.signal,
        onProgress: () => {
          if (++steps === 300) stop.abort();
        },
      },
    );
    expect(r.interrupted).toBe(true);
    expect(r.model).toBeUndefined();
    expect(r.checkpoints).toBe(1);
    const resumed = await train('aborted', {}, { resume: true });
    expect(resumed.resumedFrom).toBe(1);
    expect((await weights('aborted')).equals(await weights('whole'))).toBe(true);
    // The epoch cut by the abort is still one whole epoch in the metrics.
    const epochs = (await readMetrics(join(dir, 'runs', 'aborted', 'metrics.jsonl'))).filter(
      (m) => m.type === 'epoch',
    );
    const wholeEpochs = (await readMetrics(join(dir, 'runs', 'whole', 'metrics.jsonl'))).filter(
      (m) => m.type === 'epoch',
    );
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const [i, e] of epochs.entries()) expect(e.loss).toBeCloseTo(wholeEpochs[i]?.loss ?? Number.NaN, 12);
    expect(resumed.metrics.train_loss).toBeCloseTo(whole.metrics.train_loss ?? Number.NaN, 12);
  }, 60_000);

  it('seals checkpoints while training goes on: a failed one ends the run before the model is written', async () => {
    // Every epoch is checkpointed; the first checkpoint's audit record fails (a full disk, say).
    const records: string[] = [];
    const failing = {
      record: async (event: Parameters<AuditLog['record']>[0]) => {
        records.push(event.action);
        if (event.action === 'run.checkpoint') throw new Error('the audit disk is full');
        await audit.record(event);
      },
    };
    let epochsSeen = 0;
    let secondEpochSteps = 0;
    await expect(
      train(
        'failing-checkpoint',
        { checkpoint_every_epochs: 1 },
        {
          audit: { sink: failing, actor: 'test' },
          onEpoch: () => epochsSeen++,
          onProgress: (p) => {
            if (p.epoch === 1) secondEpochSteps++;
          },
        },
      ),
    ).rejects.toThrow('the audit disk is full');
    // Training went on into epoch 2 while the first checkpoint was written; its failure stopped
    // the run between steps, before the next checkpoint was due, and nothing was sealed or
    // recorded after it.
    expect(secondEpochSteps).toBeGreaterThan(0);
    expect(epochsSeen).toBeLessThanOrEqual(2);
    expect(records.filter((a) => a === 'run.checkpoint')).toHaveLength(1);
    expect(records).not.toContain('run.model');
    await expect(stat(join(dir, 'runs', 'failing-checkpoint', 'model.sealed'))).rejects.toThrow();
    expect(await listCheckpoints(join(dir, 'runs', 'failing-checkpoint'))).toHaveLength(1);

    // A run that succeeds records its checkpoints before its model, in order.
    const ordered: string[] = [];
    const recording = {
      record: async (event: Parameters<AuditLog['record']>[0]) => {
        ordered.push(`${event.action}:${String(event.details?.counter ?? '')}`);
        await audit.record(event);
      },
    };
    const ok = await train(
      'recorded',
      { checkpoint_every_epochs: 1 },
      { audit: { sink: recording, actor: 'test' } },
    );
    expect(ok.checkpoints).toBe(3);
    expect(ordered.filter((a) => a.startsWith('run.checkpoint') || a.startsWith('run.model'))).toEqual([
      'run.checkpoint:1',
      'run.checkpoint:2',
      'run.checkpoint:3',
      'run.model:0',
    ]);
    expect((await weights('recorded')).equals(await weights('whole'))).toBe(true);
  }, 60_000);

  it('ends with the write error when a sealed checkpoint cannot be written, and writes no model', async () => {
    // Once the run folder is made, its checkpoints folder becomes a file: the first sealed
    // checkpoint's write fails while its bytes are hashed on the thread pool.
    const records: string[] = [];
    const sink = {
      record: async (event: Parameters<AuditLog['record']>[0]) => {
        records.push(event.action);
        await audit.record(event);
      },
    };
    const run = join(dir, 'runs', 'unwritable-checkpoint');
    await expect(
      train(
        'unwritable-checkpoint',
        { checkpoint_every_epochs: 1 },
        {
          audit: { sink, actor: 'test' },
          observer: {
            started: async () => {
              await rm(join(run, 'checkpoints'), { recursive: true });
              await writeFile(join(run, 'checkpoints'), 'not a folder');
            },
          },
        },
      ),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_IO_/) });
    expect(records).not.toContain('run.checkpoint');
    expect(records).not.toContain('run.model');
    await expect(stat(join(run, 'model.sealed'))).rejects.toThrow();
  });

  it('ends with the write error in the epoch whose metrics could not be appended, and writes no model', async () => {
    // Once the run folder is made, a folder stands where metrics.jsonl goes, and the clock runs a
    // second per look, so that every queued line starts an append. No checkpoint flushes the
    // lines: the run must stop at the end of its first epoch, not train on and fail at the end.
    const run = join(dir, 'runs', 'unwritable-metrics');
    const realNow = Date.now.bind(Date);
    let skew = 0;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => {
      skew += 1001;
      return realNow() + skew;
    });
    const epochsTrained = new Set<number>();
    try {
      await expect(
        train(
          'unwritable-metrics',
          { checkpoint_every_epochs: 0 },
          {
            observer: { started: async () => void (await mkdir(join(run, 'metrics.jsonl'))) },
            onProgress: (p) => void epochsTrained.add(p.epoch),
          },
        ),
      ).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_IO_/),
        message: expect.stringContaining(join(run, 'metrics.jsonl')),
      });
    } finally {
      clock.mockRestore();
    }
    expect([...epochsTrained]).toEqual([0]);
    await expect(stat(join(run, 'model.sealed'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('resumes an early-stopped run without training further', async () => {
    const c = stopping('early', { patience: 2 }, { checkpoint_every_epochs: 1 });
    const base = { keys, audit: { sink: audit, actor: 't' }, auditDir: join(dir, 'audit'), tee: 'none' };
    const first = await runTraining(c, { ...base, inputs: await resolveInputs(c) });
    expect(first.stoppedEarly).toBe(true);
    expect(first.epochs).toBeLessThan(200);
    const before = await weights('early');
    const again = await runTraining(c, { ...base, inputs: await resolveInputs(c), resume: true });
    expect(again.stoppedEarly).toBe(true);
    expect(again.epochs).toBe(first.epochs);
    expect((await weights('early')).equals(before)).toBe(true);
  }, 60_000);

  it("restores the best epoch's weights (restore_best), and resumes to the same model", async () => {
    const base = { keys, audit: { sink: audit, actor: 't' }, auditDir: join(dir, 'audit'), tee: 'none' };
    const run = async (name: string, restoreBest: boolean, extra: Partial<TrainRunOptions> = {}) => {
      const c = stopping(
        name,
        { patience: 3, restore_best: restoreBest },
        { checkpoint_every_epochs: 1, keep_checkpoints: 1000 },
      );
      return runTraining(c, { ...base, inputs: await resolveInputs(c), ...extra });
    };
    const last = await run('keep-last', false);
    const best = await run('restore-best', true);
    expect(last.stoppedEarly && best.stoppedEarly).toBe(true);
    const epochs = (await readMetrics(join(dir, 'runs', 'keep-last', 'metrics.jsonl'))).filter(
      (m) => m.type === 'epoch',
    );
    const losses = epochs.map((e) => e.validation_loss as number);
    const bestEpoch = losses.indexOf(Math.min(...losses)) + 1;
    expect(bestEpoch).toBe(last.epochs - 3);
    expect(last.card?.training.restored_best_epoch).toBeUndefined();
    expect(best.card?.training.restored_best_epoch).toBe(bestEpoch);
    // The checkpoint of each epoch (keep-last run) holds that epoch's weights.
    const at = async (epoch: number) => {
      for (const c of await listCheckpoints(join(dir, 'runs', 'keep-last'))) {
        const k = await readSealedCheckpoint(c.path, [ring]);
        if (k.header.epoch === epoch) return Buffer.from(k.params.buffer);
      }
      throw new Error(`no checkpoint of epoch ${epoch}`);
    };
    expect((await weights('restore-best')).equals(await at(bestEpoch))).toBe(true);
    expect((await weights('keep-last')).equals(await at(last.epochs))).toBe(true);
    expect(best.metrics.validation_loss).toBe(Math.min(...losses));
    expect(last.metrics.validation_loss).toBe(losses.at(-1));
    // Stopped two epochs after the best, mid-epoch: the checkpoint carries the best weights along.
    const stepsAtBest = epochs[bestEpoch - 1]?.step ?? 0;
    const stop = new AbortController();
    let steps = 0;
    const cut = await run('restore-best-cut', true, {
      signal: stop.signal,
      onProgress: () => {
        if (++steps === stepsAtBest + 40) stop.abort();
      },
    });
    expect(cut.interrupted).toBe(true);
    const resumed = await run('restore-best-cut', true, { resume: true });
    expect(resumed.card?.training.restored_best_epoch).toBe(bestEpoch);
    expect((await weights('restore-best-cut')).equals(await weights('restore-best'))).toBe(true);
  }, 60_000);

  it('warns that early stopping cannot work without a validation split', async () => {
    const c = parseRunConfig(
      {
        model: { architecture: 'mlp', input_size: 8, hidden_size: 4, output_size: 2 },
        training: { batch_size: 64, epochs: 1, seed: 5, early_stopping: { patience: 1 } },
        security: { key: 'local:owner', attestation: false },
        data: { train: join('prepared', 'train.tensor') },
        output: { dir: join('runs', 'no-validation') },
      },
      join(dir, 'no-validation.json'),
    );
    const warnings: string[] = [];
    const r = await runTraining(c, {
      keys,
      inputs: await resolveInputs(c),
      audit: { sink: audit, actor: 't' },
      auditDir: join(dir, 'audit'),
      tee: 'none',
      warn: (m) => warnings.push(m),
    });
    expect(r.card?.training.restored_best_epoch).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/early_stopping needs a validation split/);
  }, 60_000);

  it('rejects with the release error when the keys are refused while a sealed input is being read', async () => {
    const sealedLooking = join(dir, 'sealed-looking.tensor');
    const bytes = Buffer.alloc(1 << 20, 1);
    Buffer.from([0x89, 0x53, 0x54, 0x53, 0x45, 0x41, 0x4c, 0x0a]).copy(bytes);
    await writeFile(sealedLooking, bytes);
    const c = config('refused');
    const refused = Promise.reject(Object.assign(new Error('refused'), { code: 'ERR_RELEASE_DENIED' }));
    await expect(
      runTraining(c, {
        keys: refused,
        inputs: { train: sealedLooking, files: [] },
        audit: { sink: audit, actor: 't' },
        auditDir: join(dir, 'audit'),
      }),
    ).rejects.toMatchObject({ code: 'ERR_RELEASE_DENIED' });
    await expect(stat(join(dir, 'runs', 'refused'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a resume on other data or another kind of TEE', async () => {
    const c = config('whole');
    const base = { keys, audit: { sink: audit, actor: 't' }, auditDir: join(dir, 'audit'), resume: true };
    await expect(
      runTraining(c, { ...base, inputs: await resolveInputs(c), tee: 'sim' }),
    ).rejects.toMatchObject({
      code: 'ERR_RUN_STATE',
      message: expect.stringMatching(/started on a none TEE and this is sim/),
    });
    const other = { ...(await resolveInputs(c)), train: join(dir, 'prepared', 'test.tensor') };
    await expect(runTraining(c, { ...base, inputs: other, tee: 'none' })).rejects.toMatchObject({
      code: 'ERR_RUN_STATE',
      message: expect.stringMatching(/its train data changed/),
    });
  }, 60_000);

  it('refuses a run folder holding another run, and a resume with another training section', async () => {
    await expect(train('whole')).rejects.toMatchObject({ code: 'ERR_RUN_STATE' });
    const c = parseRunConfig(
      {
        model: { architecture: 'mlp', input_size: 8, hidden_size: 4, output_size: 2 },
        security: { key: 'local:owner', attestation: false },
        data: { dir: 'prepared' },
        output: { dir: join('runs', 'whole') },
      },
      join(dir, 'other.json'),
    );
    await expect(
      runTraining(c, {
        keys,
        inputs: await resolveInputs(c),
        audit: { sink: audit, actor: 't' },
        auditDir: join(dir, 'audit'),
        tee: 'none',
        resume: true,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_RUN_STATE',
      message: expect.stringMatching(/another model or training section/),
    });
  }, 60_000);

  it('refuses a split the model cannot train on before the run folder, naming the file, row and column', async () => {
    // A tensor file that reads well (its checksums hold) with one feature that is not finite.
    const bad = join(dir, 'not-finite');
    await mkdir(bad, { recursive: true });
    const chunks: Uint8Array[] = [];
    const writer = new TensorFileWriter(
      {
        split: 'train',
        columns: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
        labelColumn: 'label',
        classes: ['n', 'p'],
        tensors: [
          { name: 'features', dtype: 'float32', shape: [10, 8] },
          { name: 'labels', dtype: 'int32', shape: [10] },
        ],
      },
      async (c) => {
        chunks.push(c);
      },
    );
    const features = Float32Array.from({ length: 80 }, (_, i) => i / 80);
    features[3 * 8 + 5] = Number.NaN;
    await writer.writeRows('features', features);
    await writer.writeRows(
      'labels',
      Int32Array.from({ length: 10 }, (_, i) => i % 2),
    );
    await writer.finish();
    await writeFile(join(bad, 'train.tensor'), Buffer.concat(chunks));
    // An earlier run in the same folder, which --force would replace.
    const small = (data: string) =>
      parseRunConfig(
        {
          model: { architecture: 'mlp', input_size: 8, hidden_size: 4, output_size: 2 },
          training: { batch_size: 16, learning_rate: 0.01, epochs: 1, seed: 5 },
          security: { key: 'local:owner', attestation: false },
          data: { dir: data },
          output: { dir: join('runs', 'replaced'), checkpoint_every_epochs: 0 },
        },
        join(dir, 'small.json'),
      );
    const base = { keys, audit: { sink: audit, actor: 't' }, auditDir: join(dir, 'audit'), tee: 'none' };
    const good = small('prepared');
    await runTraining(good, { ...base, inputs: await resolveInputs(good) });
    const model = join(dir, 'runs', 'replaced', 'model.sealed');
    const before = await readFile(model);
    const c = small('not-finite');
    await expect(
      runTraining(c, { ...base, inputs: await resolveInputs(c), force: true }),
    ).rejects.toMatchObject({
      code: 'ERR_TRAIN_DATA_INVALID',
      message: expect.stringMatching(/not-finite\/train\.tensor: Feature 5 of row 3 is NaN/),
      details: { path: join(bad, 'train.tensor'), row: 3, column: 5 },
    });
    expect((await readFile(model)).equals(before)).toBe(true);
  }, 60_000);

  it('marks each phase on the performance timeline, in order, and keeps none in its buffer', async () => {
    const started = performance.now();
    const { result: r, seen } = await marked(() => train('phases', { checkpoint_every_epochs: 1 }));
    expect(r.checkpoints).toBe(3);
    const names = seen.map((m) => m.name);
    const of = (phase: string) => seen.filter((m) => m.name === phase);
    const at = (phase: string) => names.flatMap((n, i) => (n === phase ? [i] : []));
    expect(names.slice(0, 3)).toEqual(['keys', 'data', 'train']);
    expect(names.slice(-2)).toEqual(['model', 'end']);
    expect(names).toHaveLength(12);
    expect(of('epoch').map((m) => m.detail)).toEqual([{ epoch: 1 }, { epoch: 2 }, { epoch: 3 }]);
    expect(of('checkpoint').map((m) => m.detail)).toEqual([{ counter: 1 }, { counter: 2 }, { counter: 3 }]);
    expect(of('end').map((m) => m.detail)).toEqual([{ interrupted: false }]);
    // Each checkpoint is written after its epoch's last step, while training goes on (the last
    // one on either side of `trained`, which follows the last epoch).
    for (const k of [0, 1, 2]) expect(at('checkpoint')[k]).toBeGreaterThan(at('epoch')[k] ?? 99);
    expect(at('trained')[0]).toBeGreaterThan(at('epoch')[2] ?? 99);
    for (const [i, m] of seen.entries()) expect(m.at).toBeGreaterThanOrEqual(seen[i - 1]?.at ?? started);
    // Taken off the global buffer as it is made: a long run does not grow it.
    expect(performance.getEntriesByType('mark').filter((e) => e.name.startsWith(PHASE_MARK_PREFIX))).toEqual(
      [],
    );
  });

  it('marks no model and no end for a run that fails (its model key is not there)', async () => {
    let failure: unknown;
    const { seen } = await marked(() =>
      train('phases-failed', {}, { keys: { ...keys, providers: [] } }).catch((error: unknown) => {
        failure = error;
      }),
    );
    expect(failure).toMatchObject({ code: expect.stringMatching(/^ERR_KMS_/) });
    const names = seen.map((m) => m.name);
    expect(names.slice(0, 3)).toEqual(['keys', 'data', 'train']);
    expect(names).not.toContain('model');
    expect(names).not.toContain('end');
  });

  it('marks an interrupted run: its checkpoint, no model, and an end that says so', async () => {
    const stop = new AbortController();
    let steps = 0;
    const { result: r, seen } = await marked(() =>
      train(
        'phases-stopped',
        {},
        {
          signal: stop.signal,
          onProgress: () => {
            if (++steps === 300) stop.abort();
          },
        },
      ),
    );
    expect(r.interrupted).toBe(true);
    expect(seen.map((m) => m.name)).toEqual([
      'keys',
      'data',
      'train',
      'epoch',
      'trained',
      'checkpoint',
      'end',
    ]);
    expect(seen.at(-1)?.detail).toEqual({ interrupted: true });
  });
});
