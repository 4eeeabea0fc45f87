import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import { exportTfjs, type TfjsModelJson, writeTfjsModel } from '../../src/train/export-tfjs.js';
import { type ExportableModel, predictExportable } from '../../src/train/exportable-model.js';
import {
  ACTIVATIONS,
  maxAbsDiff,
  OUTPUTS,
  randomArray,
  randomModel,
  uniform,
} from '../helpers/exportable-models.js';
import { rejectsWith } from '../helpers/rejects.js';

/** TensorFlow.js computes in float32 (its CPU erf is a polynomial good to 1.5e-7); the oracle in double. */
const TOLERANCE = 1e-5;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** An IOHandler that serves a `model.json` and its one weights file from memory. */
function handlerFor(modelJson: TfjsModelJson, weightData: Uint8Array): tf.io.IOHandler {
  return tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights) as tf.io.WeightsManifestEntry[],
    weightData: toArrayBuffer(weightData),
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
  });
}

async function predictTfjs(handler: tf.io.IOHandler, x: Float32Array, rows: number, width: number) {
  const model = await tf.loadLayersModel(handler);
  try {
    const input = tf.tensor2d(x, [rows, width]);
    const output = model.predict(input) as tf.Tensor;
    const data = (await output.data()) as Float32Array;
    expect(output.shape).toEqual([rows, model.outputs[0]?.shape[1]]);
    tf.dispose([input, output]);
    return data;
  } finally {
    model.dispose();
  }
}

async function expectMatchesOracle(model: ExportableModel, rows: number, seed: number): Promise<void> {
  const x = randomArray(uniform(seed), rows * model.inputSize, 2);
  const { modelJson, weightData } = exportTfjs(model);
  const got = await predictTfjs(handlerFor(modelJson, weightData), x, rows, model.inputSize);
  expect(maxAbsDiff(got, predictExportable(model, x, rows))).toBeLessThanOrEqual(TOLERANCE);
}

function layerSummary(modelJson: TfjsModelJson): string[] {
  const topology = modelJson.modelTopology as {
    config: { layers: { class_name: string; config: { activation?: string } }[] };
  };
  return topology.config.layers.map(
    (l) => `${l.class_name}${l.config.activation ? `:${l.config.activation}` : ''}`,
  );
}

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('exportTfjs, loaded by tf.loadLayersModel', () => {
  for (const activation of ACTIVATIONS) {
    for (const output of OUTPUTS) {
      it(`7-16-5 with ${activation} layers and a ${output} output matches predictExportable`, async () => {
        const model = randomModel(11, [7, 16, 5], { hidden: activation, last: activation, output });
        await expectMatchesOracle(model, 9, 21);
      });
    }
  }

  it('784-32-10 (MNIST-sized) with ReLU and softmax matches predictExportable', async () => {
    await expectMatchesOracle(randomModel(12, [784, 32, 10], { output: 'softmax' }), 8, 22);
  });

  it('a deeper GELU stack (3-16-16-16-2, sigmoid output) matches predictExportable', async () => {
    await expectMatchesOracle(
      randomModel(13, [3, 16, 16, 16, 2], { hidden: 'gelu', output: 'sigmoid' }),
      6,
      23,
    );
  });

  it('takes any batch size: 1 and 5 rows through the same model.json', async () => {
    const model = randomModel(14, [7, 16, 5], { hidden: 'gelu', output: 'softmax' });
    const { modelJson, weightData } = exportTfjs(model);
    for (const rows of [1, 5]) {
      const x = randomArray(uniform(rows), rows * 7);
      const got = await predictTfjs(handlerFor(modelJson, weightData), x, rows, 7);
      expect(got).toHaveLength(rows * 5);
      expect(maxAbsDiff(got, predictExportable(model, x, rows))).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe('exportTfjs, the model.json', () => {
  it('folds a softmax or sigmoid output into a linear last layer, else adds an Activation layer', () => {
    const folded = exportTfjs(randomModel(15, [4, 8, 3], { hidden: 'gelu', output: 'softmax' }));
    expect(layerSummary(folded.modelJson)).toEqual(['InputLayer', 'Dense:gelu', 'Dense:softmax']);
    const extra = exportTfjs(randomModel(15, [4, 3], { last: 'relu', output: 'sigmoid' }));
    expect(layerSummary(extra.modelJson)).toEqual(['InputLayer', 'Dense:relu', 'Activation:sigmoid']);
    const plain = exportTfjs(randomModel(15, [4, 3], { last: 'tanh' }));
    expect(layerSummary(plain.modelJson)).toEqual(['InputLayer', 'Dense:tanh']);
  });

  it('says what made it and lists each kernel then its bias, with shapes, in weights.bin order', () => {
    const { modelJson, weightData } = exportTfjs(randomModel(16, [4, 8, 3]));
    expect(modelJson).toMatchObject({ format: 'layers-model', generatedBy: 'sealtrain', convertedBy: null });
    expect(modelJson.weightsManifest).toEqual([
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'dense_0/kernel', shape: [4, 8], dtype: 'float32' },
          { name: 'dense_0/bias', shape: [8], dtype: 'float32' },
          { name: 'dense_1/kernel', shape: [8, 3], dtype: 'float32' },
          { name: 'dense_1/bias', shape: [3], dtype: 'float32' },
        ],
      },
    ]);
    expect(weightData.byteLength).toBe((4 * 8 + 8 + 8 * 3 + 3) * 4);
  });

  it('refuses an inconsistent model with ERR_TRAIN_BAD_MODEL naming the layer', () => {
    const model = randomModel(17, [4, 3, 2]);
    const layer1 = model.layers[1] as ExportableModel['layers'][number];
    const bad = {
      ...model,
      layers: [model.layers[0], { ...layer1, bias: Float32Array.from([1, Number.NaN]) }],
    };
    try {
      exportTfjs(bad as ExportableModel);
      expect.unreachable('exportTfjs accepted a NaN bias');
    } catch (error) {
      expect(isSealtrainError(error, 'ERR_TRAIN_BAD_MODEL')).toBe(true);
      expect((error as Error).message).toMatch(/^Layer 1 bias\[1\] is NaN/);
    }
  });
});

describe('writeTfjsModel', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealtrain-tfjs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips: model.json and weights.bin from disk load and predict as the oracle', async () => {
    const model = randomModel(18, [7, 16, 5], { hidden: 'tanh', output: 'softmax' });
    const out = join(dir, 'digits');
    await writeTfjsModel(out, model);
    expect((await readdir(out)).sort()).toEqual(['model.json', 'weights.bin']);
    const modelJson = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as TfjsModelJson;
    expect(modelJson).toEqual(exportTfjs(model).modelJson);
    const weights = await readFile(join(out, modelJson.weightsManifest[0]?.paths[0] ?? ''));
    const x = randomArray(uniform(3), 4 * 7);
    const got = await predictTfjs(handlerFor(modelJson, weights), x, 4, 7);
    expect(maxAbsDiff(got, predictExportable(model, x, 4))).toBeLessThanOrEqual(TOLERANCE);
  });

  it('refuses to replace an existing model unless told, and then replaces both files', async () => {
    const out = join(dir, 'again');
    await writeTfjsModel(out, randomModel(19, [2, 2]));
    await rejectsWith(writeTfjsModel(out, randomModel(20, [3, 2])), 'ERR_IO_EXISTS');
    const replacement = randomModel(20, [3, 2]);
    await writeTfjsModel(out, replacement, { overwrite: true });
    expect(JSON.parse(await readFile(join(out, 'model.json'), 'utf8'))).toEqual(
      exportTfjs(replacement).modelJson,
    );
    expect((await readdir(out)).sort()).toEqual(['model.json', 'weights.bin']);
  });
});
