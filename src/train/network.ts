import { SealtrainError } from '../errors/index.js';
import { applyOutput, type DenseWeights, type ExportableModel } from './exportable-model.js';
import { ACT, type ActCode, type Kernels } from './internal/kernels.js';
import { type LayerSpec, type ModelSpec, parameterCount } from './model-spec.js';
import { Rng } from './rng.js';

/** A layer's weights and bias as views into the network's one parameter array. */
export interface LayerParams {
  readonly spec: LayerSpec;
  readonly act: ActCode;
  /** `[inputSize][outputSize]`, row-major. */
  readonly w: Float32Array;
  readonly b: Float32Array;
}

/** The stream of the seeded generator that initialises weights. */
const INIT_STREAM = 1;

/**
 * A feed-forward network: the resolved spec and every parameter in one `Float32Array` (layer by
 * layer, weights then bias), so an optimizer step is one pass and a checkpoint one copy.
 */
export class Network {
  readonly spec: ModelSpec;
  readonly params: Float32Array;
  readonly layers: readonly LayerParams[];

  /** A network over `params` (copied unless `share`), which must hold exactly the spec's parameters. */
  constructor(spec: ModelSpec, params: Float32Array, options: { share?: boolean } = {}) {
    const count = parameterCount(spec);
    if (params.length !== count) {
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        `The parameters hold ${params.length} values; the model needs ${count}.`,
      );
    }
    const bad = params.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        `Parameter ${bad} is ${params[bad]}; weights must be finite numbers.`,
        {
          details: { index: bad },
        },
      );
    }
    this.spec = spec;
    this.params = options.share === true ? params : params.slice();
    this.layers = layerViews(spec, this.params);
  }

  /**
   * A freshly initialised network: He-normal (ReLU, GELU) or Glorot-uniform (others) weights from
   * the seeded generator, zero biases. Same spec and seed, same weights, on any machine.
   */
  static create(spec: ModelSpec, seed = 0): Network {
    const params = new Float32Array(parameterCount(spec));
    const draw = drawWeights(spec, params, seed);
    while (!draw.next().done); // in one go
    return new Network(spec, params, { share: true });
  }

  /**
   * The same network as {@link Network.create} (the same weights, bit for bit), drawn a slice at
   * a time with the event loop let in between: I/O waiting on this thread (an attestation's round
   * trips, the next batch handed to the thread pool) goes on meanwhile.
   */
  static async createSoon(spec: ModelSpec, seed = 0): Promise<Network> {
    const params = new Float32Array(parameterCount(spec));
    for (const _ of drawWeights(spec, params, seed))
      await new Promise<void>((resolve) => setImmediate(resolve));
    return new Network(spec, params, { share: true });
  }

  /** The layers as plain arrays for the exporters (copies). */
  toExportable(): ExportableModel {
    const layers: DenseWeights[] = this.layers.map((l) => ({
      inputSize: l.spec.inputSize,
      outputSize: l.spec.outputSize,
      activation: l.spec.activation,
      kernel: l.w.slice(),
      bias: l.b.slice(),
    }));
    return { inputSize: this.spec.inputSize, layers, output: this.spec.output };
  }
}

/** Weights drawn between two turns of the event loop in {@link Network.createSoon} (about 2 ms). */
const DRAW_SLICE = 1 << 15;

/**
 * Draws the initial weights into `params` (biases stay zero): He-normal (ReLU, GELU) or
 * Glorot-uniform (others) from the seeded generator; pauses (yields) every {@link DRAW_SLICE}
 * weights.
 */
function* drawWeights(spec: ModelSpec, params: Float32Array, seed: number): Generator<void, void, void> {
  const rng = new Rng(seed, INIT_STREAM);
  for (const layer of layerViews(spec, params)) {
    const { inputSize: fanIn, outputSize: fanOut, init } = layer.spec;
    const w = layer.w;
    for (let from = 0; from < w.length; from += DRAW_SLICE) {
      const end = Math.min(w.length, from + DRAW_SLICE);
      if (init === 'he') {
        const std = Math.sqrt(2 / fanIn);
        for (let i = from; i < end; i++) w[i] = rng.normal() * std;
      } else {
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = from; i < end; i++) w[i] = (2 * rng.next() - 1) * limit;
      }
      if (end < w.length) yield;
    }
    yield;
  }
}

function layerViews(spec: ModelSpec, params: Float32Array): LayerParams[] {
  const views: LayerParams[] = [];
  let offset = 0;
  for (const layer of spec.layers) {
    const nw = layer.inputSize * layer.outputSize;
    const w = params.subarray(offset, offset + nw);
    const b = params.subarray(offset + nw, offset + nw + layer.outputSize);
    views.push({ spec: layer, act: ACT[layer.activation], w, b });
    offset += nw + layer.outputSize;
  }
  return views;
}

/**
 * Outputs for `rows` inputs (row-major, `inputSize` each) in batches of `batchSize`: class
 * probabilities (softmax), per-output probabilities (sigmoid) or values (linear). No dropout.
 */
export function predict(
  network: Network,
  kernels: Kernels,
  x: Float32Array,
  rows: number,
  options: { batchSize?: number } = {},
): Float32Array {
  const { inputSize, outputSize } = network.spec;
  if (x.length < rows * inputSize) {
    throw new SealtrainError(
      'ERR_TRAIN_DATA_INVALID',
      `The input holds ${x.length} values; ${rows} rows of ${inputSize} features need ${rows * inputSize}.`,
    );
  }
  const batch = Math.max(1, Math.min(options.batchSize ?? 1024, rows));
  const out = new Float32Array(rows * outputSize);
  const buffers = network.layers.map((l) => new Float32Array(batch * l.spec.outputSize));
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    let input = x.subarray(start * inputSize, (start + n) * inputSize);
    network.layers.forEach((l, i) => {
      const y = (buffers[i] as Float32Array).subarray(0, n * l.spec.outputSize);
      kernels.denseForward(input, l.w, l.b, y, null, n, l.spec.inputSize, l.spec.outputSize, l.act);
      input = y;
    });
    out.set(input, start * outputSize);
  }
  // The activations were computed from the input rows: not left behind in freed memory.
  for (const b of buffers) b.fill(0);
  kernels.wipeScratch?.();
  applyOutput(network.spec.output, out, outputSize);
  return out;
}
