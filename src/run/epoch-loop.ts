import type { EpochResult, Trainer } from '../train/index.js';
import type { EpochPartial } from './checkpoint-file.js';
import type { LoadedSplit } from './load-inputs.js';
import type { MetricsLog } from './metrics-log.js';
import { markPhase } from './phase-marks.js';
import type { RunConfig } from './run-config.js';

/** The splits a run trains and evaluates on, in memory. */
export interface Loaded {
  readonly train: LoadedSplit;
  readonly validation: LoadedSplit | undefined;
  readonly test: LoadedSplit | undefined;
}

/** How the epochs loop ended, and the last epoch's training loss and accuracy. */
export interface LoopResult {
  readonly interrupted: boolean;
  readonly stoppedEarly: boolean;
  readonly lastTrain?: { readonly loss: number; readonly accuracy: number | null };
}

/** Early stopping's memory, carried in checkpoints. */
export interface Progress {
  best: number | null;
  stale: number;
  counter: number;
  /** Set while an epoch is split by timed checkpoints (or interrupted): its sums so far. */
  partial?: EpochPartial | undefined;
  /** The last finished epoch's training figures. */
  lastTrain?: { readonly loss: number; readonly accuracy: number | null } | undefined;
  /** With `restore_best`: a copy of the weights at the best validation loss, and its epoch (1-based). */
  bestParams?: Float32Array | undefined;
  bestEpoch?: number | undefined;
}
/** Progress after a step: examples done of the epoch, and the step's loss. */
export interface StepProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly done: number;
  readonly total: number;
  readonly loss: number;
}

/** A finished epoch, as the run reports it. */
export interface EpochDone {
  readonly epoch: number;
  readonly loss: number;
  readonly validationLoss: number | undefined;
}

/** What the loop needs from the run. */
export interface LoopContext {
  readonly config: RunConfig;
  readonly trainer: Trainer;
  /** The splits, each checked once (checkDataset) by runTraining. */
  readonly data: Loaded;
  readonly metrics: MetricsLog;
  readonly progress: Progress;
  /** Seals a checkpoint of the trainer's current state. */
  readonly checkpoint: () => Promise<void>;
  readonly now: () => Date;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: StepProgress) => void;
  readonly onEpoch?: (e: EpochDone) => void;
}

/** One epoch's figures summed over the pieces timed checkpoints and resumes split it into. */
type EpochSum = { -readonly [K in keyof EpochPartial]: EpochPartial[K] };

function add(sum: EpochSum, r: EpochResult): void {
  sum.loss_sum += r.loss * r.samples;
  sum.correct_sum += (r.accuracy ?? 0) * r.samples;
  sum.has_accuracy = r.accuracy !== undefined;
  sum.samples += r.samples;
  sum.seconds += r.seconds;
}

/**
 * Trains the rest of the current epoch. With `checkpoint_every_minutes`, the epoch is stopped
 * between steps when the time is up, checkpointed (mid-epoch: the position is in it) and continued.
 * Returns undefined when the caller's signal stopped it.
 */
async function oneEpoch(c: LoopContext, lastCheckpoint: { at: number }): Promise<EpochSum | undefined> {
  const { trainer, config } = c;
  const epoch = trainer.progress().epoch;
  const minutes = config.output.checkpoint_every_minutes;
  const sum: EpochSum = c.progress.partial
    ? { ...c.progress.partial }
    : { loss_sum: 0, correct_sum: 0, samples: 0, seconds: 0, has_accuracy: false };
  let stepStart = process.hrtime.bigint();
  // Checked after every step against the run's clock: the epoch stops between steps when it is
  // time for a checkpoint, however rarely the engine yields to the event loop.
  let timer = new AbortController();
  const onStep = (step: { loss: number; correct: number; rows: number }, done: number, all: number) => {
    if (minutes > 0 && c.now().getTime() - lastCheckpoint.at >= minutes * 60_000) timer.abort();
    const t = process.hrtime.bigint();
    const seconds = Number(t - stepStart) / 1e9;
    stepStart = t;
    c.metrics.add({
      type: 'step',
      epoch,
      step: trainer.progress().step,
      loss: step.loss,
      accuracy: Number.isNaN(step.correct) ? null : step.correct / step.rows,
      learning_rate: config.training.optimizer.learningRate,
      samples_per_second: seconds > 0 ? step.rows / seconds : 0,
      time: c.now().toISOString(),
    });
    c.onProgress?.({ epoch, epochs: config.training.epochs, done, total: all, loss: step.loss });
  };
  for (;;) {
    timer = new AbortController();
    const signal = c.signal ? AbortSignal.any([c.signal, timer.signal]) : timer.signal;
    // Checked once when the run loaded it (runTraining), not again every epoch. An append that
    // failed meanwhile ends the run at the epoch's end (epochs()) or at the checkpoint's flush.
    const r = await trainer.trainEpoch(c.data.train.dataset, { checked: true, signal, onStep });
    add(sum, r);
    if (r.completed) {
      markPhase('epoch', { epoch: epoch + 1 });
      c.progress.partial = undefined;
      return sum;
    }
    // Stopped between steps: the checkpoint that follows carries the sums so far.
    c.progress.partial = { ...sum };
    if (c.signal?.aborted) return undefined;
    await c.checkpoint();
    lastCheckpoint.at = c.now().getTime();
  }
}

/**
 * The epochs of a run: train, evaluate the validation split, log the epoch, stop early when the
 * validation loss stopped improving, and checkpoint every N epochs or minutes.
 */
export async function epochs(c: LoopContext): Promise<LoopResult> {
  const { trainer, config } = c;
  const every = config.output.checkpoint_every_epochs;
  const minutes = config.output.checkpoint_every_minutes;
  const lastCheckpoint = { at: c.now().getTime() };
  let lastTrain: LoopResult['lastTrain'] = c.progress.lastTrain;
  // A checkpoint written as early stopping fired: nothing is left to train.
  if (config.earlyStopping && c.progress.stale >= config.earlyStopping.patience)
    return { interrupted: false, stoppedEarly: true, ...(lastTrain ? { lastTrain } : {}) };
  while (trainer.progress().epoch < config.training.epochs) {
    const epoch = trainer.progress().epoch;
    const sum = await oneEpoch(c, lastCheckpoint);
    if (!sum) return { interrupted: true, stoppedEarly: false };
    const loss = sum.loss_sum / sum.samples;
    const accuracy = sum.has_accuracy ? sum.correct_sum / sum.samples : null;
    lastTrain = { loss, accuracy };
    c.progress.lastTrain = lastTrain;
    const v = c.data.validation ? trainer.evaluate(c.data.validation.dataset, { checked: true }) : undefined;
    c.metrics.add({
      type: 'epoch',
      epoch: epoch + 1,
      step: trainer.progress().step,
      loss,
      accuracy,
      validation_loss: v?.loss ?? null,
      validation_accuracy: v?.accuracy ?? null,
      seconds: sum.seconds,
      samples_per_second: sum.seconds > 0 ? sum.samples / sum.seconds : 0,
      time: c.now().toISOString(),
    });
    // An append that failed during this epoch (or that its line started) ends the run here.
    await c.metrics.written();
    c.onEpoch?.({ epoch: epoch + 1, loss, validationLoss: v?.loss });
    const stop = earlyStop(config, c.progress, v?.loss, { params: trainer.network.params, epoch: epoch + 1 });
    const due =
      (every > 0 && (epoch + 1) % every === 0) ||
      (minutes > 0 && c.now().getTime() - lastCheckpoint.at >= minutes * 60_000);
    if (due) {
      await c.checkpoint();
      lastCheckpoint.at = c.now().getTime();
    }
    if (stop) return { interrupted: false, stoppedEarly: true, lastTrain };
    // Short epochs never reach the trainer's 50 ms yield: let signals, timers (resource samples,
    // alert rules) and a stop request in between epochs too.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { interrupted: false, stoppedEarly: false, ...(lastTrain ? { lastTrain } : {}) };
}

/**
 * Updates early stopping's memory with an epoch's validation loss (and, with `restore_best`, keeps
 * a copy of the weights that reached it); true when it is time to stop.
 */
export function earlyStop(
  config: RunConfig,
  p: Progress,
  validationLoss: number | undefined,
  now: { readonly params: Float32Array; readonly epoch: number },
): boolean {
  const rule = config.earlyStopping;
  if (!rule || validationLoss === undefined) return false;
  if (p.best === null || validationLoss < p.best - rule.minDelta) {
    p.best = validationLoss;
    p.stale = 0;
    if (rule.restoreBest) {
      p.bestParams ??= new Float32Array(now.params.length);
      p.bestParams.set(now.params);
      p.bestEpoch = now.epoch;
    }
    return false;
  }
  p.stale++;
  return p.stale >= rule.patience;
}
