import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { SealtrainError } from '../errors/index.js';
import { type BackendOptions, selectKernels } from './backend.js';
import { checkDataset, type Dataset } from './dataset.js';
import type { Kernels } from './internal/kernels.js';
import type { Network } from './network.js';
import { Rng } from './rng.js';
import type { TrainingSpec } from './training-config.js';

/** Options for a {@link Trainer}. */
export interface TrainerOptions extends BackendOptions {
  /** Batch size, optimizer, clipping, seed (see `parseTrainingConfig`). */
  readonly training: TrainingSpec;
  /** Kernels to use instead of {@link selectKernels}'s choice. */
  readonly kernels?: Kernels;
  /** Compute each example's gradient norm at every step (for DP-SGD clipping and audits). */
  readonly perExampleNorms?: boolean;
}

/** What one optimizer step saw. */
export interface StepResult {
  /** Mean loss over the batch, before the update. */
  readonly loss: number;
  /** Examples classified correctly (cross-entropy: arg-max; binary: each output at 0.5); NaN for mse. */
  readonly correct: number;
  readonly rows: number;
  /** Global L2 norm of the mean gradient before clipping; computed when clipping or asked. */
  readonly gradNorm: number | undefined;
  /** L2 norm of each example's own loss gradient, when `perExampleNorms`. */
  readonly perExampleNorms: Float64Array | undefined;
}

/** The outcome of one pass over the data (or of the rest of one, after a resume). */
export interface EpochResult {
  readonly epoch: number;
  readonly loss: number;
  /** Fraction correct; undefined for mse. */
  readonly accuracy: number | undefined;
  readonly samples: number;
  readonly steps: number;
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** False when stopped early by the abort signal: `position` says where to go on. */
  readonly completed: boolean;
}

/** Where training stands and the optimizer's memory: with the weights, all a checkpoint needs. */
export interface TrainerState {
  /** Epochs completed. */
  readonly epoch: number;
  /** Examples of the current epoch already trained on (in its shuffled order). */
  readonly position: number;
  /** Optimizer steps taken. */
  readonly step: number;
  /** Adam's first moments or SGD's velocity. */
  readonly moment1: Float32Array;
  /** Adam's second moments (empty for SGD). */
  readonly moment2: Float32Array;
}

interface LayerBuffers {
  y: Float32Array;
  z: Float32Array | null;
  dropped: Float32Array | null;
  dy: Float32Array;
}

/** The seeded stream of each epoch's shuffle. */
const SHUFFLE_STREAM = 1000;
/** How long a training loop may hold the event loop before it yields (ms). */
const YIELD_EVERY_MS = 50;

/**
 * Trains a {@link Network} in place: mini-batches in a seeded order per epoch, forward and
 * backward through the kernels, loss, optional global-norm clipping, then one fused optimizer
 * step over every parameter. Same seed, data, options and thread count → bit-identical weights;
 * {@link Trainer.state} and {@link Trainer.restore} carry that across a checkpoint.
 */
export class Trainer {
  readonly network: Network;
  readonly kernels: Kernels;
  readonly options: TrainerOptions;
  private readonly grads: Float32Array;
  private moment1: Float32Array;
  private moment2: Float32Array;
  private readonly buffers: LayerBuffers[];
  private readonly xBatch: Float32Array;
  private readonly labelBatch: Int32Array | Float32Array;
  private readonly normsBatch: Float64Array;
  private readonly rowScratch: Float64Array;
  private epoch = 0;
  private position = 0;
  private stepCount = 0;

  constructor(network: Network, options: TrainerOptions) {
    this.network = network;
    this.options = options;
    this.kernels = options.kernels ?? selectKernels(options);
    const n = network.params.length;
    const batch = options.training.batchSize;
    this.grads = new Float32Array(n);
    this.moment1 = new Float32Array(n);
    this.moment2 = new Float32Array(options.training.optimizer.kind === 'sgd' ? 0 : n);
    this.buffers = network.layers.map((l) => {
      const size = batch * l.spec.outputSize;
      return {
        y: new Float32Array(size),
        z: l.spec.activation === 'gelu' ? new Float32Array(size) : null,
        dropped: l.spec.dropout > 0 ? new Float32Array(size) : null,
        dy: new Float32Array(size),
      };
    });
    const { inputSize, outputSize, loss } = network.spec;
    this.xBatch = new Float32Array(batch * inputSize);
    this.labelBatch = loss === 'cross_entropy' ? new Int32Array(batch) : new Float32Array(batch * outputSize);
    this.normsBatch = new Float64Array(batch);
    this.rowScratch = new Float64Array(batch * 2);
  }

  /**
   * Overwrites with zeros every buffer that held rows of data or what was computed from them:
   * the batch copies, each layer's activations and their gradients, and the parameter gradients.
   * The weights and the optimizer's moments stay (they are the model); the trainer can still be
   * used afterwards, and so can the kernels, whose packing scratch is zeroed too. Called by the
   * run on every way out.
   */
  wipe(): void {
    for (const b of this.buffers) for (const a of [b.y, b.z, b.dropped, b.dy]) a?.fill(0);
    for (const a of [this.xBatch, this.labelBatch, this.normsBatch, this.rowScratch, this.grads]) a.fill(0);
    this.kernels.wipeScratch?.();
  }

  /** Where training stands: epochs done, position in the current epoch, steps taken. No copies. */
  progress(): { readonly epoch: number; readonly position: number; readonly step: number } {
    return { epoch: this.epoch, position: this.position, step: this.stepCount };
  }

  /** Where training stands, with copies of the optimizer's memory (for a checkpoint). */
  state(): TrainerState {
    return {
      epoch: this.epoch,
      position: this.position,
      step: this.stepCount,
      moment1: this.moment1.slice(),
      moment2: this.moment2.slice(),
    };
  }

  /** Continues from a saved {@link Trainer.state} (with the network's weights restored by the caller). */
  restore(state: TrainerState): void {
    const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!whole(state.epoch) || !whole(state.position) || !whole(state.step)) {
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        'The saved training state has a bad epoch, position or step.',
      );
    }
    if (!state.moment1.every(Number.isFinite) || !state.moment2.every((v) => Number.isFinite(v) && v >= 0)) {
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        'The saved optimizer state holds values that are not finite (or a negative second moment).',
      );
    }
    if (state.moment1.length !== this.moment1.length || state.moment2.length !== this.moment2.length) {
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        'The saved optimizer state does not fit this model and optimizer.',
      );
    }
    this.epoch = state.epoch;
    this.position = state.position;
    this.stepCount = state.step;
    this.moment1 = state.moment1.slice();
    this.moment2 = state.moment2.slice();
  }

  /**
   * Trains on the rest of the current epoch (all of it unless resumed mid-way), yielding to the
   * event loop every 50 ms. `onStep` sees each step; `signal` stops between steps.
   */
  async trainEpoch(
    data: Dataset,
    options: {
      onStep?: (step: StepResult, done: number, total: number) => void;
      signal?: AbortSignal;
      checked?: boolean;
    } = {},
  ): Promise<EpochResult> {
    if (options.checked !== true) checkDataset(this.network.spec, data);
    const { inputSize, outputSize, loss } = this.network.spec;
    const batch = this.options.training.batchSize;
    const order = new Rng(this.options.training.seed, SHUFFLE_STREAM + this.epoch).permutation(data.rows);
    const started = process.hrtime.bigint();
    let lastYield = Date.now();
    let lossSum = 0;
    let correct = 0;
    let samples = 0;
    let steps = 0;
    const perRow = loss === 'cross_entropy' ? 1 : outputSize;
    while (this.position < data.rows) {
      if (options.signal?.aborted === true) break;
      const rows = Math.min(batch, data.rows - this.position);
      for (let r = 0; r < rows; r++) {
        const i = order[this.position + r] as number;
        this.xBatch.set(data.features.subarray(i * inputSize, (i + 1) * inputSize), r * inputSize);
        if (perRow === 1) this.labelBatch[r] = data.labels[i] as number;
        else this.labelBatch.set(data.labels.subarray(i * perRow, (i + 1) * perRow), r * perRow);
      }
      const result = this.trainStep(this.xBatch, this.labelBatch, rows);
      this.position += rows;
      lossSum += result.loss * rows;
      correct += result.correct;
      samples += rows;
      steps++;
      options.onStep?.(result, this.position, data.rows);
      if (Date.now() - lastYield >= YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
    const completed = this.position >= data.rows;
    const epoch = this.epoch;
    if (completed) {
      this.epoch++;
      this.position = 0;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      epoch,
      loss: samples > 0 ? lossSum / samples : Number.NaN,
      accuracy:
        loss === 'mse' ? undefined : correct / (samples * (loss === 'cross_entropy' ? 1 : outputSize)),
      samples,
      steps,
      seconds,
      samplesPerSecond: samples / seconds,
      completed,
    };
  }

  /** One optimizer step on `rows` examples (row-major features, labels as in {@link Dataset}). */
  trainStep(x: Float32Array, labels: Int32Array | Float32Array, rows: number): StepResult {
    this.checkBatch(x, labels, rows);
    const k = this.kernels;
    const { layers } = this.network;
    const seed = this.options.training.seed;
    const inputs = this.forward(x, rows, true);
    const last = layers.length - 1;
    const out = this.buffers[last] as LayerBuffers;
    const { loss, correct } = this.lossAndGradient(out.y, labels, rows, out.dy);
    if (!Number.isFinite(loss)) {
      throw new SealtrainError(
        'ERR_TRAIN_DIVERGED',
        `The loss became ${loss} at step ${this.stepCount} (epoch ${this.epoch}). Lower the learning rate or set clip_norm.`,
        { details: { step: this.stepCount, epoch: this.epoch } },
      );
    }
    const perExample = this.options.perExampleNorms === true;
    const norms = this.normsBatch.subarray(0, rows);
    if (perExample) norms.fill(0);
    let offset = 0;
    const offsets = layers.map((l) => {
      const o = offset;
      offset += l.w.length + l.b.length;
      return o;
    });
    for (let i = last; i >= 0; i--) {
      const l = layers[i] as (typeof layers)[number];
      const buf = this.buffers[i] as LayerBuffers;
      const n = rows * l.spec.outputSize;
      const dy = buf.dy.subarray(0, n);
      const o = offsets[i] as number;
      const dw = this.grads.subarray(o, o + l.w.length);
      const db = this.grads.subarray(o + l.w.length, o + l.w.length + l.b.length);
      const prev = i > 0 ? (this.buffers[i - 1] as LayerBuffers) : undefined;
      const dx = prev === undefined ? null : prev.dy.subarray(0, rows * l.spec.inputSize);
      const input = inputs[i] as Float32Array;
      k.denseBackward(
        input,
        l.w,
        buf.y.subarray(0, n),
        buf.z?.subarray(0, n) ?? null,
        dy,
        dw,
        db,
        dx,
        rows,
        l.spec.inputSize,
        l.spec.outputSize,
        l.act,
      );
      if (perExample) this.addExampleNorms(input, dy, rows, l.spec.inputSize, l.spec.outputSize, norms);
      const prevLayer = layers[i - 1];
      if (dx !== null && prevLayer !== undefined && prevLayer.spec.dropout > 0) {
        this.applyDropout(dx, prevLayer.spec.dropout, i - 1, seed);
      }
    }
    const training = this.options.training;
    let gradNorm: number | undefined;
    let gradScale = 1;
    if (training.clipNorm !== undefined || this.options.perExampleNorms === true) {
      gradNorm = Math.sqrt(k.sumSquares(this.grads));
      if (training.clipNorm !== undefined && gradNorm > training.clipNorm)
        gradScale = training.clipNorm / gradNorm;
    }
    this.optimizerStep(gradScale);
    if (perExample) for (let r = 0; r < rows; r++) norms[r] = Math.sqrt(norms[r] as number) * rows;
    return { loss, correct, rows, gradNorm, perExampleNorms: perExample ? norms.slice() : undefined };
  }

  /** Mean loss and accuracy on `data`, without dropout or updates. */
  evaluate(
    data: Dataset,
    options: { checked?: boolean } = {},
  ): { loss: number; accuracy: number | undefined } {
    if (options.checked !== true) checkDataset(this.network.spec, data);
    const { inputSize, outputSize, loss } = this.network.spec;
    const batch = this.options.training.batchSize;
    const perRow = loss === 'cross_entropy' ? 1 : outputSize;
    const out = this.buffers[this.buffers.length - 1] as LayerBuffers;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < data.rows; start += batch) {
      const rows = Math.min(batch, data.rows - start);
      this.forward(data.features.subarray(start * inputSize, (start + rows) * inputSize), rows, false);
      const labels = data.labels.subarray(start * perRow, (start + rows) * perRow);
      const r = this.lossAndGradient(out.y, labels, rows, out.dy);
      lossSum += r.loss * rows;
      correct += r.correct;
    }
    return {
      loss: lossSum / data.rows,
      accuracy:
        loss === 'mse' ? undefined : correct / (data.rows * (loss === 'cross_entropy' ? 1 : outputSize)),
    };
  }

  private checkBatch(x: Float32Array, labels: Int32Array | Float32Array, rows: number): void {
    const { inputSize, outputSize, loss } = this.network.spec;
    const batch = this.options.training.batchSize;
    const perRow = loss === 'cross_entropy' ? 1 : outputSize;
    const problem =
      !Number.isInteger(rows) || rows < 1 || rows > batch
        ? `a step takes 1 to ${batch} rows (the batch size), not ${rows}`
        : x.length < rows * inputSize
          ? `the features hold ${x.length} values; ${rows} rows need ${rows * inputSize}`
          : labels.length < rows * perRow
            ? `the labels hold ${labels.length} values; ${rows} rows need ${rows * perRow}`
            : (loss === 'cross_entropy') !== labels instanceof Int32Array
              ? `${loss} takes ${loss === 'cross_entropy' ? 'class indices in an Int32Array' : 'targets in a Float32Array'}`
              : undefined;
    if (problem !== undefined)
      throw new SealtrainError('ERR_TRAIN_DATA_INVALID', `Cannot train on this batch: ${problem}.`);
  }

  /** Runs the layers; returns each layer's input (the batch, then each hidden output after dropout). */
  private forward(x: Float32Array, rows: number, training: boolean): Float32Array[] {
    const inputs: Float32Array[] = [];
    let input = x.subarray(0, rows * this.network.spec.inputSize);
    this.network.layers.forEach((l, i) => {
      inputs.push(input);
      const buf = this.buffers[i] as LayerBuffers;
      const n = rows * l.spec.outputSize;
      const y = buf.y.subarray(0, n);
      this.kernels.denseForward(
        input,
        l.w,
        l.b,
        y,
        buf.z?.subarray(0, n) ?? null,
        rows,
        l.spec.inputSize,
        l.spec.outputSize,
        l.act,
      );
      input = y;
      if (training && buf.dropped !== null) {
        const d = buf.dropped.subarray(0, n);
        d.set(y);
        this.applyDropout(d, l.spec.dropout, i, this.options.training.seed);
        input = d;
      }
    });
    return inputs;
  }

  private applyDropout(v: Float32Array, p: number, layer: number, seed: number): void {
    const stream = (this.stepCount * 64 + layer) >>> 0;
    const threshold = Math.min(0xffff_ffff, Math.floor(p * 4294967296));
    this.kernels.dropout(v, seed, stream, threshold, 1 / (1 - p));
  }

  private lossAndGradient(
    logits: Float32Array,
    labels: Int32Array | Float32Array,
    rows: number,
    grad: Float32Array,
  ): { loss: number; correct: number } {
    const { outputSize, loss } = this.network.spec;
    const n = rows * outputSize;
    const y = logits.subarray(0, n);
    const g = grad.subarray(0, n);
    if (loss === 'cross_entropy') {
      const sum = this.kernels.softmaxCrossEntropy(y, labels as Int32Array, rows, outputSize, g, 1 / rows);
      let correct = 0;
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let j = 1; j < outputSize; j++)
          if ((y[r * outputSize + j] as number) > (y[r * outputSize + best] as number)) best = j;
        if (best === labels[r]) correct++;
      }
      return { loss: sum / rows, correct };
    }
    const targets = (labels as Float32Array).subarray(0, n);
    if (loss === 'binary_cross_entropy') {
      const sum = this.kernels.sigmoidCrossEntropy(y, targets, g, 1 / n);
      let correct = 0;
      for (let i = 0; i < n; i++) if ((y[i] as number) > 0 === (targets[i] as number) >= 0.5) correct++;
      return { loss: sum / n, correct };
    }
    return { loss: this.kernels.squaredError(y, targets, g, 1 / n) / n, correct: Number.NaN };
  }

  /** Adds each example's ‖∂L/∂W‖² + ‖∂L/∂b‖² = (‖x‖² + 1)·‖dz‖² for one layer. */
  private addExampleNorms(
    x: Float32Array,
    dz: Float32Array,
    rows: number,
    inSize: number,
    outSize: number,
    norms: Float64Array,
  ): void {
    const xs = this.rowScratch.subarray(0, rows);
    const ds = this.rowScratch.subarray(rows, 2 * rows);
    this.kernels.rowSumSquares(x, rows, inSize, xs);
    this.kernels.rowSumSquares(dz, rows, outSize, ds);
    for (let r = 0; r < rows; r++)
      norms[r] = (norms[r] as number) + ((xs[r] as number) + 1) * (ds[r] as number);
  }

  private optimizerStep(gradScale: number): void {
    const o = this.options.training.optimizer;
    const w = this.network.params;
    this.stepCount++;
    const t = this.stepCount;
    if (o.kind === 'sgd') {
      this.kernels.sgdStep(
        w,
        this.grads,
        this.moment1,
        o.learningRate,
        o.momentum,
        o.weightDecay,
        gradScale,
        o.nesterov,
        t === 1,
      );
      return;
    }
    const bc1 = 1 - o.beta1 ** t;
    const bc2Sqrt = Math.sqrt(1 - o.beta2 ** t);
    this.kernels.adamStep(
      w,
      this.grads,
      this.moment1,
      this.moment2,
      o.learningRate,
      o.beta1,
      o.beta2,
      o.eps,
      o.weightDecay,
      gradScale,
      bc1,
      bc2Sqrt,
      o.kind === 'adamw',
    );
  }
}
