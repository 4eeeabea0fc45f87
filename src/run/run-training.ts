import { join } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { isSealtrainError, SealtrainError } from '../errors/index.js';
import {
  type BackendOptions,
  checkDataset,
  type Dataset,
  Network,
  Trainer,
  type TrainerState,
} from '../train/index.js';
import type { CheckpointContents } from './checkpoint-file.js';
import { pickResumePoint, writeSealedCheckpoint } from './checkpoints.js';
import {
  type EpochDone,
  epochs,
  type Loaded,
  type LoopResult,
  type Progress,
  type StepProgress,
} from './epoch-loop.js';
import { checkAgainstLineage, signedSealedSplit, type TrustedLineage } from './input-lineage.js';
import type { KeyAccess, KeyAccessSoon } from './key-access.js';
import { type LoadedSplit, loadSplit, type ProvidersSoon, type RunInputs } from './load-inputs.js';
import { MetricsLog, type RunMetric } from './metrics-log.js';
import { type ModelCard, writeModelCard } from './model-card.js';
import { markPhase } from './phase-marks.js';
import type { RunConfig } from './run-config.js';
import {
  assertRunFolderFree,
  checkpointPath,
  createRunFolder,
  listCheckpoints,
  pruneCheckpoints,
  RUN_FILES,
  type RunManifest,
  readRunManifest,
} from './run-folder.js';

/** Options for {@link runTraining}. */
export interface TrainRunOptions extends BackendOptions {
  /**
   * Released and local keys (see `openKeyAccess`), or their promise: the inputs are read from disk
   * while the release is under way, decrypted once their keys are there (a {@link KeyAccessSoon}'s
   * `inputProviders`), and nothing is created before every key is.
   */
  readonly keys: KeyAccess | Promise<KeyAccess> | KeyAccessSoon;
  readonly inputs: RunInputs;
  /** The data owner's signed lineage (`data.lineage_key`): every split must match it before training. */
  readonly lineage?: TrustedLineage;
  readonly audit: { readonly sink: AuditSink; readonly actor: string };
  /** The audit log's folder (rollback protection reads it). */
  readonly auditDir: string;
  /** `sim` or the attested TEE type; `none` for an unattested run. Default: from the keys' attestation. */
  readonly tee?: string;
  /** Continue the run in `output.dir` from its newest checkpoint. */
  readonly resume?: boolean;
  /** Resume even from a checkpoint older than the newest one recorded (recorded too). */
  readonly allowRollback?: boolean;
  /** Replace a finished or abandoned run in `output.dir`. */
  readonly force?: boolean;
  /** Stops between steps; the run then writes a checkpoint and returns `interrupted`. */
  readonly signal?: AbortSignal;
  /** Progress: examples done of the epoch, and the last step's loss. */
  readonly onProgress?: (p: StepProgress) => void;
  /** Receives each finished epoch. */
  readonly onEpoch?: (e: EpochDone) => void;
  /** Watches the run (monitoring): told when the folder is ready, of each metric, and at the end. */
  readonly observer?: RunObserver;
  readonly now?: () => Date;
}

/**
 * What a monitor sees of a run. `started` is awaited before training; `metric` must not block
 * (it runs between steps); `finished` is awaited on every way out once `started` was called.
 */
export interface RunObserver {
  started?(dir: string, manifest: RunManifest): Promise<void> | void;
  metric?(m: RunMetric): void;
  finished?(): Promise<void> | void;
}

/** The options once the keys are there. */
type Resolved = Omit<TrainRunOptions, 'keys'> & { readonly keys: KeyAccess };

/** What a run did. */
export interface TrainRunResult {
  readonly runId: string;
  readonly dir: string;
  readonly epochs: number;
  readonly steps: number;
  readonly interrupted: boolean;
  readonly stoppedEarly: boolean;
  /** The checkpoint counter resumed from. */
  readonly resumedFrom: number | undefined;
  readonly checkpoints: number;
  /** Final metrics on each split (absent splits omitted). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** The sealed model and the model card (absent when interrupted). */
  readonly model: { readonly path: string; readonly sha256: string } | undefined;
  readonly card: ModelCard | undefined;
}

async function loadAll(
  inputs: RunInputs,
  providers: ProvidersSoon,
  lineage: TrustedLineage | undefined,
): Promise<Loaded> {
  if (inputs.train === undefined)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'The run config names no training split (data.dir or data.train).',
    );
  const loaded: LoadedSplit[] = [];
  const load = async (path: string | undefined) => {
    if (path === undefined) return undefined;
    const signed = lineage ? signedSealedSplit(lineage, path) : undefined;
    const split = await loadSplit(path, providers, signed ? { signed } : {});
    loaded.push(split);
    return split;
  };
  try {
    const train = (await load(inputs.train)) as LoadedSplit;
    return { train, validation: await load(inputs.validation), test: await load(inputs.test) };
  } catch (error) {
    for (const s of loaded) s.wipe();
    throw error;
  }
}

/**
 * A training run: decrypts the splits into memory with the released keys, trains with the
 * engine, writes metrics per step and epoch, seals a checkpoint (weights, optimizer state, data
 * position; the shuffle and dropout streams follow from the seed and position) every N epochs or
 * minutes and on interruption, stops early when asked, and seals the final model and writes the
 * model card. `resume` continues bit-identically from the newest checkpoint after checking it
 * against the audit log (rollback protection). Plaintext is wiped on every path out.
 */
export async function runTraining(config: RunConfig, o: TrainRunOptions): Promise<TrainRunResult> {
  const now = o.now ?? (() => new Date());
  const dir = config.output.dir;
  if (config.data.lineage_key !== undefined && o.lineage === undefined)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${config.source} sets data.lineage_key: pass the lineage openTrustedLineage verified, so that the data is checked against it.`,
    );
  const keysSoon = Promise.resolve(o.keys);
  // Decryption starts once the input keys are there (openKeyAccess's `inputProviders`), not after
  // the output key's public part too.
  const early = (o.keys as Partial<KeyAccessSoon>).inputProviders;
  const providersSoon = early ?? keysSoon.then((k) => k.providers);
  providersSoon.then(
    () => markPhase('keys'),
    () => {},
  );
  const loading = loadAll(o.inputs, providersSoon, o.lineage);
  // None may reject unobserved while another is awaited (Node would exit on it): a refused release
  // while a large input is still being read must end as the release's own error.
  keysSoon.catch(() => {});
  providersSoon.catch(() => {});
  loading.catch(() => {});
  // Whatever happens before training starts, what was decrypted is wiped.
  const wipeLoaded = () => loading.then(wipeSplits, () => {});
  let keys: KeyAccess;
  let manifest: RunManifest;
  let data: Loaded;
  let network: Network;
  try {
    if (!o.resume) await assertRunFolderFree(dir, o.force === true);
    keys = await keysSoon;
    // Drawn while the inputs decrypt and hash on the thread pool, a slice at a time: this thread
    // still hands out each next batch and piece meanwhile.
    network = await Network.createSoon(config.model, config.training.seed);
    // The inputs load (and decrypt) before an earlier run is replaced: a bad input loses nothing.
    data = await loading;
    markPhase('data');
    const splits = splitsOf(data);
    if (o.lineage)
      checkAgainstLineage(
        o.lineage,
        splits.map((x) => ({ path: x.path, sealed: x.sealed, sha256: x.sha256 })),
      );
    // Checked once for the whole run (the data does not change between epochs), after its
    // lineage and before the run folder: a split the model cannot train on leaves an earlier run
    // as it was.
    for (const split of splits) checkSplit(config.model, split);
    if (config.earlyStopping && !data.validation)
      o.warn?.(
        'training.early_stopping needs a validation split, and this run has none: it will neither stop early nor restore the best weights.',
      );
    const tee = o.tee ?? keys.attestation?.type ?? 'none';
    const dataSha256 = Object.fromEntries(
      Object.entries(data).flatMap(([k, v]) => (v ? [[k, (v as LoadedSplit).sha256]] : [])),
    );
    manifest = o.resume
      ? await resumableRun(dir, config, tee, dataSha256)
      : await createRunFolder(
          dir,
          {
            config_sha256: config.sha256,
            training_sha256: config.trainingSha256,
            tee,
            data_sha256: dataSha256,
          },
          { force: o.force === true, now: now() },
        );
  } catch (error) {
    await wipeLoaded();
    throw error;
  }
  let observed = false;
  let trainer: Trainer | undefined;
  let result: TrainRunResult;
  try {
    trainer = new Trainer(network, {
      training: config.training,
      ...backendOf(o),
    });
    await o.observer?.started?.(dir, manifest);
    observed = true;
    result = await train(trainer, config, { ...o, keys }, manifest, data, now);
  } finally {
    // The trainer's batch copies and activations were made from the plaintext: wiped with it.
    trainer?.wipe();
    try {
      if (observed) await o.observer?.finished?.();
    } finally {
      await wipeLoaded();
    }
  }
  markPhase('end', { interrupted: result.interrupted });
  return result;
}

/** {@link checkDataset} on one loaded split, naming its file in the error. */
function checkSplit(spec: RunConfig['model'], split: LoadedSplit): void {
  try {
    checkDataset(spec, split.dataset);
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    throw new SealtrainError(error.code, `${split.path}: ${error.message}`, {
      cause: error,
      details: { ...error.details, path: split.path },
    });
  }
}

async function resumableRun(
  dir: string,
  config: RunConfig,
  tee: string,
  dataSha256: Record<string, string>,
): Promise<RunManifest> {
  const manifest = await readRunManifest(dir);
  const refuse = (why: string) =>
    new SealtrainError('ERR_RUN_STATE', `Cannot resume the run in ${dir}: ${why}`, {
      details: { path: dir },
    });
  if (!manifest) throw refuse('there is no run there (output.dir).');
  if (manifest.training_sha256 !== config.trainingSha256)
    throw refuse(
      'it was started with another model or training section; this config would not continue the same training.',
    );
  if (manifest.tee !== tee)
    throw refuse(
      `it was started on a ${manifest.tee} TEE and this is ${tee}; a run keeps one kind of TEE, so that its model card says where it ran.`,
    );
  const changed = Object.keys({ ...manifest.data_sha256, ...dataSha256 }).filter(
    (k) => manifest.data_sha256?.[k] !== dataSha256[k],
  );
  if (changed.length > 0) throw refuse(`its ${changed.join(', ')} data changed since it started.`);
  return manifest;
}

async function train(
  trainer: Trainer,
  config: RunConfig,
  o: Resolved,
  manifest: RunManifest,
  data: Loaded,
  now: () => Date,
): Promise<TrainRunResult> {
  const dir = config.output.dir;
  const network = trainer.network;
  const metrics = new MetricsLog(join(dir, RUN_FILES.metrics), o.observer?.metric?.bind(o.observer));
  const target = { key: config.security.key, providers: o.keys.providers, audit: o.audit };
  const progress: Progress = { best: null, stale: 0, counter: 0 };
  let resumedFrom: number | undefined;
  if (o.resume) {
    resumedFrom = await restore(config, o, manifest, trainer, progress);
    await metrics.trimTo(trainer.progress().step, trainer.progress().epoch);
  }
  const header = (kind: 'checkpoint' | 'model', s: TrainerState): CheckpointContents['header'] => ({
    version: 1,
    kind,
    run_id: manifest.run_id,
    counter: kind === 'model' ? 0 : progress.counter,
    training_sha256: config.trainingSha256,
    model: config.modelConfig,
    engine: `sealtrain ${trainer.kernels.name}`,
    epoch: s.epoch,
    position: s.position,
    step: s.step,
    seed: config.training.seed,
    created: now().toISOString(),
    best_validation_loss: progress.best,
    epochs_without_improvement: progress.stale,
    ...(progress.bestEpoch !== undefined ? { best_epoch: progress.bestEpoch } : {}),
    ...(progress.partial ? { partial_epoch: progress.partial } : {}),
    ...(progress.lastTrain ? { last_train: progress.lastTrain } : {}),
    ...(data.train.header.classes ? { classes: data.train.header.classes } : {}),
    columns: data.train.header.columns,
  });
  // A checkpoint is sealed, written and recorded while training goes on: the weights are copied
  // first. One is in flight at a time. If it fails, training stops between steps (`failed`) and
  // the interrupted path's checkpoint rethrows its error; the model and every way out wait for it.
  let inFlight: Promise<void> = Promise.resolve();
  const failed = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, failed.signal]) : failed.signal;
  let modelSoon: Promise<string> | undefined;
  const checkpoint = async () => {
    await inFlight;
    progress.counter++;
    const counter = progress.counter;
    const s = trainer.state();
    await metrics.flush();
    inFlight = writeSealedCheckpoint(
      checkpointPath(dir, counter),
      {
        header: header('checkpoint', s),
        params: network.params,
        moment1: s.moment1,
        moment2: s.moment2,
        best: progress.bestParams,
      },
      target,
    )
      .then(() => markPhase('checkpoint', { counter }))
      .then(() => pruneCheckpoints(dir, config.output.keep_checkpoints));
    inFlight.catch(() => failed.abort()); // and awaited as said above
  };
  try {
    markPhase('train');
    const loop = await epochs({
      config,
      trainer,
      data,
      metrics,
      progress,
      checkpoint,
      now,
      signal,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    });
    await metrics.flush();
    markPhase('trained');
    if (loop.interrupted) {
      await checkpoint();
      await inFlight;
      return result(manifest, dir, trainer, loop, resumedFrom, progress, {}, undefined, undefined);
    }
    // restore_best: the model is the epoch with the best validation loss, and is measured as such.
    const restored =
      progress.bestParams !== undefined &&
      progress.bestEpoch !== undefined &&
      progress.bestEpoch !== trainer.progress().epoch
        ? progress.bestEpoch
        : undefined;
    if (restored !== undefined && progress.bestParams) network.params.set(progress.bestParams);
    const final = finalMetrics(
      trainer,
      data,
      restored !== undefined ? { interrupted: false, stoppedEarly: loop.stoppedEarly } : loop,
    );
    const modelPath = join(dir, RUN_FILES.model);
    const s = trainer.state();
    // The weights are encoded before this call returns; what follows is sealing and I/O. The model
    // is written after the last checkpoint (its file and audit record come first).
    modelSoon = writeSealedCheckpoint(
      modelPath,
      {
        header: header('model', s),
        params: network.params,
        moment1: new Float32Array(0),
        moment2: new Float32Array(0),
      },
      target,
      inFlight,
    );
    modelSoon.catch(() => {}); // awaited below
    // Nothing reads the plaintext after the final metrics: it is wiped now, a piece at a time
    // while the checkpoint and the model are sealed and written, and before this returns
    // (runTraining's own wipe then has nothing left to do).
    trainer.wipe();
    const wiping = Promise.all(splitsOf(data).map((split) => split.wipeSoon()));
    const sha256 = await modelSoon;
    markPhase('model');
    const card = await writeModelCard(dir, {
      config,
      manifest,
      keys: o.keys,
      inputs: o.inputs,
      ...(o.lineage ? { lineage: o.lineage } : {}),
      splits: { train: data.train, validation: data.validation, test: data.test },
      metrics: final,
      model: { path: modelPath, sha256 },
      engine: trainer.kernels.name,
      epochs: s.epoch,
      steps: s.step,
      stoppedEarly: loop.stoppedEarly,
      restoredBestEpoch: restored,
      now: now(),
    });
    await wiping;
    return result(
      manifest,
      dir,
      trainer,
      loop,
      resumedFrom,
      progress,
      final,
      { path: modelPath, sha256 },
      card,
    );
  } catch (error) {
    await Promise.allSettled([inFlight, modelSoon]); // nothing is written after the run has ended
    throw error;
  }
}

function backendOf(o: BackendOptions): BackendOptions {
  return {
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.isa ? { isa: o.isa } : {}),
    ...(o.warn ? { warn: o.warn } : {}),
  };
}

function result(
  manifest: RunManifest,
  dir: string,
  trainer: Trainer,
  loop: { interrupted: boolean; stoppedEarly: boolean },
  resumedFrom: number | undefined,
  progress: Progress,
  metrics: Record<string, number | null>,
  model: TrainRunResult['model'],
  card: ModelCard | undefined,
): TrainRunResult {
  const s = trainer.progress();
  return {
    runId: manifest.run_id,
    dir,
    epochs: s.epoch,
    steps: s.step,
    interrupted: loop.interrupted,
    stoppedEarly: loop.stoppedEarly,
    resumedFrom,
    checkpoints: progress.counter,
    metrics,
    model,
    card,
  };
}

async function restore(
  config: RunConfig,
  o: Resolved,
  manifest: RunManifest,
  trainer: Trainer,
  progress: Progress,
): Promise<number> {
  const dir = config.output.dir;
  const candidates = await listCheckpoints(dir);
  if (candidates.length === 0)
    throw new SealtrainError(
      'ERR_RUN_STATE',
      `--resume found no checkpoint in ${join(dir, RUN_FILES.checkpoints)}.`,
      {
        details: { path: dir },
      },
    );
  const point = await pickResumePoint(
    candidates,
    {
      auditDir: o.auditDir,
      runId: manifest.run_id,
      allowRollback: o.allowRollback === true,
      providers: o.keys.providers,
    },
    o.audit,
  );
  for (const path of point.ignored)
    o.warn?.(
      `Passed over ${path}: the audit log does not record it (a crash before its record, or not this run's).`,
    );
  const newest = { path: point.path };
  const c = point.checkpoint;
  const h = c.header;
  const newestRecorded = point.newestRecorded;
  if (h.kind !== 'checkpoint' || h.run_id !== manifest.run_id || h.training_sha256 !== config.trainingSha256)
    throw new SealtrainError('ERR_RUN_STATE', `${newest.path} belongs to another run or config.`, {
      details: { path: newest.path },
    });
  if (c.params.length !== trainer.network.params.length)
    throw new SealtrainError('ERR_RUN_CHECKPOINT_INVALID', `${newest.path} holds another model's weights.`);
  trainer.network.params.set(c.params);
  trainer.restore({
    epoch: h.epoch,
    position: h.position,
    step: h.step,
    moment1: c.moment1,
    moment2: c.moment2,
  });
  progress.best = h.best_validation_loss ?? null;
  progress.stale = h.epochs_without_improvement ?? 0;
  // After an allowed rollback, new checkpoints follow the newest recorded: counters are never reused.
  progress.counter = Math.max(h.counter, newestRecorded);
  progress.partial = h.partial_epoch;
  progress.lastTrain = h.last_train;
  progress.bestParams = c.best;
  progress.bestEpoch = h.best_epoch;
  await o.audit.sink.record({
    actor: o.audit.actor,
    action: 'run.resume',
    outcome: 'ok',
    details: { run_id: manifest.run_id, counter: h.counter, epoch: h.epoch, step: h.step },
  });
  return h.counter;
}

/** The splits loaded, in the order train, validation, test. */
function splitsOf(data: Loaded): LoadedSplit[] {
  return [data.train, data.validation, data.test].filter((x): x is LoadedSplit => x !== undefined);
}

/** Zeroes every split's plaintext (each split wipes once; later calls do nothing). */
function wipeSplits(data: Loaded): void {
  for (const split of splitsOf(data)) split.wipe();
}

/**
 * Final loss and accuracy per split: the last epoch's running figures for the training split
 * (evaluating it again would cost a third of an epoch), a pass over each other split.
 */
function finalMetrics(trainer: Trainer, data: Loaded, loop: LoopResult): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, split] of Object.entries(data) as [string, LoadedSplit | undefined][]) {
    if (!split) continue;
    const m =
      name === 'train' && loop.lastTrain
        ? loop.lastTrain
        : (({ loss, accuracy }) => ({ loss, accuracy: accuracy ?? null }))(
            trainer.evaluate(split.dataset as Dataset, { checked: true }),
          );
    out[`${name}_loss`] = m.loss;
    out[`${name}_accuracy`] = m.accuracy;
  }
  return out;
}
