/**
 * Finite-difference checks of the reference kernels (the definition the native addon is tested
 * against), in Float64Array precision.
 *
 * Central differences with h = 1e-6 have a truncation error of order h²·|f‴| ≈ 1e-12 and a
 * rounding error of order ε·|L|/h, with ε = 2^-53 and objectives |L| ≲ 50: about 1e-8 at worst.
 * So an analytic gradient `a` and a numerical one `n` must agree within
 * |a − n| ≤ REL·max(|a|, |n|) + ABS, REL = 1e-6 and ABS = 1e-8; a wrong term in a gradient
 * (a missing factor, a sign, a transposed index) is off by far more than that.
 */
import { describe, expect, it } from 'vitest';
import { ACT, type ActCode, dropoutBase, dropoutHashAt } from '../../src/train/internal/kernels.js';
import { referenceKernels as ref } from '../../src/train/internal/reference-kernels.js';
import { Rng } from '../../src/train/rng.js';

const EPS = 1e-6;
const REL = 1e-6;
const ABS = 1e-8;
const ACTS = Object.entries(ACT) as [keyof typeof ACT, ActCode][];

function normals(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

function uniforms(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next();
  return out;
}

/** dL/dp[i] by central differences, the step measured as actually represented. */
function numericGradient(p: Float64Array, i: number, loss: () => number): number {
  const orig = p[i] as number;
  const up = orig + EPS;
  const down = orig - EPS;
  p[i] = up;
  const lUp = loss();
  p[i] = down;
  const lDown = loss();
  p[i] = orig;
  return (lUp - lDown) / (up - down);
}

/** Checks `analytic[i]` against finite differences for each index in `indices` (default: all). */
function expectGradient(
  what: string,
  p: Float64Array,
  analytic: Float64Array,
  loss: () => number,
  indices: Iterable<number> = analytic.keys(),
): void {
  let checked = 0;
  for (const i of indices) {
    const a = analytic[i] as number;
    const n = numericGradient(p, i, loss);
    const bound = REL * Math.max(Math.abs(a), Math.abs(n)) + ABS;
    expect(Math.abs(a - n), `${what}[${i}]: analytic ${a}, numeric ${n}`).toBeLessThanOrEqual(bound);
    checked++;
  }
  expect(checked).toBeGreaterThan(0);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

describe('denseForward and denseBackward', () => {
  const rows = 3;
  const inputSize = 4;
  const outputSize = 5;

  it.each(ACTS)('%s: dw, db and dx match finite differences of Σ y ⊙ R', (_name, act) => {
    const rng = new Rng(11, act);
    const r = normals(rng, rows * outputSize);
    let x: Float64Array;
    let w: Float64Array;
    let b: Float64Array;
    const y = new Float64Array(rows * outputSize);
    const z = new Float64Array(rows * outputSize);
    // Pre-activations at least 1e-3 from 0: ReLU's kink is then far outside the ±1e-6 steps
    // (a step moves z by at most 1e-6·max(|x|, |w|, 1) < 1e-5).
    do {
      x = normals(rng, rows * inputSize);
      w = normals(rng, inputSize * outputSize, 0.6);
      b = normals(rng, outputSize, 0.3);
      ref.denseForward(x, w, b, y, z, rows, inputSize, outputSize, act);
    } while (z.some((v) => Math.abs(v) <= 1e-3));

    const loss = (): number => {
      const out = new Float64Array(rows * outputSize);
      ref.denseForward(x, w, b, out, null, rows, inputSize, outputSize, act);
      return dot(out, r);
    };
    expect(loss()).toBe(dot(y, r));

    const dy = r.slice();
    const dw = new Float64Array(inputSize * outputSize);
    const db = new Float64Array(outputSize);
    const dx = new Float64Array(rows * inputSize);
    ref.denseBackward(x, w, y, z, dy, dw, db, dx, rows, inputSize, outputSize, act);
    expectGradient('dw', w, dw, loss);
    expectGradient('db', b, db, loss);
    expectGradient('dx', x, dx, loss);

    // Without dx, dw and db are the same; z is needed only by GELU.
    const dy2 = r.slice();
    const dw2 = new Float64Array(dw.length);
    const db2 = new Float64Array(db.length);
    const zArg = act === ACT.gelu ? z : null;
    ref.denseBackward(x, w, y, zArg, dy2, dw2, db2, null, rows, inputSize, outputSize, act);
    expect(dw2).toEqual(dw);
    expect(db2).toEqual(db);
    expect(dy2).toEqual(dy);
  });

  it('keeps z equal to x·w + b and y equal to act(z)', () => {
    const rng = new Rng(12);
    const x = normals(rng, 6);
    const w = normals(rng, 9);
    const b = normals(rng, 3);
    const y = new Float64Array(6);
    const z = new Float64Array(6);
    ref.denseForward(x, w, b, y, z, 2, 3, 3, ACT.tanh);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        let pre = b[j] as number;
        for (let k = 0; k < 3; k++) pre += (x[i * 3 + k] as number) * (w[k * 3 + j] as number);
        expect(z[i * 3 + j]).toBeCloseTo(pre, 14);
        expect(y[i * 3 + j]).toBeCloseTo(Math.tanh(pre), 14);
      }
    }
  });
});

describe('losses', () => {
  const scale = 0.37;

  it('softmaxCrossEntropy: grad = s·d(loss)/d(logits), loss = Σ −log softmax[label]', () => {
    const rng = new Rng(21);
    const rows = 4;
    const classes = 5;
    const logits = normals(rng, rows * classes, 2);
    const labels = Int32Array.from({ length: rows }, () => rng.below(classes));
    const grad = new Float64Array(rows * classes);
    const loss = ref.softmaxCrossEntropy(logits, labels, rows, classes, grad, scale);

    let direct = 0;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < classes; j++) sum += Math.exp(logits[r * classes + j] as number);
      direct -= Math.log(Math.exp(logits[r * classes + (labels[r] as number)] as number) / sum);
    }
    expect(Math.abs(loss - direct)).toBeLessThanOrEqual(1e-12 * Math.abs(direct));

    const scaledLoss = (): number =>
      scale * ref.softmaxCrossEntropy(logits, labels, rows, classes, new Float64Array(rows * classes), 1);
    expectGradient('grad', logits, grad, scaledLoss);
    // Each row of the gradient sums to 0 (softmax sums to 1, the one-hot too).
    for (let r = 0; r < rows; r++) {
      expect(Math.abs(dot(grad.subarray(r * 5, r * 5 + 5), new Float64Array(5).fill(1)))).toBeLessThan(1e-15);
    }
  });

  it('softmaxCrossEntropy: logits of ±1000 give finite losses and the limiting gradients', () => {
    const logits = Float64Array.of(1000, -1000, 1000, -1000, -1000, -1000, -1000, 1000, 1000, 999, -1000, 0);
    // Rows of 3 classes: [1000, −1000, 1000] label 1; [−1000, −1000, −1000] label 0;
    // [−1000, 1000, 1000] label 2; [999, −1000, 0] label 0.
    const labels = Int32Array.of(1, 0, 2, 0);
    const grad = new Float64Array(12);
    const loss = ref.softmaxCrossEntropy(logits, labels, 4, 3, grad, scale);
    // −log p[label] per row: 2000 + log 2; log 3; log 2; log(1 + e^-999 + e^-1999) = 0.
    expect(loss).toBeCloseTo(2000 + Math.LN2 + Math.log(3) + Math.LN2 + 0, 9);
    expect(Number.isFinite(loss)).toBe(true);
    const expected = [0.5, -1, 0.5, -2 / 3, 1 / 3, 1 / 3, 0, 0.5, -0.5, 0, 0, 0].map((v) => v * scale);
    for (let i = 0; i < 12; i++) {
      expect(Number.isFinite(grad[i] as number)).toBe(true);
      expect(Math.abs((grad[i] as number) - (expected[i] as number)), `grad[${i}]`).toBeLessThan(1e-15);
    }
  });

  it('softmaxCrossEntropy: a label outside 0..classes−1 is a RangeError naming the row', () => {
    const grad = new Float64Array(4);
    expect(() => ref.softmaxCrossEntropy(new Float64Array(4), Int32Array.of(0, 2), 2, 2, grad, 1)).toThrow(
      new RangeError('softmaxCrossEntropy: label 2 at row 1 is outside 0..1'),
    );
    expect(() => ref.softmaxCrossEntropy(new Float64Array(4), Int32Array.of(-1, 0), 2, 2, grad, 1)).toThrow(
      /row 0/,
    );
  });

  it('sigmoidCrossEntropy: grad = s·d(loss)/d(logits), loss = Σ −t·log σ − (1−t)·log(1−σ)', () => {
    const rng = new Rng(22);
    const n = 12;
    const logits = normals(rng, n, 3);
    const targets = uniforms(rng, n);
    targets[0] = 0;
    targets[1] = 1;
    const grad = new Float64Array(n);
    const loss = ref.sigmoidCrossEntropy(logits, targets, grad, scale);

    let direct = 0;
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-(logits[i] as number)));
      const t = targets[i] as number;
      direct -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    }
    expect(Math.abs(loss - direct)).toBeLessThanOrEqual(1e-12 * Math.abs(direct));

    const scaledLoss = (): number => scale * ref.sigmoidCrossEntropy(logits, targets, new Float64Array(n), 1);
    expectGradient('grad', logits, grad, scaledLoss);
  });

  it('sigmoidCrossEntropy: logits of ±1000 give finite losses and the limiting gradients', () => {
    const logits = Float64Array.of(1000, 1000, -1000, -1000, 1000, -1000);
    const targets = Float64Array.of(0, 1, 1, 0, 0.5, 0.25);
    const grad = new Float64Array(6);
    const loss = ref.sigmoidCrossEntropy(logits, targets, grad, scale);
    // 1000 + 0 + 1000 + 0 + 500 + 250: max(x, 0) − x·t, the log1p term being e^-1000 = 0.
    expect(loss).toBe(2750);
    expect(Array.from(grad)).toEqual([1, 0, -1, 0, 0.5, -0.25].map((v) => v * scale));
  });

  it('squaredError: grad = s·d(loss)/d(pred), loss = Σ (p − t)²', () => {
    const rng = new Rng(23);
    const n = 10;
    const pred = normals(rng, n);
    const targets = normals(rng, n);
    const grad = new Float64Array(n);
    const loss = ref.squaredError(pred, targets, grad, scale);
    let direct = 0;
    for (let i = 0; i < n; i++) direct += ((pred[i] as number) - (targets[i] as number)) ** 2;
    expect(Math.abs(loss - direct)).toBeLessThanOrEqual(1e-14 * direct);
    const scaledLoss = (): number => scale * ref.squaredError(pred, targets, new Float64Array(n), 1);
    expectGradient('grad', pred, grad, scaledLoss);

    const big = new Float64Array(2);
    expect(ref.squaredError(Float64Array.of(1000, -1000), Float64Array.of(-1000, 0.5), big, scale)).toBe(
      4e6 + 1000.5 ** 2,
    );
    expect(Array.from(big)).toEqual([4000 * scale, -2001 * scale]);
  });
});

describe('dropout', () => {
  const seed = 0x1234_5678;
  const p = 0.3;
  const threshold = Math.floor(p * 2 ** 32);
  const scale = 1 / (1 - p);

  function mask(n: number, stream: number, s = seed): Float64Array {
    const v = new Float64Array(n).fill(1);
    ref.dropout(v, s, stream, threshold, scale);
    return v;
  }

  it('is the diagonal map of its mask: one-hot vectors give 0 or scale at their index only', () => {
    const n = 300;
    const m = mask(n, 7);
    for (let i = 0; i < n; i++) {
      const v = new Float64Array(n);
      v[i] = 1;
      ref.dropout(v, seed, 7, threshold, scale);
      const kept = v[i] as number;
      expect([0, scale]).toContain(kept);
      expect(kept).toBe(m[i]);
      expect(v.every((e, j) => j === i || e === 0)).toBe(true);
    }
  });

  it('is its own adjoint (the backward pass reuses it) and linear', () => {
    const rng = new Rng(31);
    const n = 1000;
    const u = normals(rng, n);
    const v = normals(rng, n);
    const du = u.slice();
    const dv = v.slice();
    ref.dropout(du, seed, 3, threshold, scale);
    ref.dropout(dv, seed, 3, threshold, scale);
    // ⟨D u, v⟩ = ⟨u, D v⟩: the same sum of terms u_i·m_i·v_i up to rounding.
    expect(Math.abs(dot(du, v) - dot(u, dv))).toBeLessThan(1e-12);
    const comb = u.map((e, i) => 2 * e - 3 * (v[i] as number));
    ref.dropout(comb, seed, 3, threshold, scale);
    comb.forEach((e, i) => {
      expect(e).toBeCloseTo(2 * (du[i] as number) - 3 * (dv[i] as number), 12);
    });
  });

  it('keeps 1 − p of 100k elements within 1%, by the documented hash', () => {
    const n = 100_000;
    const m = mask(n, 9);
    const kept = m.reduce((s, e) => s + (e === 0 ? 0 : 1), 0);
    // Binomial sd of the fraction: sqrt(p(1−p)/n) ≈ 0.0014; 1% of 0.7 is 0.007, about 5 sd.
    expect(Math.abs(kept / n - (1 - p))).toBeLessThanOrEqual(0.01 * (1 - p));
    const base = dropoutBase(seed, 9);
    for (let i = 0; i < n; i += 997) {
      expect(m[i]).toBe(dropoutHashAt(base, i) >= threshold ? scale : 0);
    }
  });

  it('gives different masks for different streams and seeds, the same for the same pair', () => {
    const n = 10_000;
    const a = mask(n, 1);
    const b = mask(n, 2);
    const c = mask(n, 1, seed + 1);
    expect(mask(n, 1)).toEqual(a);
    const differ = (x: Float64Array, y: Float64Array): number => x.filter((e, i) => e !== y[i]).length;
    // Independent masks differ in 2p(1−p) = 42% of the places.
    for (const d of [differ(a, b), differ(a, c)]) {
      expect(d / n).toBeGreaterThan(0.38);
      expect(d / n).toBeLessThan(0.46);
    }
  });

  it('keeps everything at threshold 0; at 0xffffffff keeps only a hash of 0xffffffff', () => {
    const v = new Float64Array(1000).fill(1);
    ref.dropout(v, seed, 0, 0, 2);
    expect(v.every((e) => e === 2)).toBe(true);
    ref.dropout(v, seed, 0, 0xffff_ffff, 2);
    const base = dropoutBase(seed, 0);
    expect(v.every((e, i) => e === (dropoutHashAt(base, i) === 0xffff_ffff ? 4 : 0))).toBe(true);
  });
});

describe('a two-layer network composed from the kernels', () => {
  it('matches finite differences of the mean softmax cross-entropy end to end', () => {
    const rng = new Rng(41);
    const rows = 4;
    const inputSize = 5;
    const hidden = 6;
    const classes = 3;
    const x = normals(rng, rows * inputSize);
    const w1 = normals(rng, inputSize * hidden, 0.7);
    const b1 = normals(rng, hidden, 0.2);
    const w2 = normals(rng, hidden * classes, 0.7);
    const b2 = normals(rng, classes, 0.2);
    const labels = Int32Array.from({ length: rows }, () => rng.below(classes));

    const h = new Float64Array(rows * hidden);
    const z1 = new Float64Array(rows * hidden);
    const out = new Float64Array(rows * classes);
    const z2 = new Float64Array(rows * classes);
    const forward = (grad: Float64Array): number => {
      ref.denseForward(x, w1, b1, h, z1, rows, inputSize, hidden, ACT.gelu);
      ref.denseForward(h, w2, b2, out, z2, rows, hidden, classes, ACT.linear);
      return ref.softmaxCrossEntropy(out, labels, rows, classes, grad, 1 / rows) / rows;
    };
    const loss = (): number => forward(new Float64Array(rows * classes));

    const dOut = new Float64Array(rows * classes);
    forward(dOut);
    const dw2 = new Float64Array(w2.length);
    const db2 = new Float64Array(b2.length);
    const dh = new Float64Array(h.length);
    ref.denseBackward(h, w2, out, z2, dOut, dw2, db2, dh, rows, hidden, classes, ACT.linear);
    const dw1 = new Float64Array(w1.length);
    const db1 = new Float64Array(b1.length);
    const dx = new Float64Array(x.length);
    ref.denseBackward(x, w1, h, z1, dh, dw1, db1, dx, rows, inputSize, hidden, ACT.gelu);

    const sample = Array.from({ length: 12 }, () => rng.below(w1.length));
    expectGradient('dw1', w1, dw1, loss, sample);
    expectGradient('db1', b1, db1, loss);
    expectGradient('dx', x, dx, loss, [0, 7, 13, 19]);
    expectGradient('dw2', w2, dw2, loss, [0, 5, 11, 17]);
    expectGradient('db2', b2, db2, loss);
  });
});

describe('optimizer steps against PyTorch formulas written out per scalar', () => {
  const n = 8;
  const steps = 3;
  const gradScale = 0.7;

  /** torch.optim.Adam / AdamW, _single_tensor_adam without amsgrad or maximize, one scalar. */
  function torchAdam(
    p: { w: number; m: number; v: number },
    g: number,
    t: number,
    o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; adamw: boolean },
  ): void {
    let grad = g * gradScale; // clip_grad_norm_ scales .grad in place before step()
    if (o.adamw) p.w = p.w * (1 - o.lr * o.wd);
    else grad = grad + o.wd * p.w;
    p.m = p.m + (1 - o.beta1) * (grad - p.m); // exp_avg.lerp_(grad, 1 - beta1)
    p.v = p.v * o.beta2 + (1 - o.beta2) * grad * grad; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
    const biasCorrection1 = 1 - o.beta1 ** t;
    const biasCorrection2 = 1 - o.beta2 ** t;
    const stepSize = o.lr / biasCorrection1;
    const denom = Math.sqrt(p.v) / Math.sqrt(biasCorrection2) + o.eps;
    p.w = p.w - stepSize * (p.m / denom); // param.addcdiv_(exp_avg, denom, value=-step_size)
  }

  /** torch.optim.SGD, _single_tensor_sgd with dampening 0, one scalar; buf null before the first step. */
  function torchSgd(
    p: { w: number; buf: number | null },
    g: number,
    o: { lr: number; momentum: number; wd: number; nesterov: boolean },
  ): void {
    let dp = g * gradScale;
    if (o.wd !== 0) dp = dp + o.wd * p.w;
    if (o.momentum !== 0) {
      if (p.buf === null) p.buf = dp;
      else p.buf = p.buf * o.momentum + dp;
      dp = o.nesterov ? dp + o.momentum * p.buf : p.buf;
    }
    p.w = p.w - o.lr * dp;
  }

  function expectClose(actual: Float64Array, expected: number[], what: string): void {
    expected.forEach((e, i) => {
      // Same operations in double, differently grouped (lerp, addcdiv): a few ulp apart.
      expect(Math.abs((actual[i] as number) - e), `${what}[${i}]`).toBeLessThanOrEqual(
        1e-13 * Math.max(1, Math.abs(e)),
      );
    });
  }

  it.each([
    ['Adam (L2 decay added to the gradient)', false],
    ['AdamW (decoupled decay)', true],
  ])('%s: 3 steps', (_name, adamw) => {
    const rng = new Rng(51, adamw ? 1 : 0);
    const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.05, adamw };
    const w = normals(rng, n);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const torch = Array.from(w, (wi) => ({ w: wi, m: 0, v: 0 }));
    for (let t = 1; t <= steps; t++) {
      const g = normals(rng, n);
      ref.adamStep(
        w,
        g,
        m,
        v,
        o.lr,
        o.beta1,
        o.beta2,
        o.eps,
        o.wd,
        gradScale,
        1 - o.beta1 ** t,
        Math.sqrt(1 - o.beta2 ** t),
        adamw,
      );
      torch.forEach((p, i) => {
        torchAdam(p, g[i] as number, t, o);
      });
      expectClose(
        w,
        torch.map((p) => p.w),
        `w after step ${t}`,
      );
      expectClose(
        m,
        torch.map((p) => p.m),
        `m after step ${t}`,
      );
      expectClose(
        v,
        torch.map((p) => p.v),
        `v after step ${t}`,
      );
    }
  });

  it.each([
    ['plain', 0, false],
    ['momentum', 0.9, false],
    ['nesterov', 0.9, true],
  ])('SGD %s: 3 steps, the buffer starting as the first gradient', (_name, momentum, nesterov) => {
    const rng = new Rng(52, momentum * 10 + (nesterov ? 1 : 0));
    const o = { lr: 0.05, momentum, wd: 0.01, nesterov };
    const w = normals(rng, n);
    // Garbage in the velocity before the first step: it must be ignored (and untouched without momentum).
    const velocity = new Float64Array(n).fill(123);
    const torch = Array.from(w, (wi) => ({ w: wi, buf: null as number | null }));
    for (let t = 1; t <= steps; t++) {
      const g = normals(rng, n);
      ref.sgdStep(w, g, velocity, o.lr, momentum, o.wd, gradScale, nesterov, t === 1);
      torch.forEach((p, i) => {
        torchSgd(p, g[i] as number, o);
      });
      expectClose(
        w,
        torch.map((p) => p.w),
        `w after step ${t}`,
      );
      if (momentum === 0) expect(velocity.every((e) => e === 123)).toBe(true);
      else
        expectClose(
          velocity,
          torch.map((p) => p.buf ?? Number.NaN),
          `velocity after step ${t}`,
        );
    }
  });
});
