import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lineageTool } from '../data/lineage.js';
import { writeFileAtomic } from '../store/index.js';
import { parameterCount } from '../train/index.js';
import type { AttestationSummary } from './attestation-summary.js';
import type { TrustedLineage } from './input-lineage.js';
import type { KeyAccess } from './key-access.js';
import type { LoadedSplit, RunInputs } from './load-inputs.js';
import type { RunConfig } from './run-config.js';
import { RUN_FILES, type RunManifest } from './run-folder.js';

/** The words every screen and file uses for the simulated TEE. */
export const SIMULATION_WARNING =
  'SIMULATION: the simulated TEE gives no hardware protection; nothing about this run was proved.';

/** `model-card.json`: what a model is, how it was made and what was proved. No data, no keys. */
export interface ModelCard {
  readonly version: 1;
  readonly run_id: string;
  readonly created: string;
  readonly tool: { readonly name: string; readonly version: string; readonly kernels: string };
  readonly config_sha256: string;
  readonly training_sha256: string;
  readonly model: { readonly config: Readonly<Record<string, unknown>>; readonly parameters: number };
  /** `restored_best_epoch`: the model holds that epoch's weights (`early_stopping.restore_best`). */
  readonly training: {
    readonly epochs: number;
    readonly steps: number;
    readonly stopped_early: boolean;
    readonly restored_best_epoch?: number;
  };
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly data: Readonly<
    Record<string, { path: string; tensor_sha256: string; sealed: boolean; rows: number }>
  >;
  /** `verified_by`: the data owner's key id, when the run checked every split against it (`data.lineage_key`). */
  readonly lineage: { readonly path: string; readonly sha256: string; readonly verified_by?: string } | null;
  readonly attestation:
    | (AttestationSummary & { readonly warning?: string })
    | { readonly type: 'none'; readonly warning: string };
  readonly keys_released: readonly { readonly uri: string; readonly version: string }[];
  readonly sealed_to: string;
  readonly model_file: { readonly path: string; readonly sha256: string };
}

interface CardInput {
  readonly config: RunConfig;
  readonly manifest: RunManifest;
  readonly keys: KeyAccess;
  readonly inputs: RunInputs;
  /** The manifest the splits were checked against (`data.lineage_key`). */
  readonly lineage?: TrustedLineage;
  readonly splits: Readonly<Record<string, LoadedSplit | undefined>>;
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly model: { readonly path: string; readonly sha256: string };
  readonly engine: string;
  readonly epochs: number;
  readonly steps: number;
  readonly stoppedEarly: boolean;
  readonly restoredBestEpoch?: number | undefined;
  readonly now: Date;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Writes `model-card.json` into the run folder (atomically) and returns it. */
export async function writeModelCard(dir: string, c: CardInput): Promise<ModelCard> {
  const data: Record<string, { path: string; tensor_sha256: string; sealed: boolean; rows: number }> = {};
  for (const [name, s] of Object.entries(c.splits))
    if (s) data[name] = { path: s.path, tensor_sha256: s.sha256, sealed: s.sealed, rows: s.dataset.rows };
  // A verified manifest is named by the bytes that were verified, not by a later read.
  const lineage = c.lineage
    ? { path: c.lineage.path, sha256: c.lineage.sha256, verified_by: c.lineage.keyId }
    : c.inputs.lineage
      ? { path: c.inputs.lineage, sha256: sha256(await readFile(c.inputs.lineage)) }
      : null;
  const a = c.keys.attestation;
  const card: ModelCard = {
    version: 1,
    run_id: c.manifest.run_id,
    created: c.now.toISOString(),
    tool: { ...(await lineageTool()), kernels: c.engine },
    config_sha256: c.config.sha256,
    training_sha256: c.config.trainingSha256,
    model: { config: c.config.modelConfig, parameters: parameterCount(c.config.model) },
    training: {
      epochs: c.epochs,
      steps: c.steps,
      stopped_early: c.stoppedEarly,
      ...(c.restoredBestEpoch !== undefined ? { restored_best_epoch: c.restoredBestEpoch } : {}),
    },
    metrics: c.metrics,
    data,
    lineage,
    attestation: a
      ? { ...a, ...(a.simulated ? { warning: SIMULATION_WARNING } : {}) }
      : {
          type: 'none',
          warning: 'No attestation: the keys came from local providers (security.attestation is false).',
        },
    keys_released: c.keys.released,
    sealed_to: c.config.security.key,
    model_file: c.model,
  };
  await writeFileAtomic(join(dir, RUN_FILES.card), `${JSON.stringify(card, null, 2)}\n`, { overwrite: true });
  return card;
}
