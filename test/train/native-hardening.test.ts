import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { packageFile } from '../../src/internal/package-root.js';
import { Network, parseModelConfig, parseTrainingConfig, Trainer } from '../../src/train/index.js';
import { ACT } from '../../src/train/internal/kernels.js';
import { loadNativeAddon, NATIVE_TRAIN_FILE } from '../../src/train/internal/native-kernels.js';

const addon = loadNativeAddon();
const original = addon.configure();
afterAll(() => {
  addon.configure(original.isa, original.threads);
});

const threads = () => readdirSync('/proc/self/task').length;

function rangeError(fn: () => unknown, message: RegExp): void {
  expect(fn).toThrow(RangeError);
  expect(fn).toThrow(message);
}

describe('native kernels under hostile or unusual use', () => {
  it('keeps its worker threads when a worker_thread that loaded the addon exits', async () => {
    addon.configure(null, 2);
    const n = 64;
    const a = new Float32Array(n * n).fill(1);
    const c = new Float32Array(n * n);
    addon.gemm(false, false, n, n, n, a, a, c, false);
    const before = threads();
    await new Promise((resolve) => {
      const w = new Worker(`require(${JSON.stringify(packageFile(import.meta.url, NATIVE_TRAIN_FILE))})`, {
        eval: true,
      });
      w.on('exit', resolve);
    });
    addon.gemm(false, false, n, n, n, a, a, c, false);
    expect(threads()).toBe(before);
    expect(c[0]).toBe(n);
  });

  it('refuses an output that overlaps an input, a non-boolean flag, and matrices above 2^28 elements', () => {
    const a = new Float32Array(16).fill(1);
    const c = new Float32Array(16);
    rangeError(() => addon.gemm(false, false, 4, 4, 4, a, c, c, false), /overlaps/);
    rangeError(() => addon.gemm(false, false, 4, 4, 4, a, a.subarray(0), a, false), /overlaps/);
    const gemmAny = addon.gemm as (...args: unknown[]) => void;
    expect(() => gemmAny(1, false, 4, 4, 4, a, a, c, false)).toThrow(/flags must be booleans/);
    const big = new Float32Array(1);
    expect(() => addon.gemm(false, false, 1, 2 ** 29, 1, big, big, big, false)).toThrow(RangeError);
    const w = new Float32Array(4);
    const m = new Float32Array(4);
    rangeError(
      () => addon.adamStep(w, new Float32Array(4), m, m, 0.1, 0.9, 0.999, 1e-8, 0, 1, 1, 1, false),
      /different/,
    );
  });

  it('flushes denormals the same way on every thread, so the thread count does not change results', () => {
    const rows = 4096;
    const x = new Float32Array(rows).fill(1e-20);
    const w = new Float32Array(16).fill(1e-20);
    const b = new Float32Array(16);
    const run = (t: number) => {
      addon.configure(null, t);
      const y = new Float32Array(rows * 16);
      addon.denseForward(x, w, b, y, null, rows, 1, 16, ACT.linear);
      return y;
    };
    const one = run(1);
    const two = run(2);
    expect(Buffer.from(two.buffer)).toEqual(Buffer.from(one.buffer));
    expect(one.every((v) => v === 0)).toBe(true); // 1e-40 is a denormal: flushed
    expect(1e-20 * 1e-20).toBeGreaterThan(0); // and JavaScript keeps its IEEE denormals
  });

  it('refuses a batch larger than the batch size or of the wrong kind with ERR_TRAIN_DATA_INVALID', () => {
    const spec = parseModelConfig({ architecture: 'mlp', input_size: 3, hidden_size: 4, output_size: 2 });
    const t = new Trainer(Network.create(spec, 1), {
      training: parseTrainingConfig({ batch_size: 2 }),
      backend: 'native',
    });
    const x = new Float32Array(9);
    expect(() => t.trainStep(x, new Int32Array(3), 3)).toThrow(/1 to 2 rows/);
    expect(() => t.trainStep(x, new Int32Array(3), 0)).toThrow(/1 to 2 rows/);
    expect(() => t.trainStep(x.subarray(0, 3), new Int32Array(2), 2)).toThrow(/features hold 3/);
    expect(() => t.trainStep(x, new Float32Array(2), 2)).toThrow(/Int32Array/);
    expect(() => t.restore({ ...t.state(), step: -1 })).toThrow(/bad epoch, position or step/);
    expect(t.state().step).toBe(0);
  });
});

describe('weights and saved state from outside', () => {
  it('refuses non-finite weights and a corrupt optimizer state with ERR_TRAIN_DATA_INVALID', () => {
    const spec = parseModelConfig({ architecture: 'mlp', input_size: 3, hidden_size: 4, output_size: 2 });
    const params = Network.create(spec, 1).params.slice();
    params[5] = Number.NaN;
    expect(() => new Network(spec, params)).toThrow(/Parameter 5 is NaN/);
    const t = new Trainer(Network.create(spec, 1), {
      training: parseTrainingConfig({ batch_size: 2 }),
      backend: 'native',
    });
    const state = t.state();
    const moment2 = state.moment2.slice();
    moment2[0] = -1;
    expect(() => t.restore({ ...state, moment2 })).toThrow(/not finite/);
  });

  it('refuses aliased optimizer arrays and overlapping loss gradients, and a non-number thread count', () => {
    const w = new Float32Array(4);
    expect(() => addon.sgdStep(w, new Float32Array(4), w, 0.1, 0.9, 0, 1, false, true)).toThrow(
      /different arrays/,
    );
    const logits = new Float32Array(4);
    expect(() => addon.softmaxCrossEntropy(logits, new Int32Array(2), 2, 2, logits, 1)).toThrow(/overlaps/);
    const configureAny = addon.configure as (isa?: unknown, threads?: unknown) => unknown;
    expect(() => configureAny(null, '4')).toThrow(TypeError);
    expect(() => configureAny(7)).toThrow(TypeError);
  });
});
