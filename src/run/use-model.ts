import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import {
  type Dataset,
  Network,
  parseModelConfig,
  parseTrainingConfig,
  predict,
  selectKernels,
  Trainer,
} from '../train/index.js';
import type { CheckpointHeader } from './checkpoint-file.js';
import { readSealedCheckpoint } from './checkpoints.js';

/** A sealed model opened in memory. */
export interface OpenedModel {
  readonly network: Network;
  readonly header: CheckpointHeader;
  /** SHA-256 of the sealed file (what the audit log's `run.model` entry records). */
  readonly sha256: string;
}

/** Opens `model.sealed` with released keys; the weights never touch the disk in the clear. */
export async function openSealedModel(path: string, providers: readonly KeyProvider[]): Promise<OpenedModel> {
  const c = await readSealedCheckpoint(path, providers);
  if (c.header.kind !== 'model' && c.header.kind !== 'checkpoint')
    throw new SealtrainError('ERR_RUN_CHECKPOINT_INVALID', `${path} is not a model.`, { details: { path } });
  const spec = parseModelConfig(c.header.model, `${path}: model`);
  return { network: new Network(spec, c.params), header: c.header, sha256: c.sha256 };
}

/** Loss and accuracy of a model on a dataset. */
export function evaluateModel(
  model: OpenedModel,
  data: Dataset,
): { loss: number; accuracy: number | null; rows: number } {
  const trainer = new Trainer(model.network, { training: parseTrainingConfig({ batch_size: 256 }) });
  try {
    const m = trainer.evaluate(data);
    return { loss: m.loss, accuracy: m.accuracy ?? null, rows: data.rows };
  } finally {
    trainer.wipe();
  }
}

/** One prediction: the class (with its name) and the outputs (probabilities or values). */
export interface Prediction {
  readonly row: number;
  readonly class?: number;
  readonly label?: string;
  readonly outputs: readonly number[];
}

/** Predictions for every row of `features` (row-major, the model's input width). */
export function predictRows(model: OpenedModel, features: Float32Array, rows: number): Prediction[] {
  const { outputSize, loss } = model.network.spec;
  const out = predict(model.network, selectKernels(), features, rows, { batchSize: 256 });
  const result: Prediction[] = [];
  for (let r = 0; r < rows; r++) {
    const outputs = Array.from(out.subarray(r * outputSize, (r + 1) * outputSize));
    if (loss !== 'cross_entropy') {
      result.push({ row: r, outputs });
      continue;
    }
    let best = 0;
    for (let k = 1; k < outputSize; k++) if ((outputs[k] ?? 0) > (outputs[best] ?? 0)) best = k;
    const label = model.header.classes?.[best];
    result.push({ row: r, class: best, ...(label !== undefined ? { label } : {}), outputs });
  }
  out.fill(0);
  return result;
}
