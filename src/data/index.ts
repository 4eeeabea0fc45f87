/**
 * Preparing training data: streaming readers (CSV, JSON Lines, Parquet, IDX), a declared or
 * inferred schema, validation with per-column policies, a seeded stratified split, imputation,
 * normalisation and one-hot encoding fitted on the training split only, leakage and poisoning
 * checks, the tensor file format, and a signed lineage manifest (`prepareDataset`,
 * `sealtrain prepare`). Also a strict IDX reader and the Fashion-MNIST loader.
 *
 * @module
 */

export {
  type ClassBalance,
  type ColumnSpread,
  ColumnStats,
  type CrossSplitDuplicates,
  chiSquareSurvival,
  classBalance,
  DuplicateIndex,
  type DuplicateIndexOptions,
  type DuplicateReport,
  type LabelDrift,
  type LabelDriftOptions,
  labelDrift,
  NearDuplicateIndex,
  type NearDuplicateQuantaOptions,
  nearDuplicateQuanta,
  OutlierCounter,
  type OutlierOptions,
  type OutlierReport,
  outlierCount,
  ReservoirStats,
  type ReservoirStatsOptions,
  type SplitKey,
  type SplitPair,
  type WithinSplitDuplicates,
} from './checks.js';
export { type DecodeIdxOptions, decodeIdx, type IdxArray, type IdxOptions } from './decode-idx.js';
export { type InferOptions, inferSchema } from './infer-schema.js';
export {
  type ColumnReport,
  type DataError,
  type Ingested,
  type IngestOptions,
  type IngestReport,
  ingest,
} from './ingest.js';
export type { IdxData, IdxDataTypes, IdxDtype } from './internal/idx-header.js';
export { DEFAULT_MAX_IDX_BYTES } from './internal/idx-header.js';
export { CHECK_NAMES, type CheckName, type CheckOptions, type CheckReport } from './internal/run-checks.js';
export {
  assertLineageValid,
  LINEAGE_MANIFEST_VERSION,
  type LineageCounts,
  type LineageFileCheck,
  type LineageInput,
  type LineageManifest,
  type LineageOutput,
  type LineageVerifyReport,
  lineageTool,
  loadLineageSigningKey,
  manifestSignatureValid,
  parseLineageManifest,
  readLineageManifest,
  readLineageManifestWithDigest,
  signManifest,
  type UnsignedLineageManifest,
  type VerifyManifestOptions,
  verifyManifest,
  writeLineageManifest,
} from './lineage.js';
export {
  FASHION_MNIST_DIR,
  FASHION_MNIST_PIXELS,
  type FashionMnist,
  type LoadFashionMnistOptions,
  loadFashionMnist,
} from './load-fashion-mnist.js';
export {
  type PreparedOutput,
  type PrepareOptions,
  type PrepareReport,
  type PrepareResult,
  prepareDataset,
} from './prepare.js';
export { readIdx } from './read-idx.js';
export { type OpenRecordSourceOptions, openRecordSource, type RecordFormat } from './readers/open-source.js';
export {
  isProblem,
  type RawRecord,
  type RawValue,
  type RecordProblem,
  type RecordSource,
} from './records.js';
export {
  type ColumnSpec,
  type DatasetSchema,
  type DatasetSchemaInput,
  datasetSchemaSchema,
  matchColumns,
  parseDatasetSchema,
  schemaDigest,
} from './schema.js';
export {
  DEFAULT_FRACTIONS,
  parseFractions,
  SPLITS,
  type SplitFractions,
  type SplitName,
  stratifiedSplit,
} from './split.js';
export {
  type ByteSink,
  DEFAULT_MAX_TENSOR_FILE_BYTES,
  type JsonValue,
  type ReadTensorFileFromPathOptions,
  type ReadTensorFileOptions,
  readTensorFile,
  readTensorFileFromPath,
  TENSOR_FILE_MAGIC,
  TENSOR_FILE_VERSION,
  type Tensor,
  type TensorArrays,
  type TensorData,
  type TensorDeclaration,
  type TensorDtype,
  type TensorEntry,
  type TensorFile,
  type TensorFileDescription,
  TensorFileHasher,
  type TensorFileHeader,
  type TensorFileSummary,
  TensorFileWriter,
  type TensorFileWriterOptions,
  type TensorSplit,
  tensorFileDigest,
} from './tensor-file.js';
export {
  categoryIndex,
  type FeatureTransform,
  type FittedTransform,
  fitTransform,
  transformRecord,
  transformRow,
} from './transform.js';
