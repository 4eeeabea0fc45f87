import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '../audit/index.js';
import { SealtrainError } from '../errors/index.js';
import {
  configProblems,
  type ModelSpec,
  modelConfigSchema,
  parseModelConfig,
  parseTrainingConfig,
  type TrainingSpec,
  trainingConfigSchema,
} from '../train/index.js';

const path = z.string().min(1).max(4096);
const keyUri = z
  .string()
  .regex(/^(azurekv|local|pkcs11):/, 'a key URI: azurekv://<vault>/keys/<name>, local:<name> or pkcs11:…');

/** A service's address: an https:// URL with no path (the broker or vault, an MAA provider). */
const httpsOrigin = z.string().regex(/^https:\/\/[^/]+\/?$/, 'an https:// URL with no path');

/** The `security` section: where keys come from and what the outputs are sealed to. */
const securitySchema = z
  .strictObject({
    /** The model owner's key: checkpoints, the model and exec-mode outputs are sealed to it. */
    key: keyUri,
    /** Input keys only through attested release (Secure Key Release); false allows local keys (development). */
    attestation: z.boolean().default(true),
    /** `auto` detects SEV-SNP or an Azure CVM; `sim` is the simulated TEE: INSECURE, development only. */
    tee: z.enum(['auto', 'sim']).default('auto'),
    /** How to reach the broker: its CA and a workload token file. Omitted: Entra ID (managed identity). */
    broker: z
      .strictObject({
        /** The vault or broker keys are released from when `key` is not an `azurekv:` key. */
        url: httpsOrigin.optional(),
        ca: path.optional(),
        token_file: path.optional(),
      })
      .optional(),
    /**
     * Attest to Microsoft Azure Attestation (the provider's URL) instead of the broker, as Azure Key
     * Vault's Secure Key Release needs. `ca`: the provider's TLS CA, for a stand-in; omitted for Azure.
     */
    maa: z
      .strictObject({
        url: httpsOrigin,
        ca: path.optional(),
      })
      .optional(),
  })
  .check((ctx) => {
    if (ctx.value.maa !== undefined && ctx.value.tee === 'sim')
      ctx.issues.push({
        code: 'custom',
        path: ['maa'],
        message: 'MAA never accepts simulated evidence: remove maa, or set tee to auto',
        input: ctx.value,
      });
  });

const dataSchema = z
  .strictObject({
    /** A `sealtrain prepare` output folder: `train.tensor[.sealed]`, `validation…`, `test…`, `lineage.json`. */
    dir: path.optional(),
    train: path.optional(),
    validation: path.optional(),
    test: path.optional(),
    /** Exec mode: any other sealed files to decrypt into the private folder. */
    files: z.array(path).max(64).optional(),
    /**
     * The data owner's lineage public key (Ed25519 PEM, `audit/signing-key.pub.pem` of the home that
     * ran prepare): `dir`'s `lineage.json` must be signed by it and list every split read, with the
     * digest the decrypted split has. Anyone can seal for a public key; only the owner can sign.
     */
    lineage_key: path.optional(),
  })
  .check((ctx) => {
    const v = ctx.value;
    if (v.dir === undefined && v.train === undefined && (v.files ?? []).length === 0)
      ctx.issues.push({ code: 'custom', path: ['dir'], message: 'give dir, train or files', input: v });
    if (v.lineage_key !== undefined && v.dir === undefined)
      ctx.issues.push({
        code: 'custom',
        path: ['lineage_key'],
        message: 'needs dir, the prepare output folder that holds lineage.json',
        input: v,
      });
  });

const outputSchema = z.strictObject({
  /** The run folder: metrics, sealed checkpoints, the sealed model, the model card. */
  dir: path,
  /** A sealed checkpoint every this many epochs (0: none). */
  checkpoint_every_epochs: z.int().min(0).max(100_000).default(1),
  /** And at the first epoch end this many minutes after the last one (0: off). */
  checkpoint_every_minutes: z.number().min(0).max(10_080).default(0),
  /** Older checkpoints beyond this many are deleted. */
  keep_checkpoints: z.int().min(1).max(1000).default(3),
});

const earlyStoppingSchema = z.strictObject({
  /** Stop after this many epochs without improvement of the validation loss. */
  patience: z.int().min(1).max(10_000),
  /** What counts as an improvement. */
  min_delta: z.number().min(0).default(0),
  /** The model gets the weights of the epoch with the best validation loss, not the last epoch's. */
  restore_best: z.boolean().default(true),
});

/**
 * A training run's config: the seed's `model`, `training` and `security` sections, with
 * `training.early_stopping`, and `data` and `output` locations. Unknown fields are errors.
 */
export const runConfigSchema = z.strictObject({
  model: modelConfigSchema,
  training: trainingConfigSchema.extend({ early_stopping: earlyStoppingSchema.optional() }).prefault({}),
  security: securitySchema,
  data: dataSchema,
  output: outputSchema,
});

/** A run config as written in a file. */
export type RunConfigInput = z.input<typeof runConfigSchema>;

/** A resolved run config: paths absolute, sections parsed. */
export interface RunConfig {
  /** Where it was read from (names it in messages). */
  readonly source: string;
  /** SHA-256 of the canonical JSON of `model`, `training` and `data`: what a checkpoint must match. */
  readonly trainingSha256: string;
  /** SHA-256 of the canonical JSON of the whole config as given. */
  readonly sha256: string;
  readonly modelConfig: z.output<typeof modelConfigSchema>;
  readonly model: ModelSpec;
  readonly training: TrainingSpec;
  readonly earlyStopping:
    | { readonly patience: number; readonly minDelta: number; readonly restoreBest: boolean }
    | undefined;
  readonly security: z.output<typeof securitySchema>;
  readonly data: z.output<typeof dataSchema>;
  readonly output: z.output<typeof outputSchema>;
}

const sha256 = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex');

function invalid(source: string, problems: string[]): SealtrainError {
  return new SealtrainError(
    'ERR_TRAIN_CONFIG_INVALID',
    `The run config ${source} is invalid: ${problems.join('; ')}.`,
    { details: { path: source, problems } },
  );
}

/**
 * Validates a run config. Relative paths are resolved against `baseDir` (the config file's
 * folder). Errors are `ERR_TRAIN_CONFIG_INVALID` naming every bad path.
 */
export function parseRunConfig(
  value: unknown,
  source: string,
  baseDir = dirname(resolve(source)),
): RunConfig {
  const result = runConfigSchema.safeParse(value);
  if (!result.success) throw invalid(source, configProblems(result.error, ''));
  const c = result.data;
  const at = (p: string | undefined) =>
    p === undefined ? undefined : isAbsolute(p) ? p : resolve(baseDir, p);
  const { early_stopping, ...training } = c.training;
  const data = {
    ...c.data,
    ...(c.data.dir !== undefined ? { dir: at(c.data.dir) } : {}),
    ...(c.data.train !== undefined ? { train: at(c.data.train) } : {}),
    ...(c.data.validation !== undefined ? { validation: at(c.data.validation) } : {}),
    ...(c.data.test !== undefined ? { test: at(c.data.test) } : {}),
    ...(c.data.files !== undefined ? { files: c.data.files.map((f) => at(f) ?? f) } : {}),
    ...(c.data.lineage_key !== undefined ? { lineage_key: at(c.data.lineage_key) } : {}),
  };
  const broker = c.security.broker && {
    ...(c.security.broker.url !== undefined ? { url: c.security.broker.url } : {}),
    ...(c.security.broker.ca !== undefined ? { ca: at(c.security.broker.ca) } : {}),
    ...(c.security.broker.token_file !== undefined ? { token_file: at(c.security.broker.token_file) } : {}),
  };
  const maa = c.security.maa && {
    url: c.security.maa.url,
    ...(c.security.maa.ca !== undefined ? { ca: at(c.security.maa.ca) } : {}),
  };
  return {
    source,
    sha256: sha256(value),
    trainingSha256: sha256({ model: c.model, training: c.training }),
    modelConfig: c.model,
    model: parseModelConfig(c.model),
    training: parseTrainingConfig(training),
    earlyStopping: early_stopping && {
      patience: early_stopping.patience,
      minDelta: early_stopping.min_delta,
      restoreBest: early_stopping.restore_best,
    },
    security: { ...c.security, ...(broker ? { broker } : {}), ...(maa ? { maa } : {}) },
    data: data as z.output<typeof dataSchema>,
    output: { ...c.output, dir: at(c.output.dir) ?? c.output.dir },
  };
}

/** The run config's JSON Schema (draft 2020-12), as `sealtrain config schema` prints it. */
export function runConfigJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://sealtrain.dev/schema/run-config-v1.json',
    title: 'sealtrain run config',
    ...z.toJSONSchema(runConfigSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
