import { createRequire } from 'node:module';
import type protobufLight from 'protobufjs/light.js';
import { SealtrainError } from '../errors/index.js';
import { type AtomicWriteOptions, writeFileAtomic } from '../store/index.js';
import type { Activation, ExportableModel, OutputKind } from './exportable-model.js';

/** The ONNX IR version written (8: ONNX 1.10 and later, onnxruntime 1.10 and later). */
export const ONNX_IR_VERSION = 8;
/** The opset of the default (`ai.onnx`) domain the graph uses; it has no `Gelu`, so GELU is composed. */
export const ONNX_OPSET = 13;

/** Options for {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** `ModelProto.producer_version`; omitted when not given. */
  readonly producerVersion?: string;
  /** `GraphProto.name`; default `sealtrain`. */
  readonly graphName?: string;
}

/** Options for {@link writeOnnxModel}. */
export interface OnnxWriteOptions extends OnnxExportOptions, AtomicWriteOptions {}

const ACTIVATIONS: readonly Activation[] = ['relu', 'gelu', 'tanh', 'sigmoid', 'linear'];
const OUTPUTS: readonly OutputKind[] = ['softmax', 'sigmoid', 'linear'];

function badModel(message: string, details: Record<string, string | number>): SealtrainError {
  return new SealtrainError('ERR_TRAIN_BAD_MODEL', message, { details });
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1;
}

/**
 * Checks that `model` can be exported: positive integer sizes, each layer's input size equal to
 * the previous layer's output size, kernel and bias lengths matching, every weight finite, known
 * activation and output kinds. Throws `ERR_TRAIN_BAD_MODEL` naming the layer and the field.
 */
export function checkExportableModel(model: ExportableModel): void {
  if (!isSize(model.inputSize)) {
    throw badModel(`The model's inputSize is ${model.inputSize}; it must be a positive integer.`, {
      field: 'inputSize',
    });
  }
  if (model.layers.length === 0) throw badModel('The model has no layers; it needs at least one.', {});
  if (!OUTPUTS.includes(model.output)) {
    throw badModel(`The model's output is ${String(model.output)}; use ${OUTPUTS.join(', ')}.`, {
      field: 'output',
    });
  }
  let width = model.inputSize;
  model.layers.forEach((layer, index) => {
    const at = `Layer ${index}`;
    const details = (field: string) => ({ layer: index, field });
    if (layer.inputSize !== width) {
      const previous = index === 0 ? "the model's inputSize" : `layer ${index - 1}'s outputSize`;
      throw badModel(
        `${at} has inputSize ${layer.inputSize}; it must equal ${previous}, ${width}.`,
        details('inputSize'),
      );
    }
    if (!isSize(layer.outputSize)) {
      throw badModel(
        `${at} has outputSize ${layer.outputSize}; it must be a positive integer.`,
        details('outputSize'),
      );
    }
    if (!ACTIVATIONS.includes(layer.activation)) {
      throw badModel(
        `${at} has activation ${String(layer.activation)}; use ${ACTIVATIONS.join(', ')}.`,
        details('activation'),
      );
    }
    checkWeights(at, index, 'kernel', layer.kernel, layer.inputSize * layer.outputSize);
    checkWeights(at, index, 'bias', layer.bias, layer.outputSize);
    width = layer.outputSize;
  });
}

function checkWeights(at: string, layer: number, field: string, values: unknown, length: number): void {
  if (!(values instanceof Float32Array)) {
    throw badModel(`${at} ${field} is not a Float32Array.`, { layer, field });
  }
  if (values.length !== length) {
    throw badModel(`${at} ${field} has ${values.length} values; it needs ${length}.`, { layer, field });
  }
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw badModel(`${at} ${field}[${bad}] is ${values[bad]}; weights must be finite numbers.`, {
      layer,
      field,
      index: bad,
    });
  }
}

/** The ONNX messages written, with their field numbers from `onnx.proto`. */
const SCHEMA_JSON = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            i: { type: 'int64', id: 3 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        TypeProto: {
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
          fields: { tensorType: { type: 'Tensor', id: 1 } },
        },
        TensorShapeProto: {
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
            },
          },
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
        },
      },
    },
  },
};
let modelProto: protobufLight.Type | undefined;

/**
 * `onnx.ModelProto`, built on first use: protobufjs loads only for an export, not with the engine
 * every command imports.
 */
function onnxModelProto(): protobufLight.Type {
  if (!modelProto) {
    const protobuf = createRequire(import.meta.url)('protobufjs/light.js') as typeof protobufLight;
    modelProto = protobuf.Root.fromJSON(SCHEMA_JSON).lookupType('onnx.ModelProto');
  }
  return modelProto;
}

/** `TensorProto.DataType.FLOAT` and `AttributeProto.AttributeType.INT`. */
const FLOAT = 1;
const ATTR_INT = 2;

interface Node {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute?: { name: string; i: number; type: number }[];
}

interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

function tensor(name: string, dims: number[], values: ArrayLike<number>): Tensor {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

function valueInfo(name: string, width: number) {
  const dim = [{ dimParam: 'batch' }, { dimValue: width }];
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

/** Builds the nodes and initializers of the graph, layer by layer. */
function buildGraph(model: ExportableModel): { nodes: Node[]; initializers: Tensor[] } {
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const emit = (opType: string, input: string[], name: string, attribute?: Node['attribute']): string => {
    nodes.push({ opType, input, output: [name], name, ...(attribute ? { attribute } : {}) });
    return name;
  };
  let x = 'input';
  let geluConstants = false;
  model.layers.forEach((layer, l) => {
    const kernel = `layer${l}.kernel`;
    const bias = `layer${l}.bias`;
    initializers.push(tensor(kernel, [layer.inputSize, layer.outputSize], layer.kernel));
    initializers.push(tensor(bias, [layer.outputSize], layer.bias));
    x = emit('Gemm', [x, kernel, bias], `layer${l}.gemm`);
    if (layer.activation === 'relu') x = emit('Relu', [x], `layer${l}.relu`);
    if (layer.activation === 'tanh') x = emit('Tanh', [x], `layer${l}.tanh`);
    if (layer.activation === 'sigmoid') x = emit('Sigmoid', [x], `layer${l}.sigmoid`);
    if (layer.activation === 'gelu') {
      geluConstants = true;
      // 0.5 · x · (1 + erf(x / √2)), the exact form.
      const erf = emit('Erf', [emit('Div', [x, 'gelu.sqrt2'], `layer${l}.gelu.div`)], `layer${l}.gelu.erf`);
      const onePlus = emit('Add', [erf, 'gelu.one'], `layer${l}.gelu.add`);
      x = emit('Mul', [emit('Mul', [x, onePlus], `layer${l}.gelu.mul`), 'gelu.half'], `layer${l}.gelu`);
    }
  });
  if (geluConstants) {
    initializers.push(tensor('gelu.sqrt2', [], [Math.SQRT2]));
    initializers.push(tensor('gelu.one', [], [1]));
    initializers.push(tensor('gelu.half', [], [0.5]));
  }
  if (model.output === 'softmax') emit('Softmax', [x], 'softmax', [{ name: 'axis', i: -1, type: ATTR_INT }]);
  if (model.output === 'sigmoid') emit('Sigmoid', [x], 'sigmoid');
  const last = nodes[nodes.length - 1];
  if (last) last.output = ['output'];
  return { nodes, initializers };
}

/**
 * Encodes `model` as an ONNX `ModelProto` (IR version 8, opset 13): input `input` and output
 * `output`, both float32 `[batch, features]` with a dynamic batch. Each layer is a `Gemm` with its
 * kernel and bias as initializers (raw little-endian float32), then `Relu`, `Tanh`, `Sigmoid` or
 * the exact GELU composed of `Div`, `Erf`, `Add` and `Mul`; the output is `Softmax(axis=-1)` or
 * `Sigmoid`. Throws `ERR_TRAIN_BAD_MODEL` (see {@link checkExportableModel}).
 */
export function exportOnnx(model: ExportableModel, options: OnnxExportOptions = {}): Uint8Array {
  checkExportableModel(model);
  const { nodes, initializers } = buildGraph(model);
  const outSize = model.layers[model.layers.length - 1]?.outputSize ?? 0;
  const MODEL_PROTO = onnxModelProto();
  const message = MODEL_PROTO.fromObject({
    irVersion: ONNX_IR_VERSION,
    producerName: 'sealtrain',
    ...(options.producerVersion === undefined ? {} : { producerVersion: options.producerVersion }),
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: options.graphName ?? 'sealtrain',
      node: nodes,
      initializer: initializers,
      input: [valueInfo('input', model.inputSize)],
      output: [valueInfo('output', outSize)],
    },
  });
  return MODEL_PROTO.encode(message).finish();
}

/**
 * Writes {@link exportOnnx}'s bytes to `path` atomically (temp file, fsync, rename). An existing
 * file is refused with `ERR_IO_EXISTS` unless `overwrite` is set; the mode defaults to 0o600.
 */
export async function writeOnnxModel(
  path: string,
  model: ExportableModel,
  options: OnnxWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, exportOnnx(model, options), options);
}
