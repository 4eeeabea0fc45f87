/**
 * The training run, the product's main job: a config ({@link parseRunConfig}, published as JSON
 * Schema), keys released to an attested workload ({@link openKeyAccess}), sealed inputs decrypted
 * into memory only, training with the engine ({@link runTraining}) with metrics, sealed
 * checkpoints, rollback-protected resume, and a sealed model with its model card; the sealed
 * model used in memory ({@link openSealedModel}); and exec mode for any other framework
 * ({@link runExec}). `docs/run.md` describes it; checkpoints follow `docs/spec/checkpoint-v1.md`.
 *
 * @module
 */
export { type AttestationSummary, summariseClaims } from './attestation-summary.js';
export {
  CHECKPOINT_MAGIC,
  type CheckpointContents,
  type CheckpointHeader,
  decodeCheckpoint,
  type EpochPartial,
  encodeCheckpoint,
} from './checkpoint-file.js';
export {
  CONTENT_TYPES,
  checkRecordedModel,
  newestRecordedCounter,
  type OpenedCheckpoint,
  pickResumePoint,
  type ResumePoint,
  readSealedCheckpoint,
} from './checkpoints.js';
export type { EpochDone, StepProgress } from './epoch-loop.js';
export { type ExecOptions, type ExecResult, runExec, wipeFolder } from './exec-mode.js';
export {
  checkAgainstLineage,
  type DecryptedInput,
  openTrustedLineage,
  type TrustedLineage,
} from './input-lineage.js';
export {
  type BrokerAccess,
  type KeyAccess,
  type KeyAccessOptions,
  type KeyAccessSoon,
  openKeyAccess,
} from './key-access.js';
export {
  isSealed,
  type LoadedSplit,
  type LoadSplitOptions,
  loadSplit,
  type ReadInputOptions,
  type RunInputs,
  readInput,
  resolveInputs,
  type SignedSealedSplit,
} from './load-inputs.js';
export { type EpochMetric, type RunMetric, readMetrics, type StepMetric } from './metrics-log.js';
export { type ModelCard, SIMULATION_WARNING } from './model-card.js';
export { markPhase, PHASE_MARK_PREFIX, RUN_PHASES, type RunPhase } from './phase-marks.js';
export {
  parseRunConfig,
  type RunConfig,
  type RunConfigInput,
  runConfigJsonSchema,
  runConfigSchema,
} from './run-config.js';
export {
  checkpointPath,
  listCheckpoints,
  RUN_FILES,
  type RunManifest,
  readRunManifest,
} from './run-folder.js';
export {
  type RunObserver,
  runTraining,
  type TrainRunOptions,
  type TrainRunResult,
} from './run-training.js';
export {
  evaluateModel,
  type OpenedModel,
  openSealedModel,
  type Prediction,
  predictRows,
} from './use-model.js';
