import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError } from '../errors/index.js';
import { type AtomicWriteOptions, assertAbsent, writeFileAtomic } from '../store/index.js';
import { checkExportableModel } from './export-onnx.js';
import type { ExportableModel } from './exportable-model.js';

/** One entry of a TensorFlow.js weights manifest. */
export interface TfjsWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32';
}

/** The `model.json` of a TensorFlow.js layers model, as {@link exportTfjs} writes it. */
export interface TfjsModelJson {
  readonly format: 'layers-model';
  readonly generatedBy: string;
  readonly convertedBy: null;
  readonly modelTopology: object;
  readonly weightsManifest: readonly {
    readonly paths: readonly string[];
    readonly weights: readonly TfjsWeightSpec[];
  }[];
}

/** The file {@link writeTfjsModel} puts the weights in, named by the manifest. */
export const TFJS_WEIGHTS_FILE = 'weights.bin';

function denseLayer(name: string, units: number, activation: string): object {
  return {
    class_name: 'Dense',
    config: {
      name,
      trainable: true,
      dtype: 'float32',
      units,
      activation,
      use_bias: true,
      kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
  };
}

/**
 * The model as a TensorFlow.js layers model: `modelJson` (a Keras `Sequential` of an `InputLayer`
 * and one `Dense` per layer, named `dense_<i>`) and `weightData` (each kernel, `[in, out]`, then its
 * bias, float32 little-endian), to be saved as `model.json` and `weights.bin`. Activation names are
 * the same in TensorFlow.js; its `gelu` is the exact erf form. A softmax or sigmoid output becomes
 * the last `Dense`'s activation when that layer is linear, and an `Activation` layer otherwise.
 * Throws `ERR_TRAIN_BAD_MODEL` (see {@link checkExportableModel}).
 */
export function exportTfjs(model: ExportableModel): { modelJson: TfjsModelJson; weightData: Uint8Array } {
  checkExportableModel(model);
  const layers: object[] = [
    {
      class_name: 'InputLayer',
      config: { name: 'input', batch_input_shape: [null, model.inputSize], dtype: 'float32', sparse: false },
    },
  ];
  const weights: TfjsWeightSpec[] = [];
  const last = model.layers.length - 1;
  model.layers.forEach((layer, i) => {
    const name = `dense_${i}`;
    const fold = i === last && layer.activation === 'linear' && model.output !== 'linear';
    layers.push(denseLayer(name, layer.outputSize, fold ? model.output : layer.activation));
    weights.push({ name: `${name}/kernel`, shape: [layer.inputSize, layer.outputSize], dtype: 'float32' });
    weights.push({ name: `${name}/bias`, shape: [layer.outputSize], dtype: 'float32' });
  });
  const lastLayer = model.layers[last];
  if (model.output !== 'linear' && lastLayer?.activation !== 'linear') {
    layers.push({
      class_name: 'Activation',
      config: { name: 'output', trainable: true, dtype: 'float32', activation: model.output },
    });
  }
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'sealtrain',
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'sealtrain', layers },
        backend: 'tensor_flow.js',
      },
      weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights }],
    },
    weightData: packWeights(model),
  };
}

function packWeights(model: ExportableModel): Uint8Array {
  const count = model.layers.reduce((n, l) => n + l.kernel.length + l.bias.length, 0);
  const bytes = new Uint8Array(count * 4);
  const view = new DataView(bytes.buffer);
  let off = 0;
  for (const layer of model.layers) {
    for (const values of [layer.kernel, layer.bias]) {
      for (const v of values) {
        view.setFloat32(off, v, true);
        off += 4;
      }
    }
  }
  return bytes;
}

/**
 * Writes {@link exportTfjs}'s `model.json` and `weights.bin` into `dir` (created if missing), each
 * atomically (temp file, fsync, rename), weights first so a `model.json` never names missing
 * weights. Existing files are refused with `ERR_IO_EXISTS`, before anything is written, unless
 * `overwrite` is set.
 */
export async function writeTfjsModel(
  dir: string,
  model: ExportableModel,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { modelJson, weightData } = exportTfjs(model);
  const jsonPath = join(dir, 'model.json');
  const weightsPath = join(dir, TFJS_WEIGHTS_FILE);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw fromFsError(error, 'create folder', dir);
  }
  if (options.overwrite !== true) {
    await assertAbsent(jsonPath);
    await assertAbsent(weightsPath);
  }
  await writeFileAtomic(weightsPath, weightData, options);
  await writeFileAtomic(jsonPath, `${JSON.stringify(modelJson, null, 2)}\n`, options);
}
