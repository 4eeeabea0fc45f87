import type { Activation, ExportableModel, OutputKind } from '../../src/train/exportable-model.js';

/** Every activation and output kind the exporters must carry over. */
export const ACTIVATIONS: readonly Activation[] = ['relu', 'gelu', 'tanh', 'sigmoid', 'linear'];
export const OUTPUTS: readonly OutputKind[] = ['softmax', 'sigmoid', 'linear'];

/** A seeded uniform generator in [-1, 1) (mulberry32), so every run draws the same models. */
export function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/** `count` values from `next`, each times `scale`. */
export function randomArray(next: () => number, count: number, scale = 1): Float32Array {
  return Float32Array.from({ length: count }, () => next() * scale);
}

/**
 * A model with the given layer widths (`[7, 16, 5]` is 7 inputs, a hidden layer of 16, 5 outputs),
 * hidden layers using `hidden`, the last layer `last` (default linear), Glorot-scaled weights.
 */
export function randomModel(
  seed: number,
  widths: readonly number[],
  options: { hidden?: Activation; last?: Activation; output?: OutputKind } = {},
): ExportableModel {
  const next = uniform(seed);
  const layers = widths.slice(1).map((outputSize, i) => {
    const inputSize = widths[i] ?? 0;
    const scale = Math.sqrt(6 / (inputSize + outputSize));
    const isLast = i === widths.length - 2;
    return {
      inputSize,
      outputSize,
      activation: isLast ? (options.last ?? 'linear') : (options.hidden ?? 'relu'),
      kernel: randomArray(next, inputSize * outputSize, scale),
      bias: randomArray(next, outputSize, 0.5),
    };
  });
  return { inputSize: widths[0] ?? 0, layers, output: options.output ?? 'linear' };
}

/** The largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Lengths differ: ${a.length} and ${b.length}.`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}
