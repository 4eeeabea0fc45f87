import { SealtrainError } from '../errors/index.js';
import type { ModelSpec } from './model-spec.js';

/**
 * Training or evaluation data in memory: `rows` examples of `inputSize` features (row-major), and
 * their targets: class indices in an `Int32Array` for `cross_entropy`, or `rows × outputSize`
 * values in a `Float32Array` for `binary_cross_entropy` (0 or 1, or a probability) and `mse`.
 */
export interface Dataset {
  readonly features: Float32Array;
  readonly labels: Int32Array | Float32Array;
  readonly rows: number;
}

function invalid(message: string, details: Record<string, number>): SealtrainError {
  return new SealtrainError('ERR_TRAIN_DATA_INVALID', message, { details });
}

/**
 * Checks that `data` fits the model: array lengths, every feature finite, every label a class
 * (or every target finite, and in [0, 1] for binary cross-entropy). Errors name the row and column.
 */
export function checkDataset(spec: ModelSpec, data: Dataset): void {
  const { inputSize, outputSize, loss } = spec;
  const { features, labels, rows } = data;
  if (!Number.isInteger(rows) || rows < 1)
    throw invalid(`The dataset has ${rows} rows; it needs at least one.`, { rows });
  if (features.length !== rows * inputSize) {
    throw invalid(
      `The dataset has ${features.length} feature values; ${rows} rows of ${inputSize} features need ${rows * inputSize}.`,
      { rows, inputSize },
    );
  }
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      const row = Math.floor(i / inputSize);
      const column = i % inputSize;
      throw invalid(`Feature ${column} of row ${row} is ${features[i]}; features must be finite numbers.`, {
        row,
        column,
      });
    }
  }
  if (loss === 'cross_entropy') {
    if (!(labels instanceof Int32Array) || labels.length !== rows) {
      throw invalid(
        `Cross-entropy training needs one class index per row in an Int32Array (${rows} of them).`,
        { rows },
      );
    }
    for (let r = 0; r < rows; r++) {
      const label = labels[r] as number;
      if (label < 0 || label >= outputSize) {
        throw invalid(`The label of row ${r} is ${label}; classes are 0 to ${outputSize - 1}.`, {
          row: r,
          label,
        });
      }
    }
    return;
  }
  if (!(labels instanceof Float32Array) || labels.length !== rows * outputSize) {
    throw invalid(
      `${loss} training needs ${outputSize} target values per row in a Float32Array (${rows * outputSize} in all).`,
      {
        rows,
        outputSize,
      },
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i] as number;
    if (!Number.isFinite(t) || (loss === 'binary_cross_entropy' && (t < 0 || t > 1))) {
      const row = Math.floor(i / outputSize);
      const column = i % outputSize;
      throw invalid(
        `Target ${column} of row ${row} is ${t}; ${loss === 'binary_cross_entropy' ? 'targets must lie in [0, 1]' : 'targets must be finite'}.`,
        { row, column },
      );
    }
  }
}
