// Training throughput on Fashion-MNIST (MLP 784-512-10, ReLU, cross-entropy, Adam 1e-3) beside
// its anchors, all measured in this run on the same data:
//   sealtrain's engine (native kernels, every core): one epoch of 60,000, batch 32 and 128, on the
//   micro-kernel it picks (AVX-512 here), and also on AVX2/FMA and on the portable one, for CPUs
//   without the wider units
//   PyTorch (Debian's python3-torch, 2 threads, single-threaded OpenBLAS): one epoch of 60,000, with its
//   default and with denormals flushed to zero (as our kernels run)
//   TensorFlow.js on its WebAssembly backend (one thread in Node): TFJS_SAMPLES samples
// Each figure is the better of two runs (the machine may be shared).
// `--json`: the last stdout line is one object with every figure.
import { loadFashionMnist } from '../dist/data/index.js';
import {
  Network,
  nativeInfo,
  parseModelConfig,
  parseTrainingConfig,
  selectKernels,
  Trainer,
} from '../dist/train/index.js';
import { tfjsWasmSamplesPerSecond } from './lib/tfjs-wasm-anchor.mjs';
import { ensureTorch, torchEpoch } from './lib/torch-anchor.mjs';

const json = process.argv.includes('--json');
const BATCHES = [32, 128];
const TFJS_SAMPLES = 6000;
const REPS = 2;
const log = (s) => process.stderr.write(`${s}\n`);
const round = (x) => Math.round(x);

async function best(fn) {
  let max = 0;
  for (let i = 0; i < REPS; i++) max = Math.max(max, await fn());
  return max;
}

const torchVersion = ensureTorch();
const { images, labels, rows } = await loadFashionMnist('train');
log(`Fashion-MNIST train: ${rows} examples; torch ${torchVersion}`);

const anchors = {};
for (const batch of BATCHES) {
  anchors[`torch_b${batch}_sps`] = round(await best(() => torchEpoch(batch).samples_per_second));
  log(`torch     batch ${String(batch).padStart(4)}: ${anchors[`torch_b${batch}_sps`]} samples/s`);
  // Also with denormals flushed to zero, as our kernels do: the comparison without that advantage.
  anchors[`torch_ftz_b${batch}_sps`] = round(
    await best(() => torchEpoch(batch, { flushDenormal: true }).samples_per_second),
  );
  log(`torch ftz batch ${String(batch).padStart(4)}: ${anchors[`torch_ftz_b${batch}_sps`]} samples/s`);
}
for (const batch of BATCHES) {
  const sps = await best(() => tfjsWasmSamplesPerSecond({ images, labels, batch, samples: TFJS_SAMPLES }));
  anchors[`tfjs_wasm_b${batch}_sps`] = round(sps);
  log(`tfjs-wasm batch ${String(batch).padStart(4)}: ${anchors[`tfjs_wasm_b${batch}_sps`]} samples/s`);
}

// The yardstick: 2 cores with AVX2/FMA here peak at about 197 GFLOP/s in FP32 (AVX-512 doubles the
// width, so against its own peak the fraction is about half), and one
// sample of MLP 784-512-10 costs about 2.44 MFLOP forward and backward (6 × parameters).
const PEAK_GFLOPS = 197;
const MFLOP_PER_SAMPLE = (6 * (784 * 512 + 512 + 512 * 10 + 10)) / 1e6;
const spec = parseModelConfig({ architecture: 'mlp', input_size: 784, hidden_size: 512, output_size: 10 });
const data = { features: images, labels, rows };

/** One timed epoch on a fresh network with the given micro-kernel. */
async function oursEpoch(batch, isa) {
  const training = parseTrainingConfig({ batch_size: batch, learning_rate: 0.001, seed: 1 });
  const kernels = selectKernels({ backend: 'native', isa });
  // Warm-up, untimed: a few steps page in the addon and start its threads.
  const warm = new Trainer(Network.create(spec, 2), { training, kernels });
  for (let i = 0; i < 5; i++)
    warm.trainStep(images.subarray(0, batch * 784), labels.subarray(0, batch), batch);
  const trainer = new Trainer(Network.create(spec, 1), { training, kernels });
  const result = await trainer.trainEpoch(data, { checked: true });
  return result.samplesPerSecond;
}

const bestIsa = nativeInfo()?.isa;
const ours = {};
for (const [label, isa] of [
  ['', bestIsa],
  ['avx2_', 'avx2'],
  ['portable_', 'portable'],
]) {
  for (const batch of BATCHES) {
    const key = `ours_${label}b${batch}_sps`;
    ours[key] = round(await best(() => oursEpoch(batch, isa)));
    log(`sealtrain ${isa.padEnd(8)} batch ${String(batch).padStart(4)}: ${ours[key]} samples/s`);
  }
}
selectKernels({ backend: 'native', isa: bestIsa });
const info = nativeInfo();
const ratio = (a, b) => Math.round((a / b) * 100) / 100;
const ratios = {};
for (const batch of BATCHES) {
  const sps = ours[`ours_b${batch}_sps`];
  ratios[`vs_pytorch_b${batch}`] = ratio(sps, anchors[`torch_b${batch}_sps`]);
  ratios[`vs_pytorch_ftz_b${batch}`] = ratio(sps, anchors[`torch_ftz_b${batch}_sps`]);
  ratios[`vs_tfjs_wasm_b${batch}`] = ratio(sps, anchors[`tfjs_wasm_b${batch}_sps`]);
  ratios[`peak_fraction_b${batch}`] = ratio((sps * MFLOP_PER_SAMPLE) / 1e3, PEAK_GFLOPS);
  ratios[`pytorch_peak_fraction_b${batch}`] = ratio(
    (anchors[`torch_b${batch}_sps`] * MFLOP_PER_SAMPLE) / 1e3,
    PEAK_GFLOPS,
  );
  ratios[`portable_vs_pytorch_b${batch}`] = ratio(
    ours[`ours_portable_b${batch}_sps`],
    anchors[`torch_b${batch}_sps`],
  );
}
for (const [k, v] of Object.entries(ratios)) log(`${k.padEnd(28)} ${v}`);

if (json) {
  process.stdout.write(
    `${JSON.stringify({
      bench: 'train',
      rows,
      torch_version: torchVersion,
      tfjs_samples: TFJS_SAMPLES,
      isa: info?.isa,
      threads: info?.threads,
      peak_gflops: PEAK_GFLOPS,
      mflop_per_sample: MFLOP_PER_SAMPLE,
      ...ours,
      ...anchors,
      ratios,
    })}\n`,
  );
}
