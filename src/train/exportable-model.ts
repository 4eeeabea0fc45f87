/**
 * A trained feed-forward network as plain arrays: what the exporters (ONNX, TensorFlow.js) and
 * the engine agree on. No engine state, no optimizer state.
 */

/** Activation after a dense layer. `gelu` is the exact form, 0.5·x·(1 + erf(x/√2)). */
export type Activation = 'relu' | 'gelu' | 'tanh' | 'sigmoid' | 'linear';

/** What the model's outputs mean: `softmax` and `sigmoid` turn the last layer's logits into probabilities. */
export type OutputKind = 'softmax' | 'sigmoid' | 'linear';

/** One dense layer: `y = activation(x · kernel + bias)`. */
export interface DenseWeights {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly activation: Activation;
  /** Row-major `[inputSize][outputSize]`: element `(i, j)` at `i * outputSize + j`. */
  readonly kernel: Float32Array;
  /** `outputSize` values. */
  readonly bias: Float32Array;
}

/** A network ready for export: dense layers in order, then the output transform. */
export interface ExportableModel {
  readonly inputSize: number;
  readonly layers: readonly DenseWeights[];
  /** Applied after the last layer (whose own activation is usually `linear`). */
  readonly output: OutputKind;
}

/**
 * The error function in double precision (relative error near 1e-14): the Maclaurin series below
 * |x| = 3, the continued fraction of erfc above. JavaScript has no `Math.erf`.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let frac = a;
  for (let n = 60; n >= 1; n--) frac = a + n / 2 / frac;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / frac;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** The activation of one value, in double precision. */
export function activate(kind: Activation, x: number): number {
  switch (kind) {
    case 'relu':
      return Math.max(x, 0);
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'linear':
      return x;
  }
}

/**
 * The model's outputs for `rows` inputs of `inputSize` values each (row-major), computed plainly
 * in double precision: the oracle the exporters' tests compare runtimes against.
 */
export function predictExportable(model: ExportableModel, x: Float32Array, rows: number): Float32Array {
  let act: Float64Array = Float64Array.from(x.subarray(0, rows * model.inputSize));
  let width = model.inputSize;
  for (const layer of model.layers) {
    const next = new Float64Array(rows * layer.outputSize);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < layer.outputSize; j++) {
        let sum = layer.bias[j] ?? 0;
        for (let i = 0; i < width; i++)
          sum += (act[r * width + i] ?? 0) * (layer.kernel[i * layer.outputSize + j] ?? 0);
        next[r * layer.outputSize + j] = activate(layer.activation, sum);
      }
    }
    act = next;
    width = layer.outputSize;
  }
  applyOutput(model.output, act, width);
  return Float32Array.from(act);
}

/**
 * The output transform in place over rows of `width` values: softmax per row, or a sigmoid per
 * value, or nothing for `linear`. Shared by the engine's `predict` and the double-precision oracle.
 */
export function applyOutput(kind: OutputKind, v: Float32Array | Float64Array, width: number): void {
  if (kind === 'sigmoid') {
    for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-(v[i] as number)));
  } else if (kind === 'softmax') {
    for (let r = 0; r < v.length; r += width) {
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < width; j++) max = Math.max(max, v[r + j] as number);
      let sum = 0;
      for (let j = 0; j < width; j++) sum += Math.exp((v[r + j] as number) - max);
      for (let j = 0; j < width; j++) v[r + j] = Math.exp((v[r + j] as number) - max) / sum;
    }
  }
}
