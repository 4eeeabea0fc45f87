import { describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import {
  type Dataset,
  type Kernels,
  Network,
  parseModelConfig,
  parseTrainingConfig,
  predict,
  predictExportable,
  Rng,
  referenceKernels,
  selectKernels,
  Trainer,
  type TrainingConfig,
} from '../../src/train/index.js';
import { loadNativeAddon } from '../../src/train/internal/native-kernels.js';

const native = selectKernels({ backend: 'native' });

function throwsCode(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    expect(error.code, error.message).toBe(code);
    return error.message;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

/** Two noisy Gaussian blobs per class in `dims` dimensions: learnable, not trivially. */
function blobs(rows: number, dims: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed, 7);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dims }, () => rng.normal() * 2));
  const features = new Float32Array(rows * dims);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = rng.below(classes);
    labels[r] = c;
    for (let d = 0; d < dims; d++) features[r * dims + d] = (centres[c]?.[d] ?? 0) + rng.normal();
  }
  return { features, labels, rows };
}

const model = { architecture: 'mlp', input_size: 12, hidden_size: [24, 16], output_size: 4 } as const;

function trainer(
  kernels: Kernels,
  training: TrainingConfig = {},
  modelConfig: object = model,
  perExampleNorms = false,
) {
  const spec = parseModelConfig(modelConfig);
  return new Trainer(Network.create(spec, 3), {
    training: parseTrainingConfig({ batch_size: 16, learning_rate: 0.01, seed: 5, ...training }),
    kernels,
    perExampleNorms,
  });
}

describe('training', () => {
  const data = blobs(300, 12, 4, 1);

  it('wipes every buffer made from the data, keeps the model, and trains on the same afterwards', async () => {
    const wiped = trainer(native, {}, { ...model, dropout: 0.1, activation: 'gelu' });
    const kept = trainer(native, {}, { ...model, dropout: 0.1, activation: 'gelu' });
    await wiped.trainEpoch(data);
    await kept.trainEpoch(data);
    const weights = Float32Array.from(wiped.network.params);
    const { moment1, moment2 } = wiped.state();
    // The native GEMM keeps packed copies of the last batch's rows between calls: wiped too.
    expect(loadNativeAddon().scratchNonZero()).toBeGreaterThan(0);
    wiped.wipe();
    expect(loadNativeAddon().scratchNonZero()).toBe(0);
    // Every typed array the trainer holds, other than the model and the optimizer's memory.
    const model_ = new Set<ArrayBufferView>([wiped.network.params]);
    const held: ArrayBufferView[] = [];
    const collect = (v: unknown, depth: number): void => {
      if (ArrayBuffer.isView(v)) held.push(v);
      else if (v && typeof v === 'object' && depth < 3)
        for (const x of Object.values(v)) collect(x, depth + 1);
    };
    for (const [name, v] of Object.entries(wiped))
      if (!['network', 'kernels', 'options', 'moment1', 'moment2'].includes(name)) collect(v, 0);
    const scratch = held.filter((a) => !model_.has(a));
    expect(scratch.length).toBeGreaterThanOrEqual(6);
    for (const a of scratch)
      expect(new Uint8Array(a.buffer, a.byteOffset, a.byteLength).every((b) => b === 0)).toBe(true);
    expect(wiped.network.params).toEqual(weights);
    expect(wiped.state().moment1).toEqual(moment1);
    expect(wiped.state().moment2).toEqual(moment2);
    await wiped.trainEpoch(data);
    await kept.trainEpoch(data);
    expect(wiped.network.params).toEqual(kept.network.params);
  });

  it('learns: loss falls and accuracy rises on every optimizer and loss', async () => {
    for (const optimizer of ['adam', 'adamw', 'sgd'] as const) {
      const extra = optimizer === 'sgd' ? { momentum: 0.9, learning_rate: 0.05 } : {};
      const t = trainer(native, { optimizer, ...extra });
      const before = t.evaluate(data);
      for (let e = 0; e < 5; e++) await t.trainEpoch(data);
      const after = t.evaluate(data);
      expect(after.loss, optimizer).toBeLessThan(before.loss * 0.5);
      expect(after.accuracy, optimizer).toBeGreaterThan(0.9);
    }
    const binary: Dataset = {
      features: data.features,
      labels: Float32Array.from(data.labels, (l) => (l % 2 === 0 ? 1 : 0)),
      rows: data.rows,
    };
    const bce = trainer(
      native,
      {},
      { ...model, output_size: 1, loss: 'binary_cross_entropy', activation: 'tanh' },
    );
    const bceBefore = bce.evaluate(binary).loss;
    for (let e = 0; e < 5; e++) await bce.trainEpoch(binary);
    expect(bce.evaluate(binary).loss).toBeLessThan(bceBefore * 0.5);
    const regression: Dataset = {
      features: data.features,
      labels: Float32Array.from({ length: data.rows }, (_, r) => (data.features[r * 12] as number) * 0.5 + 1),
      rows: data.rows,
    };
    const mse = trainer(native, {}, { ...model, output_size: 1, loss: 'mse', activation: 'gelu' });
    const mseBefore = mse.evaluate(regression);
    expect(mseBefore.accuracy).toBeUndefined();
    for (let e = 0; e < 5; e++) await mse.trainEpoch(regression);
    expect(mse.evaluate(regression).loss).toBeLessThan(mseBefore.loss * 0.2);
  });

  it('is bit-identical for the same seed and thread count, and differs for another seed', async () => {
    const run = async (seed: number, dropout: number) => {
      const t = trainer(native, { seed }, { ...model, dropout });
      for (let e = 0; e < 2; e++) await t.trainEpoch(data);
      return t.network.params;
    };
    expect(Buffer.from((await run(5, 0.2)).buffer)).toEqual(Buffer.from((await run(5, 0.2)).buffer));
    expect(Buffer.from((await run(5, 0)).buffer)).not.toEqual(Buffer.from((await run(6, 0)).buffer));
  });

  it('resumes mid-epoch from its state to the same weights as an uninterrupted run', async () => {
    const straight = trainer(native, {}, { ...model, dropout: 0.1 });
    for (let e = 0; e < 3; e++) await straight.trainEpoch(data);

    const first = trainer(native, {}, { ...model, dropout: 0.1 });
    await first.trainEpoch(data);
    const abort = new AbortController();
    let steps = 0;
    const partial = await first.trainEpoch(data, {
      signal: abort.signal,
      onStep: () => {
        if (++steps === 7) abort.abort();
      },
    });
    expect(partial.completed).toBe(false);
    const saved = { params: first.network.params.slice(), state: first.state() };
    expect(saved.state).toMatchObject({ epoch: 1, position: 7 * 16 });

    const spec = parseModelConfig({ ...model, dropout: 0.1 });
    const resumed = new Trainer(new Network(spec, saved.params), {
      training: parseTrainingConfig({ batch_size: 16, learning_rate: 0.01, seed: 5 }),
      kernels: native,
    });
    resumed.restore(saved.state);
    while (resumed.state().epoch < 3) await resumed.trainEpoch(data);
    expect(Buffer.from(resumed.network.params.buffer)).toEqual(Buffer.from(straight.network.params.buffer));
  });

  it('agrees with the reference kernels over several steps', async () => {
    const small = blobs(64, 12, 4, 2);
    const a = trainer(native, {}, { ...model, activation: 'gelu' });
    const b = trainer(referenceKernels, {}, { ...model, activation: 'gelu' });
    const ra = await a.trainEpoch(small);
    const rb = await b.trainEpoch(small);
    expect(ra.loss).toBeCloseTo(rb.loss, 4);
    let worst = 0;
    a.network.params.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - (b.network.params[i] as number)));
    });
    expect(worst).toBeLessThan(1e-4);
  });

  it('clips the global gradient norm', () => {
    const t = trainer(native, { clip_norm: 0.01, optimizer: 'sgd', learning_rate: 1 });
    const before = t.network.params.slice();
    const step = t.trainStep(data.features.subarray(0, 16 * 12), data.labels.subarray(0, 16), 16);
    expect(step.gradNorm).toBeGreaterThan(0.01);
    let moved = 0;
    t.network.params.forEach((v, i) => {
      moved += (v - (before[i] as number)) ** 2;
    });
    expect(Math.sqrt(moved)).toBeCloseTo(0.01, 5);
  });

  it('reports each example’s own gradient norm', () => {
    const config = { ...model, activation: 'tanh' };
    const batch = trainer(native, { optimizer: 'sgd', learning_rate: 1e-9 }, config, true);
    const x = data.features.subarray(0, 5 * 12);
    const y = data.labels.subarray(0, 5);
    const norms = batch.trainStep(x, y, 5).perExampleNorms;
    expect(norms).toHaveLength(5);
    for (let r = 0; r < 5; r++) {
      // One example alone: its gradient is the whole gradient, whose norm the step reports.
      const single = trainer(native, { optimizer: 'sgd', learning_rate: 1e-9, clip_norm: 1e9 }, config);
      const alone = single.trainStep(x.subarray(r * 12, (r + 1) * 12), y.subarray(r, r + 1), 1);
      expect(norms?.[r]).toBeCloseTo(alone.gradNorm as number, 4);
    }
  });

  it('predicts what the exported model predicts', () => {
    const spec = parseModelConfig({ ...model, activation: 'gelu' });
    const net = Network.create(spec, 9);
    const probs = predict(net, native, data.features, 10);
    const oracle = predictExportable(net.toExportable(), data.features, 10);
    probs.forEach((p, i) => {
      expect(p).toBeCloseTo(oracle[i] as number, 5);
    });
    for (let r = 0; r < 10; r++) {
      expect(probs.subarray(r * 4, r * 4 + 4).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    }
  });

  it('stops with ERR_TRAIN_DIVERGED when the loss is no longer finite', async () => {
    const t = trainer(
      native,
      { optimizer: 'sgd', learning_rate: 10 },
      { ...model, loss: 'mse', output_size: 1 },
    );
    const huge: Dataset = {
      features: Float32Array.from(data.features, (v) => v * 1e18),
      labels: new Float32Array(data.rows).fill(1e30),
      rows: data.rows,
    };
    await expect(t.trainEpoch(huge)).rejects.toMatchObject({ code: 'ERR_TRAIN_DIVERGED' });
  });

  it('is the same weights from the same seed, and different from another', () => {
    const spec = parseModelConfig(model);
    expect(Network.create(spec, 1).params).toEqual(Network.create(spec, 1).params);
    expect(Network.create(spec, 1).params).not.toEqual(Network.create(spec, 2).params);
    const w = Network.create(
      parseModelConfig({ architecture: 'mlp', input_size: 400, hidden_size: 300, output_size: 2 }),
      1,
    ).layers[0]?.w as Float32Array;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / 400), 3); // He initialisation for ReLU
  });

  it('draws the same weights a slice at a time (createSoon) as at once, letting the event loop turn', async () => {
    const specs = [
      parseModelConfig(model),
      parseModelConfig({ architecture: 'mlp', input_size: 784, hidden_size: 512, output_size: 10 }),
      parseModelConfig({
        architecture: 'mlp',
        input_size: 300,
        output_size: 3,
        layers: [
          { units: 200, activation: 'tanh' },
          { units: 50, activation: 'relu' },
        ],
      }),
    ];
    for (const spec of specs) {
      // The draw as documented: layer by layer, He-normal for ReLU and GELU, Glorot-uniform else.
      const rng = new Rng(7, 1);
      const expected = Network.create(spec, 7);
      for (const layer of expected.layers) {
        const { inputSize, outputSize, init } = layer.spec;
        for (let i = 0; i < layer.w.length; i++) {
          const want =
            init === 'he'
              ? Math.fround(rng.normal() * Math.sqrt(2 / inputSize))
              : Math.fround((2 * rng.next() - 1) * Math.sqrt(6 / (inputSize + outputSize)));
          if (layer.w[i] !== want) throw new Error(`weight ${i} is ${layer.w[i]}, not ${want}`);
        }
        expect(layer.b.every((v) => v === 0)).toBe(true);
      }
      let turns = 0;
      const ticking = setInterval(() => turns++, 0);
      const soon = await Network.createSoon(spec, 7).finally(() => clearInterval(ticking));
      expect(Buffer.from(soon.params.buffer).equals(Buffer.from(expected.params.buffer))).toBe(true);
      if (expected.params.length > 100_000) expect(turns).toBeGreaterThan(0);
    }
  });
});

describe('bad configurations and data', () => {
  it('names every offending path of a model or training config', () => {
    const msg = throwsCode(
      () => parseModelConfig({ architecture: 'cnn', input_size: 0, output_size: 10, hiden_size: 5 }),
      'ERR_TRAIN_CONFIG_INVALID',
    );
    expect(msg).toContain('model.architecture');
    expect(msg).toContain('model.input_size');
    expect(msg).toContain('hiden_size');
    expect(
      throwsCode(() => parseModelConfig({ ...model, layers: [{ units: 3 }] }), 'ERR_TRAIN_CONFIG_INVALID'),
    ).toContain('model.layers');
    expect(
      throwsCode(() => parseModelConfig({ ...model, output_size: 1 }), 'ERR_TRAIN_CONFIG_INVALID'),
    ).toContain('model.output_size');
    expect(
      throwsCode(() => parseTrainingConfig({ batch_size: 0, learning_rate: -1 }), 'ERR_TRAIN_CONFIG_INVALID'),
    ).toMatch(/training\.batch_size.*training\.learning_rate/);
    expect(throwsCode(() => parseTrainingConfig({ momentum: 0.9 }), 'ERR_TRAIN_CONFIG_INVALID')).toContain(
      'training.momentum',
    );
    expect(
      throwsCode(() => parseTrainingConfig({ optimizer: 'sgd', nesterov: true }), 'ERR_TRAIN_CONFIG_INVALID'),
    ).toContain('training.nesterov');
  });

  it('accepts the seed config and its layer list form', () => {
    const seed = parseModelConfig({
      architecture: 'mlp',
      input_size: 784,
      hidden_size: 512,
      output_size: 10,
    });
    expect(seed.layers.map((l) => [l.inputSize, l.outputSize, l.activation])).toEqual([
      [784, 512, 'relu'],
      [512, 10, 'linear'],
    ]);
    const listed = parseModelConfig({
      architecture: 'mlp',
      input_size: 4,
      layers: [{ units: 8, activation: 'gelu', dropout: 0.5 }, { units: 6 }],
      output_size: 3,
      activation: 'tanh',
    });
    expect(listed.layers.map((l) => [l.outputSize, l.activation, l.dropout])).toEqual([
      [8, 'gelu', 0.5],
      [6, 'tanh', 0],
      [3, 'linear', 0],
    ]);
    const t = parseTrainingConfig({ batch_size: 32, learning_rate: 0.001, epochs: 10 });
    expect(t).toMatchObject({ batchSize: 32, epochs: 10, optimizer: { kind: 'adam', learningRate: 0.001 } });
  });

  it('refuses data that does not fit, naming the row and column', async () => {
    const t = trainer(native);
    const good = blobs(20, 12, 4, 3);
    const nan = { ...good, features: good.features.slice() };
    nan.features[5 * 12 + 3] = Number.NaN;
    await expect(t.trainEpoch(nan)).rejects.toMatchObject({
      code: 'ERR_TRAIN_DATA_INVALID',
      message: /row 5/,
    });
    const badLabel = { ...good, labels: good.labels.slice() };
    badLabel.labels[7] = 4;
    await expect(t.trainEpoch(badLabel)).rejects.toMatchObject({
      code: 'ERR_TRAIN_DATA_INVALID',
      message: /row 7 is 4/,
    });
    await expect(t.trainEpoch({ ...good, rows: 21 })).rejects.toMatchObject({
      code: 'ERR_TRAIN_DATA_INVALID',
    });
    await expect(t.trainEpoch({ ...good, labels: new Float32Array(20) })).rejects.toMatchObject({
      code: 'ERR_TRAIN_DATA_INVALID',
      message: /Int32Array/,
    });
    expect(t.state().step).toBe(0);
  });
});
