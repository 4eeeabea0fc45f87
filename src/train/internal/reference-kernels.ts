import { activate as activateValue, erf } from '../exportable-model.js';
import { ACT, type ActCode, dropoutBase, dropoutHashAt, type FloatArray, type Kernels } from './kernels.js';

/**
 * The kernels in plain TypeScript: the definition the native addon is tested against, and the
 * fallback where the addon cannot load. Sums run in double precision; results are stored in the
 * caller's arrays (rounded to float32 for a Float32Array).
 */
const NAMES = ['linear', 'relu', 'gelu', 'tanh', 'sigmoid'] as const;

function at(a: FloatArray, i: number): number {
  return a[i] as number;
}

function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  b: FloatArray,
  c: FloatArray,
  accumulate: boolean,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = accumulate ? at(c, i * n + j) : 0;
      for (let p = 0; p < k; p++) {
        sum += at(a, transA ? p * m + i : i * k + p) * at(b, transB ? j * k + p : p * n + j);
      }
      c[i * n + j] = sum;
    }
  }
}

function derivative(act: ActCode, y: number, z: number): number {
  switch (act) {
    case ACT.relu:
      return y > 0 ? 1 : 0;
    case ACT.gelu:
      return 0.5 * (1 + erf(z / Math.SQRT2)) + (z * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);
    case ACT.tanh:
      return 1 - y * y;
    case ACT.sigmoid:
      return y * (1 - y);
    default:
      return 1;
  }
}

function sumSquares(v: FloatArray): number {
  let total = 0;
  for (let i = 0; i < v.length; i++) total += at(v, i) * at(v, i);
  return total;
}

/** The reference kernel set. */
export const referenceKernels: Kernels = {
  name: 'reference',
  gemm,
  denseForward(x, w, b, y, z, rows, inputSize, outputSize, act) {
    gemm(false, false, rows, outputSize, inputSize, x, w, y, false);
    const kind = NAMES[act] ?? 'linear';
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < outputSize; j++) {
        const i = r * outputSize + j;
        const pre = at(y, i) + at(b, j);
        if (z !== null) z[i] = pre;
        y[i] = activateValue(kind, pre);
      }
    }
  },
  denseBackward(x, w, y, z, dy, dw, db, dx, rows, inputSize, outputSize, act) {
    for (let i = 0; i < rows * outputSize; i++) {
      dy[i] = at(dy, i) * derivative(act, at(y, i), z === null ? 0 : at(z, i));
    }
    for (let j = 0; j < outputSize; j++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += at(dy, r * outputSize + j);
      db[j] = sum;
    }
    gemm(true, false, inputSize, outputSize, rows, x, dy, dw, false);
    if (dx !== null) gemm(false, true, rows, inputSize, outputSize, dy, w, dx, false);
  },
  dropout(v, seed, stream, threshold, scale) {
    const base = dropoutBase(seed, stream);
    // float32 storage multiplies by the float32 scale, as the addon does (the product is exact in double).
    const s = v instanceof Float32Array ? Math.fround(scale) : scale;
    for (let i = 0; i < v.length; i++) v[i] = dropoutHashAt(base, i) >= threshold ? at(v, i) * s : 0;
  },
  softmaxCrossEntropy(logits, labels, rows, classes, grad, scale) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const label = labels[r] as number;
      if (!(label >= 0 && label < classes)) {
        throw new RangeError(`softmaxCrossEntropy: label ${label} at row ${r} is outside 0..${classes - 1}`);
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < classes; j++) max = Math.max(max, at(logits, r * classes + j));
      let sum = 0;
      for (let j = 0; j < classes; j++) sum += Math.exp(at(logits, r * classes + j) - max);
      const logSum = Math.log(sum);
      total += logSum - (at(logits, r * classes + label) - max);
      for (let j = 0; j < classes; j++) {
        const p = Math.exp(at(logits, r * classes + j) - max - logSum);
        grad[r * classes + j] = (p - (j === label ? 1 : 0)) * scale;
      }
    }
    return total;
  },
  sigmoidCrossEntropy(logits, targets, grad, scale) {
    let total = 0;
    for (let i = 0; i < logits.length; i++) {
      const x = at(logits, i);
      const t = at(targets, i);
      total += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
      const p = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
      grad[i] = (p - t) * scale;
    }
    return total;
  },
  squaredError(pred, targets, grad, scale) {
    let total = 0;
    for (let i = 0; i < pred.length; i++) {
      const d = at(pred, i) - at(targets, i);
      total += d * d;
      grad[i] = 2 * d * scale;
    }
    return total;
  },
  sumSquares,
  rowSumSquares(m, rows, cols, out) {
    for (let r = 0; r < rows; r++) out[r] = sumSquares(m.subarray(r * cols, (r + 1) * cols));
  },
  adamStep(w, g, m, v, lr, beta1, beta2, eps, weightDecay, gradScale, bc1, bc2Sqrt, decoupled) {
    for (let i = 0; i < w.length; i++) {
      let grad = at(g, i) * gradScale;
      let wi = at(w, i);
      if (decoupled) wi *= 1 - lr * weightDecay;
      else grad += weightDecay * wi;
      const mi = beta1 * at(m, i) + (1 - beta1) * grad;
      const vi = beta2 * at(v, i) + (1 - beta2) * grad * grad;
      m[i] = mi;
      v[i] = vi;
      w[i] = wi - ((lr / bc1) * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  },
  sgdStep(w, g, velocity, lr, momentum, weightDecay, gradScale, nesterov, firstStep) {
    for (let i = 0; i < w.length; i++) {
      let grad = at(g, i) * gradScale + weightDecay * at(w, i);
      if (momentum !== 0) {
        const buf = firstStep ? grad : momentum * at(velocity, i) + grad;
        velocity[i] = buf;
        grad = nesterov ? grad + momentum * buf : buf;
      }
      w[i] = at(w, i) - lr * grad;
    }
  },
};
