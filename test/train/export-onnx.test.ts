import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs/light.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET, writeOnnxModel } from '../../src/train/export-onnx.js';
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

/** onnxruntime computes in float32 (Gemm with FMA, its own Erf); the oracle in double. */
const TOLERANCE = 1e-5;

async function runOnnx(
  bytes: Uint8Array,
  x: Float32Array,
  rows: number,
  width: number,
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const result = await session.run({ input: new ort.Tensor('float32', x, [rows, width]) });
    const output = result.output;
    if (output === undefined) throw new Error('The session produced no "output".');
    expect(output.dims[0]).toBe(rows);
    return output.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function expectMatchesOracle(model: ExportableModel, rows: number, seed: number): Promise<number> {
  const x = randomArray(uniform(seed), rows * model.inputSize, 2);
  const got = await runOnnx(exportOnnx(model), x, rows, model.inputSize);
  const want = predictExportable(model, x, rows);
  const diff = maxAbsDiff(got, want);
  expect(diff).toBeLessThanOrEqual(TOLERANCE);
  return diff;
}

function errorOf(fn: () => unknown): SealtrainError {
  try {
    fn();
  } catch (error) {
    if (isSealtrainError(error)) return error;
    throw error;
  }
  throw new Error('Expected a SealtrainError; nothing was thrown.');
}

describe('exportOnnx, run by onnxruntime-node', () => {
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

  it('takes any batch size: 1 and 5 rows through the same bytes', async () => {
    const model = randomModel(14, [7, 16, 5], { hidden: 'tanh', output: 'softmax' });
    const bytes = exportOnnx(model);
    for (const rows of [1, 5]) {
      const x = randomArray(uniform(rows), rows * 7);
      const got = await runOnnx(bytes, x, rows, 7);
      expect(got).toHaveLength(rows * 5);
      expect(maxAbsDiff(got, predictExportable(model, x, rows))).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('declares input and output float32 [batch, n] with a symbolic batch', async () => {
    const session = await ort.InferenceSession.create(exportOnnx(randomModel(15, [4, 3])));
    try {
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['output']);
      const [input] = session.inputMetadata;
      const [output] = session.outputMetadata;
      expect(input).toMatchObject({ name: 'input', isTensor: true, type: 'float32', shape: ['batch', 4] });
      expect(output).toMatchObject({ name: 'output', isTensor: true, type: 'float32', shape: ['batch', 3] });
    } finally {
      await session.release();
    }
  });
});

describe('exportOnnx, the ModelProto fields', () => {
  const header = protobuf.Root.fromJSON({
    nested: {
      Model: {
        fields: {
          irVersion: { type: 'int64', id: 1 },
          producerName: { type: 'string', id: 2 },
          producerVersion: { type: 'string', id: 3 },
          graph: { type: 'Graph', id: 7 },
          opsetImport: { rule: 'repeated', type: 'Opset', id: 8 },
        },
      },
      Graph: { fields: { name: { type: 'string', id: 2 } } },
      Opset: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
    },
  }).lookupType('Model');

  it('writes IR version 8, opset 13 of the default domain, producer sealtrain', () => {
    const bytes = exportOnnx(randomModel(16, [2, 2]), { producerVersion: '0.1.0', graphName: 'digits' });
    const decoded = header.toObject(header.decode(bytes), { longs: Number, defaults: true });
    expect(ONNX_IR_VERSION).toBe(8);
    expect(ONNX_OPSET).toBe(13);
    expect(decoded).toMatchObject({
      irVersion: 8,
      producerName: 'sealtrain',
      producerVersion: '0.1.0',
      graph: { name: 'digits' },
      opsetImport: [{ domain: '', version: 13 }],
    });
  });

  it('is deterministic: the same model gives the same bytes', () => {
    const model = randomModel(17, [5, 4, 3], { hidden: 'gelu', output: 'softmax' });
    expect(Buffer.from(exportOnnx(model)).equals(Buffer.from(exportOnnx(model)))).toBe(true);
  });
});

describe('exportOnnx refuses inconsistent models', () => {
  const base = randomModel(18, [4, 3, 2]);
  /** `base` with some fields of layer 1 replaced, wrong types included (as from parsed JSON). */
  const withLayer1 = (change: Record<string, unknown>): ExportableModel =>
    ({ ...base, layers: [base.layers[0], { ...base.layers[1], ...change }] }) as ExportableModel;

  const cases: [string, ExportableModel, string][] = [
    ['a short kernel', withLayer1({ kernel: new Float32Array(5) }), 'kernel'],
    ['a long bias', withLayer1({ bias: new Float32Array(3) }), 'bias'],
    [
      'an input size unlike the previous output',
      withLayer1({ inputSize: 4, kernel: new Float32Array(8) }),
      'inputSize',
    ],
    ['a NaN weight', withLayer1({ kernel: Float32Array.from([0, 0, 0, Number.NaN, 0, 0]) }), 'kernel'],
    ['an infinite bias', withLayer1({ bias: Float32Array.from([0, Number.POSITIVE_INFINITY]) }), 'bias'],
    ['an unknown activation', withLayer1({ activation: 'swish' }), 'activation'],
  ];
  for (const [what, model, field] of cases) {
    it(`${what}: ERR_TRAIN_BAD_MODEL naming layer 1 and ${field}`, () => {
      const error = errorOf(() => exportOnnx(model));
      expect(error.code).toBe('ERR_TRAIN_BAD_MODEL');
      expect(error.message).toMatch(/^Layer 1 /);
      expect(error.message).toContain(field);
      expect(error.details).toMatchObject({ layer: 1, field });
    });
  }

  it('a model without layers or with a bad input size', () => {
    expect(errorOf(() => exportOnnx({ ...base, layers: [] })).code).toBe('ERR_TRAIN_BAD_MODEL');
    expect(errorOf(() => exportOnnx({ ...base, inputSize: 0 })).message).toContain('inputSize');
    expect(errorOf(() => exportOnnx({ ...base, output: 'relu' as never })).message).toContain('output');
  });
});

describe('writeOnnxModel', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealtrain-onnx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the exported bytes, refuses to replace a file unless told, leaves no temp file', async () => {
    const model = randomModel(19, [6, 4, 3], { output: 'softmax' });
    const path = join(dir, 'model.onnx');
    await writeOnnxModel(path, model);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(exportOnnx(model)))).toBe(true);
    await rejectsWith(writeOnnxModel(path, model), 'ERR_IO_EXISTS');
    await writeFile(path, 'old');
    await writeOnnxModel(path, model, { overwrite: true });
    const x = randomArray(uniform(5), 2 * 6);
    const got = await runOnnx(await readFile(path), x, 2, 6);
    expect(maxAbsDiff(got, predictExportable(model, x, 2))).toBeLessThanOrEqual(TOLERANCE);
    expect(await readdir(dir)).toEqual(['model.onnx']);
  });

  it('writes nothing for a bad model', async () => {
    const path = join(dir, 'bad.onnx');
    await rejectsWith(
      writeOnnxModel(path, { ...randomModel(20, [2, 2]), inputSize: 3 }),
      'ERR_TRAIN_BAD_MODEL',
    );
    expect(await readdir(dir)).not.toContain('bad.onnx');
  });
});
