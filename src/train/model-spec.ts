import { z } from 'zod';
import { SealtrainError } from '../errors/index.js';
import type { Activation, OutputKind } from './exportable-model.js';

const activation = z.enum(['relu', 'gelu', 'tanh', 'sigmoid', 'linear']);
const width = z.int().min(1).max(65_536);
const dropout = z.number().min(0).lt(1);

const hiddenLayerSchema = z.strictObject({
  units: width,
  activation: activation.optional(),
  dropout: dropout.optional(),
});

/**
 * The `model` section of a training config, the seed's shape: `architecture` `mlp`, `input_size`,
 * `output_size`, and the hidden layers as `hidden_size` (one width or a list) or `layers` (a list
 * of `{ units, activation?, dropout? }`). `activation` and `dropout` apply to every hidden layer
 * that does not set its own. `loss` picks the output: `cross_entropy` (softmax over
 * `output_size` ≥ 2 classes), `binary_cross_entropy` (a sigmoid per output) or `mse` (linear).
 */
export const modelConfigSchema = z
  .strictObject({
    architecture: z.literal('mlp'),
    input_size: z
      .int()
      .min(1)
      .max(1 << 20),
    hidden_size: z.union([width, z.array(width).max(64)]).optional(),
    layers: z.array(hiddenLayerSchema).max(64).optional(),
    output_size: width,
    activation: activation.default('relu'),
    dropout: dropout.default(0),
    loss: z.enum(['cross_entropy', 'binary_cross_entropy', 'mse']).default('cross_entropy'),
    init: z.enum(['he', 'glorot']).optional(),
  })
  .check((ctx) => {
    const v = ctx.value;
    if (v.hidden_size !== undefined && v.layers !== undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['layers'],
        message: 'give hidden_size or layers, not both',
        input: v,
      });
    }
    if (v.loss === 'cross_entropy' && v.output_size < 2) {
      ctx.issues.push({
        code: 'custom',
        path: ['output_size'],
        message: 'cross_entropy needs at least 2 classes; use binary_cross_entropy for one output',
        input: v,
      });
    }
  });

/** The `model` section as written in a config file. */
export type ModelConfig = z.input<typeof modelConfigSchema>;

/** The loss a model trains with. */
export type LossKind = 'cross_entropy' | 'binary_cross_entropy' | 'mse';

/** One dense layer of a resolved model. */
export interface LayerSpec {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly activation: Activation;
  /** Probability of dropping each output while training (0: no dropout). */
  readonly dropout: number;
  readonly init: 'he' | 'glorot';
}

/** A resolved model: every layer explicit, hidden ones first, the output layer (linear) last. */
export interface ModelSpec {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly layers: readonly LayerSpec[];
  readonly loss: LossKind;
  readonly output: OutputKind;
}

/** Names every offending path of a failed zod parse, for `ERR_TRAIN_CONFIG_INVALID`. */
export function configProblems(error: z.ZodError, prefix: string): string[] {
  return error.issues.map(
    (i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`,
  );
}

/**
 * Validates the `model` section and resolves it to a {@link ModelSpec}. Unknown fields, wrong
 * types and impossible shapes are refused with `ERR_TRAIN_CONFIG_INVALID` naming every path.
 */
export function parseModelConfig(value: unknown, path = 'model'): ModelSpec {
  const result = modelConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = configProblems(result.error, path);
    throw new SealtrainError(
      'ERR_TRAIN_CONFIG_INVALID',
      `The model configuration is invalid: ${problems.join('; ')}.`,
      {
        details: { problems },
      },
    );
  }
  const c = result.data;
  const hidden: { units: number; activation?: Activation | undefined; dropout?: number | undefined }[] =
    c.layers ??
    (c.hidden_size === undefined ? [] : Array.isArray(c.hidden_size) ? c.hidden_size : [c.hidden_size]).map(
      (units) => ({ units }),
    );
  const layers: LayerSpec[] = [];
  let inputSize = c.input_size;
  for (const h of hidden) {
    const act = h.activation ?? c.activation;
    layers.push({
      inputSize,
      outputSize: h.units,
      activation: act,
      dropout: h.dropout ?? c.dropout,
      init: c.init ?? defaultInit(act),
    });
    inputSize = h.units;
  }
  layers.push({
    inputSize,
    outputSize: c.output_size,
    activation: 'linear',
    dropout: 0,
    init: c.init ?? 'glorot',
  });
  const output: OutputKind =
    c.loss === 'cross_entropy' ? 'softmax' : c.loss === 'binary_cross_entropy' ? 'sigmoid' : 'linear';
  return { inputSize: c.input_size, outputSize: c.output_size, layers, loss: c.loss, output };
}

function defaultInit(act: Activation): 'he' | 'glorot' {
  return act === 'relu' || act === 'gelu' ? 'he' : 'glorot';
}

/** Parameters (weights and biases) of a model. */
export function parameterCount(spec: ModelSpec): number {
  return spec.layers.reduce((n, l) => n + l.inputSize * l.outputSize + l.outputSize, 0);
}
