// TensorFlow.js anchor for the training benchmark: the same MLP (784-512-10, ReLU, softmax
// cross-entropy on logits, Adam 1e-3) on the WebAssembly backend, in this Node process.
// The .wasm files come from the installed @tensorflow/tfjs-backend-wasm package (no network).
// In Node the wasm backend runs one thread with SIMD: the package turns threads off there.
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const WARMUP_BATCHES = 5;
const SEED = 0;

let ready;

/** Selects the wasm backend once, with the .wasm files from the package's dist folder. */
function useWasm() {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    // The package's main file lives in dist/, beside the .wasm files.
    setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${sep}`);
    if (!(await tf.setBackend('wasm'))) throw new Error('The TensorFlow.js wasm backend did not start.');
    await tf.ready();
  })();
  return ready;
}

/** A permutation of 0..n-1 from a seeded generator (mulberry32), so every run sees one order. */
function shuffled(n, seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * Trains the benchmark's MLP on the wasm backend and returns samples per second over `samples`
 * samples (whole batches, in a seeded shuffled order), after a few untimed warm-up batches.
 * `images` is n × 784 floats in [0, 1]; `labels` is n class indices 0..9. The data sits in
 * tensors before timing; gathering each batch by index is timed, as in the PyTorch anchor.
 *
 * @param {{ images: Float32Array, labels: Int32Array, batch: number, samples: number }} options
 * @returns {Promise<number>} samples per second
 */
export async function tfjsWasmSamplesPerSecond({ images, labels, batch, samples }) {
  await useWasm();
  const rows = labels.length;
  if (images.length !== rows * 784) throw new Error(`Expected ${rows} × 784 pixels, got ${images.length}.`);
  if (samples > rows) throw new Error(`Asked for ${samples} samples but the data has ${rows}.`);
  const x = tf.tensor2d(images, [rows, 784]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10));
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 512, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.adam(1e-3);
  const step = (indices) =>
    tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      const xb = tf.gather(x, idx);
      const yb = tf.gather(y, idx);
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb)), true);
    });
  try {
    const warm = shuffled(rows, SEED + 1);
    for (let i = 0; i < WARMUP_BATCHES; i++) step(warm.subarray(i * batch, (i + 1) * batch)).dispose();
    const order = shuffled(rows, SEED);
    const steps = Math.floor(samples / batch);
    const start = process.hrtime.bigint();
    let loss;
    for (let s = 0; s < steps; s++) {
      loss?.dispose();
      loss = step(order.subarray(s * batch, (s + 1) * batch));
    }
    await loss?.data();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    loss?.dispose();
    return (steps * batch) / seconds;
  } finally {
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
}
