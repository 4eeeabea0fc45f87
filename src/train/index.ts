/**
 * The training engine: feed-forward networks (dense layers; ReLU, GELU, tanh, sigmoid; dropout;
 * softmax cross-entropy, binary cross-entropy and MSE; SGD with momentum, Adam, AdamW; weight
 * decay; gradient clipping; per-example gradient norms), configured by the seed's JSON shape,
 * computed by native kernels (`native/train/`, AVX2/FMA or portable, multi-threaded) with a
 * TypeScript reference as oracle and fallback, and exported to ONNX and TensorFlow.js.
 * `docs/engine.md` describes the design.
 *
 * @module
 */
export { type BackendChoice, type BackendOptions, nativeInfo, selectKernels } from './backend.js';
export { checkDataset, type Dataset } from './dataset.js';
export {
  checkExportableModel,
  exportOnnx,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  type OnnxExportOptions,
  type OnnxWriteOptions,
  writeOnnxModel,
} from './export-onnx.js';
export {
  exportTfjs,
  TFJS_WEIGHTS_FILE,
  type TfjsModelJson,
  type TfjsWeightSpec,
  writeTfjsModel,
} from './export-tfjs.js';
export {
  type Activation,
  type DenseWeights,
  type ExportableModel,
  erf,
  type OutputKind,
  predictExportable,
} from './exportable-model.js';
export { ACT, type ActCode, type FloatArray, type Kernels } from './internal/kernels.js';
export type { NativeInfo } from './internal/native-kernels.js';
export { referenceKernels } from './internal/reference-kernels.js';
export {
  configProblems,
  type LayerSpec,
  type LossKind,
  type ModelConfig,
  type ModelSpec,
  modelConfigSchema,
  parameterCount,
  parseModelConfig,
} from './model-spec.js';
export { type LayerParams, Network, predict } from './network.js';
export { Rng } from './rng.js';
export {
  type EpochResult,
  type StepResult,
  Trainer,
  type TrainerOptions,
  type TrainerState,
} from './trainer.js';
export {
  type OptimizerOptions,
  parseTrainingConfig,
  type TrainingConfig,
  type TrainingSpec,
  trainingConfigSchema,
} from './training-config.js';
