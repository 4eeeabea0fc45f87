import { z } from 'zod';
import { SealtrainError } from '../errors/index.js';
import { configProblems } from './model-spec.js';

/**
 * The `training` section of a training config, the seed's shape (`batch_size`, `learning_rate`,
 * `epochs`) with the engine's options: `optimizer` (`adam`, `adamw`, `sgd`), `momentum` and
 * `nesterov` for SGD, `beta1`, `beta2`, `eps` for Adam, `weight_decay` (L2 for `adam` and `sgd`,
 * decoupled for `adamw`), `clip_norm` (global gradient norm), and `seed`.
 */
export const trainingConfigSchema = z.strictObject({
  batch_size: z.int().min(1).max(65_536).default(32),
  learning_rate: z.number().positive().max(10).default(0.001),
  epochs: z.int().min(1).max(100_000).default(10),
  optimizer: z.enum(['adam', 'adamw', 'sgd']).default('adam'),
  momentum: z.number().min(0).lt(1).default(0),
  nesterov: z.boolean().default(false),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().max(1).default(1e-8),
  weight_decay: z.number().min(0).max(1).optional(),
  clip_norm: z.number().positive().optional(),
  seed: z.int().min(0).max(0xffff_ffff).default(0),
});

/** The `training` section as written in a config file. */
export type TrainingConfig = z.input<typeof trainingConfigSchema>;

/** How parameters are updated from gradients. */
export type OptimizerOptions =
  | {
      readonly kind: 'adam' | 'adamw';
      readonly learningRate: number;
      readonly beta1: number;
      readonly beta2: number;
      readonly eps: number;
      readonly weightDecay: number;
    }
  | {
      readonly kind: 'sgd';
      readonly learningRate: number;
      readonly momentum: number;
      readonly nesterov: boolean;
      readonly weightDecay: number;
    };

/** A resolved training section. */
export interface TrainingSpec {
  readonly batchSize: number;
  readonly epochs: number;
  readonly optimizer: OptimizerOptions;
  /** Gradients are scaled down so their global L2 norm is at most this. */
  readonly clipNorm: number | undefined;
  readonly seed: number;
}

/** Validates the `training` section; errors are `ERR_TRAIN_CONFIG_INVALID` naming every path. */
export function parseTrainingConfig(value: unknown, path = 'training'): TrainingSpec {
  const result = trainingConfigSchema.safeParse(value ?? {});
  if (!result.success) {
    const problems = configProblems(result.error, path);
    throw new SealtrainError(
      'ERR_TRAIN_CONFIG_INVALID',
      `The training configuration is invalid: ${problems.join('; ')}.`,
      {
        details: { problems },
      },
    );
  }
  const c = result.data;
  if (c.optimizer !== 'sgd' && (c.momentum !== 0 || c.nesterov)) {
    throw new SealtrainError(
      'ERR_TRAIN_CONFIG_INVALID',
      `The training configuration is invalid: ${path}.momentum and ${path}.nesterov apply to the sgd optimizer only.`,
    );
  }
  if (c.nesterov && c.momentum === 0) {
    throw new SealtrainError(
      'ERR_TRAIN_CONFIG_INVALID',
      `The training configuration is invalid: ${path}.nesterov needs ${path}.momentum above 0.`,
    );
  }
  const optimizer: OptimizerOptions =
    c.optimizer === 'sgd'
      ? {
          kind: 'sgd',
          learningRate: c.learning_rate,
          momentum: c.momentum,
          nesterov: c.nesterov,
          weightDecay: c.weight_decay ?? 0,
        }
      : {
          kind: c.optimizer,
          learningRate: c.learning_rate,
          beta1: c.beta1,
          beta2: c.beta2,
          eps: c.eps,
          weightDecay: c.weight_decay ?? (c.optimizer === 'adamw' ? 0.01 : 0),
        };
  return { batchSize: c.batch_size, epochs: c.epochs, optimizer, clipNorm: c.clip_norm, seed: c.seed };
}
