/**
 * The compute kernels the engine runs on: the native addon (`native/train/`) or the TypeScript
 * reference (`reference-kernels.ts`), which defines what each computes and is the oracle in tests.
 * Matrices are row-major and contiguous. The native kernels take `Float32Array` only; the
 * reference also takes `Float64Array`, which the gradient checks use.
 */

/** Float storage the kernels accept. */
export type FloatArray = Float32Array | Float64Array;

/** Activation codes shared with the addon (`native/train/kernels.h`). */
export const ACT = { linear: 0, relu: 1, gelu: 2, tanh: 3, sigmoid: 4 } as const;
/** An activation code. */
export type ActCode = (typeof ACT)[keyof typeof ACT];

/** The kernel set. */
export interface Kernels {
  /** `native-avx512`, `native-avx2`, `native-portable` or `reference`. */
  readonly name: string;
  /** `c[m×n] = op(a)·op(b)` (plus `c` when `accumulate`); `op` transposes when its flag is set. */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    accumulate: boolean,
  ): void;
  /** `z = x·w + b` (kept in `z` when given), `y = act(z)`. */
  denseForward(
    x: FloatArray,
    w: FloatArray,
    b: FloatArray,
    y: FloatArray,
    z: FloatArray | null,
    rows: number,
    inputSize: number,
    outputSize: number,
    act: ActCode,
  ): void;
  /**
   * From `dy` = dL/dy: `dy` becomes dz = dy·act′, `db` = column sums of dz, `dw` = xᵀ·dz and,
   * when given, `dx` = dz·wᵀ. `z` is needed for GELU only.
   */
  denseBackward(
    x: FloatArray,
    w: FloatArray,
    y: FloatArray,
    z: FloatArray | null,
    dy: FloatArray,
    dw: FloatArray,
    db: FloatArray,
    dx: FloatArray | null,
    rows: number,
    inputSize: number,
    outputSize: number,
    act: ActCode,
  ): void;
  /** Inverted dropout in place: element i is kept, times `scale`, when `dropoutHash(seed, stream, i) >= threshold`. */
  dropout(v: FloatArray, seed: number, stream: number, threshold: number, scale: number): void;
  /** Writes `grad` = (softmax − one-hot)·scale per row and returns the summed loss. */
  softmaxCrossEntropy(
    logits: FloatArray,
    labels: Int32Array,
    rows: number,
    classes: number,
    grad: FloatArray,
    scale: number,
  ): number;
  /** Binary cross-entropy on logits: `grad` = (σ(x) − t)·scale; returns the summed loss. */
  sigmoidCrossEntropy(logits: FloatArray, targets: FloatArray, grad: FloatArray, scale: number): number;
  /** `grad` = 2(p − t)·scale; returns the summed squared error. */
  squaredError(pred: FloatArray, targets: FloatArray, grad: FloatArray, scale: number): number;
  /** Σ v², in double precision. */
  sumSquares(v: FloatArray): number;
  /** `out[r]` = Σ_c m[r][c]². */
  rowSumSquares(m: FloatArray, rows: number, cols: number, out: Float64Array): void;
  /** One Adam (or, with `decoupled`, AdamW) step over every element, PyTorch's formulation. */
  adamStep(
    w: FloatArray,
    g: FloatArray,
    m: FloatArray,
    v: FloatArray,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    gradScale: number,
    biasCorrection1: number,
    biasCorrection2Sqrt: number,
    decoupled: boolean,
  ): void;
  /** One SGD step with optional (Nesterov) momentum, PyTorch's formulation. */
  sgdStep(
    w: FloatArray,
    g: FloatArray,
    velocity: FloatArray,
    lr: number,
    momentum: number,
    weightDecay: number,
    gradScale: number,
    nesterov: boolean,
    firstStep: boolean,
  ): void;
  /**
   * Overwrites with zeros whatever scratch the kernels keep between calls on this thread (the
   * native GEMM's packed copies of matrix rows); the reference kernels keep none.
   */
  wipeScratch?(): void;
}

function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The dropout hash, the same in both kernel sets: a 32-bit value per (seed, stream, index). */
export function dropoutBase(seed: number, stream: number): number {
  return mix32((seed ^ mix32((stream + 0x9e3779b9) >>> 0)) >>> 0);
}

/** `dropoutHash(seed, stream, i)` for a base from {@link dropoutBase}. */
export function dropoutHashAt(base: number, index: number): number {
  return mix32((base ^ index) >>> 0);
}
