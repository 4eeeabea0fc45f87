import { createHash, type KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { canonicalJson } from '../audit/index.js';
import { isSealtrainError, SealtrainError } from '../errors/index.js';
import { type SealOptions, sealBuffer } from '../seal/index.js';
import type { ColumnStats } from './checks.js';
import { type InferOptions, inferSchema } from './infer-schema.js';
import { type IngestReport, ingest } from './ingest.js';
import { hashPath } from './internal/hash-file.js';
import { assertReplaceable, writeOutputDir } from './internal/output-dir.js';
import { ExactKeys } from './internal/row-hash.js';
import {
  type CheckOptions,
  type CheckReport,
  checkFailures,
  classCounts,
  runChecks,
} from './internal/run-checks.js';
import { fileSink, type OpenSink, sealedSink } from './internal/sinks.js';
import { lineageTool, signManifest, type UnsignedLineageManifest } from './lineage.js';
import { type OpenRecordSourceOptions, openRecordSource } from './readers/open-source.js';
import type { RecordSource } from './records.js';
import { type DatasetSchema, schemaDigest } from './schema.js';
import { DEFAULT_FRACTIONS, SPLITS, type SplitFractions, type SplitName, stratifiedSplit } from './split.js';
import { TensorFileWriter } from './tensor-file.js';
import { type FittedTransform, fitTransform, type RawMatrix, rowTransformer } from './transform.js';

/** Options for {@link prepareDataset}. */
export interface PrepareOptions {
  /** The schema; without it one is inferred (see {@link InferOptions}) and written for review. */
  readonly schema?: DatasetSchema;
  readonly infer?: InferOptions;
  /** Reader options: delimiter, field limits, an IDX labels file, the format. */
  readonly read?: OpenRecordSourceOptions;
  readonly fractions?: SplitFractions;
  /** The split's seed (default 0). */
  readonly seed?: number;
  readonly maxErrors?: number;
  /** Seal every tensor file (and the fitted transform) for these key URIs; plaintext never touches the disk. */
  readonly seal?: Pick<SealOptions, 'recipients' | 'providers' | 'audit' | 'storage'>;
  readonly checks?: CheckOptions;
  /** Replace an existing output folder. */
  readonly overwrite?: boolean;
  /** Signs the lineage manifest (Ed25519): the audit signing key, see {@link loadLineageSigningKey}. */
  readonly signingKey: KeyObject;
  readonly audit?: { readonly sink: AuditSink; readonly actor: string };
  /** Progress: the phase, and bytes read of the total while reading. */
  readonly onProgress?: (phase: 'read' | 'write', done: number, total: number | undefined) => void;
}

/** One file written. */
export interface PreparedOutput {
  readonly file: string;
  readonly split?: SplitName;
  readonly rows?: number;
  /** SHA-256 of the bytes on disk. */
  readonly sha256: string;
  readonly bytes: number;
  readonly sealed: boolean;
  /** The sealed-file body digest, when sealed. */
  readonly bodyDigest?: string;
  /** SHA-256 of a sealed tensor file's plaintext: what a run checks the decrypted split against. */
  readonly plaintextSha256?: string;
}

/** What a preparation did: the report also written as `report.json`. */
export interface PrepareReport {
  readonly input: string;
  readonly format: string;
  readonly schemaInferred: boolean;
  readonly ingest: IngestReport;
  readonly split: {
    readonly seed: number;
    readonly fractions: SplitFractions;
    readonly rows: Record<SplitName, number>;
    readonly stratified: boolean;
  };
  readonly classes?: Record<SplitName, Record<string, number>>;
  readonly checks: CheckReport;
}

/** The result of {@link prepareDataset}. */
export interface PrepareResult {
  readonly output: string;
  readonly schema: DatasetSchema;
  readonly transform: FittedTransform;
  readonly report: PrepareReport;
  readonly outputs: readonly PreparedOutput[];
  readonly manifest: string;
}

const ROWS_PER_CHUNK = 4096;

/**
 * Prepares a dataset for training: reads `input` (CSV, JSON Lines, Parquet or IDX), validates it
 * against the schema (declared, or inferred and written out), applies each column's policy,
 * splits it (seeded, stratified by class), fits imputation, normalisation and one-hot encoding on
 * the training split only, runs the leakage and poisoning checks, and writes into `output` (a new
 * folder, complete or not at all): one tensor file per split (sealed when `seal` is given),
 * `schema.json`, `transform.json` (sealed too when sealing), `report.json` and a signed
 * `lineage.json`. Memory: the validated rows (4 bytes per feature value, 12 per row), an 8-byte
 * duplicate key per row, and while the checks run about 24 bytes more per row (docs/data.md,
 * "Memory").
 */
export async function prepareDataset(
  input: string,
  output: string,
  options: PrepareOptions,
): Promise<PrepareResult> {
  try {
    const result = await run(input, output, options);
    await options.audit?.sink.record({
      actor: options.audit.actor,
      action: 'data.prepare',
      outcome: 'ok',
      file: { path: join(result.output, 'lineage.json'), sha256: result.manifest },
      details: {
        input,
        rows: result.report.ingest.rowsKept,
        dropped: result.report.ingest.rowsDropped,
        sealed: options.seal !== undefined,
        schema_sha256: schemaDigest(result.schema),
      },
    });
    return result;
  } catch (error) {
    await options.audit?.sink
      .record({
        actor: options.audit.actor,
        action: 'data.prepare',
        outcome: 'error',
        code: isSealtrainError(error) ? error.code : 'ERR_INTERNAL',
        details: { input, output },
      })
      .catch(() => {});
    throw error;
  }
}

async function openInput(input: string, options: PrepareOptions): Promise<RecordSource> {
  return openRecordSource(input, options.read ?? {});
}

async function unchanged(path: string, before: { size: number; mtimeMs: number }): Promise<void> {
  const after = await stat(path);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new SealtrainError(
      'ERR_IO_CHANGED',
      `${path} changed while it was being prepared; nothing was written. Run again.`,
      {
        details: { path },
      },
    );
  }
}

async function run(input: string, output: string, options: PrepareOptions): Promise<PrepareResult> {
  await assertReplaceable(output, options.overwrite ?? false);
  // The recipients are tried before minutes of reading: an unknown key or a locked keyring fails now.
  if (options.seal !== undefined) await sealBuffer(new Uint8Array(0), options.seal);
  const inputs = [input, ...(options.read?.labels !== undefined ? [options.read.labels] : [])];
  // Stat first; hashed while the parse thread reads; checked unchanged (size and time) before the
  // output is committed, so a change at any point from here on is caught.
  const stamped = await Promise.all(inputs.map(async (path) => ({ path, stat: await stat(path) })));
  const hashing = Promise.all(stamped.map(async (s) => ({ ...s, ...(await hashPath(s.path)) })));
  hashing.catch(() => {});
  const inferred = options.schema === undefined;
  const schema = options.schema ?? (await inferSchema(await openInput(input, options), options.infer ?? {}));
  const source = await openInput(input, options);
  // The exact-duplicate keys are made while the parse thread reads, on this otherwise idle thread.
  const exactKeys = new ExactKeys(schema.columns.length - 1);
  const ingested = await ingest(source, schema, {
    ...(options.maxErrors !== undefined ? { maxErrors: options.maxErrors } : {}),
    onProgress: (done, total) => options.onProgress?.('read', done, total),
    onRows: (values, from, to) => exactKeys.add(values, from, to),
  });
  const hashed = await hashing;
  const { matrix, labels } = ingested;
  const labelSpec = schema.columns.find((c) => c.name === schema.label);
  const classification = labelSpec?.type === 'category';
  const classes = labelSpec?.categories ?? [];
  const fractions = options.fractions ?? DEFAULT_FRACTIONS;
  const seed = options.seed ?? 0;
  const split = stratifiedSplit(classification ? (labels as Int32Array) : null, matrix.rows, fractions, seed);
  let stats: readonly ColumnStats[] = [];
  const transform = fitTransform(schema, matrix, split, {
    imputedRows: ingested.imputedRows,
    onColumns: (fitted) => {
      stats = fitted.map((f) => f.stats);
    },
  });
  // The imputed cells are filled now: those rows are keyed again.
  exactKeys.redo(matrix.values, ingested.imputedRows);
  const checks = runChecks(
    {
      matrix,
      labels,
      split,
      classes: classification ? classes : undefined,
      sourceRows: ingested.sourceRows,
      stats,
      exactKeys: exactKeys.keys,
    },
    options.checks ?? {},
  );
  const failures = checkFailures(checks, options.checks ?? {});
  const rows = { train: 0, validation: 0, test: 0 } as Record<SplitName, number>;
  for (const s of split) if (s < 3) rows[SPLITS[s] as SplitName]++;
  const report: PrepareReport = {
    input,
    format: source.format,
    schemaInferred: inferred,
    ingest: ingested.report,
    split: { seed, fractions, rows, stratified: classification },
    ...(classification ? { classes: classCounts(labels as Int32Array, split, classes) } : {}),
    checks,
  };
  if (failures.length > 0) {
    throw new SealtrainError(
      'ERR_DATA_CHECK_FAILED',
      `The checks failed for ${input}: ${failures.join('; ')}. Nothing was written.`,
      {
        details: { input, failures },
      },
    );
  }
  return writeOutputDir(output, options.overwrite ?? false, async (dir) => {
    const outputs: PreparedOutput[] = [];
    for (const [code, name] of SPLITS.entries()) {
      if (rows[name] === 0) continue;
      outputs.push(
        await writeSplit(dir, name, code, rows[name], {
          matrix,
          labels,
          split,
          transform,
          classification,
          classes,
          schema,
          options,
        }),
      );
    }
    const sealed = options.seal !== undefined;
    outputs.push(
      await writeJson(dir, sealed ? 'transform.json.sealed' : 'transform.json', transform, options),
    );
    // An inferred schema lists the categories found in the data: sealed along with the data.
    outputs.push(
      await writeJson(
        dir,
        sealed && inferred ? 'schema.json.sealed' : 'schema.json',
        schema,
        sealed && inferred ? options : undefined,
      ),
    );
    outputs.push(await writeJson(dir, 'report.json', report, undefined));
    const manifest = await lineageManifest(
      hashed,
      resolve(output),
      schema,
      report,
      transform,
      outputs,
      source.format,
    );
    const text = `${JSON.stringify(signManifest(manifest, options.signingKey), null, 2)}\n`;
    const lineage = await fileSink(join(dir, 'lineage.json'));
    await lineage.sink(new TextEncoder().encode(text));
    await lineage.close();
    for (const h of hashed) await unchanged(h.path, h.stat);
    return {
      output,
      schema,
      transform,
      report,
      outputs: outputs.map((o) => ({ ...o, file: join(output, o.file) })),
      manifest: createHash('sha256').update(text).digest('hex'),
    };
  });
}

interface SplitContext {
  readonly matrix: RawMatrix;
  readonly labels: Int32Array | Float32Array;
  readonly split: Uint8Array;
  readonly transform: FittedTransform;
  readonly classification: boolean;
  readonly classes: readonly string[];
  readonly schema: DatasetSchema;
  readonly options: PrepareOptions;
}

/** A sink for `file`, sealed when sealing; `hashed`: the writer hashes every byte itself (tensor files). */
async function openSink(
  dir: string,
  file: string,
  options: PrepareOptions,
  hashed = false,
): Promise<OpenSink> {
  const path = join(dir, file);
  return options.seal === undefined
    ? fileSink(path, { hash: !hashed })
    : sealedSink(path, { ...options.seal, overwrite: false });
}

/** Closes `out` and describes the file; `written`: the plain file's hash when the writer made it. */
async function finishOutput(
  dir: string,
  file: string,
  out: OpenSink,
  extra: Partial<PreparedOutput>,
  written?: string,
): Promise<PreparedOutput> {
  const result = await out.close();
  if (!result.sealed) {
    const hash = result.sha256 ?? written;
    if (hash === undefined) throw new SealtrainError('ERR_INTERNAL', `${file} was written without a hash.`);
    return { file, sha256: hash, bytes: result.bytes, sealed: false, ...extra };
  }
  // The sealing engine wrote the file: its bytes on disk are hashed here, once.
  const { sha256, bytes } = await hashPath(join(dir, file));
  return {
    file,
    sha256,
    bytes,
    sealed: true,
    bodyDigest: result.bodyDigest,
    ...(written !== undefined ? { plaintextSha256: written } : {}),
    ...extra,
  };
}

async function writeSplit(
  dir: string,
  name: SplitName,
  code: number,
  rows: number,
  c: SplitContext,
): Promise<PreparedOutput> {
  const file = `${name}.tensor${c.options.seal ? '.sealed' : ''}`;
  const out = await openSink(dir, file, c.options, true);
  try {
    const width = c.transform.outputs.length;
    const writer = new TensorFileWriter(
      {
        tensors: [
          { name: 'features', dtype: 'float32', shape: [rows, width] },
          c.classification
            ? { name: 'labels', dtype: 'int32', shape: [rows] }
            : { name: 'labels', dtype: 'float32', shape: [rows, 1] },
        ],
        split: name,
        columns: c.transform.outputs,
        labelColumn: c.schema.label,
        ...(c.classification ? { classes: c.classes } : {}),
      },
      out.sink,
      { source: file },
    );
    const transform = rowTransformer(c.transform);
    // The writer copies each chunk before writeRows resolves: one chunk serves every call.
    const chunk = new Float32Array(ROWS_PER_CHUNK * width);
    let filled = 0;
    let written = 0;
    for (let r = 0; r < c.matrix.rows; r++) {
      if (c.split[r] !== code) continue;
      transform(c.matrix.values, r, chunk, filled * width);
      if (++filled === ROWS_PER_CHUNK) {
        await writer.writeRows('features', chunk);
        written += filled;
        filled = 0;
        c.options.onProgress?.('write', written, rows);
      }
    }
    if (filled > 0) await writer.writeRows('features', chunk.subarray(0, filled * width));
    const labels = c.classification ? new Int32Array(rows) : new Float32Array(rows);
    let i = 0;
    for (let r = 0; r < c.matrix.rows; r++) if (c.split[r] === code) labels[i++] = c.labels[r] as number;
    await writer.writeRows('labels', labels);
    // The writer's hash of every byte it wrote is the plain file's SHA-256.
    const summary = await writer.finish();
    return await finishOutput(dir, file, out, { split: name, rows }, summary.sha256);
  } catch (error) {
    await out.abort();
    throw error;
  }
}

async function writeJson(
  dir: string,
  file: string,
  value: unknown,
  options: PrepareOptions | undefined,
): Promise<PreparedOutput> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  const out = options === undefined ? await fileSink(join(dir, file)) : await openSink(dir, file, options);
  try {
    await out.sink(bytes);
    // A sealed JSON output's plaintext digest is signed too: a run checks what it decrypts.
    const plaintext = options === undefined ? undefined : createHash('sha256').update(bytes).digest('hex');
    return await finishOutput(dir, file, out, {}, plaintext);
  } catch (error) {
    await out.abort();
    throw error;
  }
}

async function lineageManifest(
  inputs: readonly { path: string; sha256: string; bytes: number; stat: { mtime: Date } }[],
  outputDir: string,
  schema: DatasetSchema,
  report: PrepareReport,
  transform: FittedTransform,
  outputs: readonly PreparedOutput[],
  format: string,
): Promise<UnsignedLineageManifest> {
  // Paths relative to the manifest's folder, as `lineage verify` resolves them.
  const hashed = inputs.map((i) => ({
    path: relative(outputDir, resolve(i.path)),
    format,
    sha256: i.sha256,
    bytes: i.bytes,
    modified: i.stat.mtime.toISOString(),
  }));
  const finite = Object.fromEntries(
    Object.entries(report.checks.summary).filter(([, v]) => Number.isFinite(v)),
  );
  return {
    version: 1,
    tool: await lineageTool(),
    createdAt: new Date().toISOString(),
    inputs: hashed,
    schema: { sha256: schemaDigest(schema), inferred: report.schemaInferred },
    rows: {
      read: report.ingest.rowsRead,
      problems: report.ingest.readerProblems,
      dropped: report.ingest.rowsDropped,
      imputedCells: report.ingest.cellsImputed,
      kept: report.ingest.rowsKept,
      ...Object.fromEntries(Object.entries(report.split.rows).map(([k, v]) => [`split_${k}`, v])),
    },
    transforms: {
      sha256: createHash('sha256').update(canonicalJson(transform)).digest('hex'),
      features: transform.outputs.length,
    },
    split: {
      seed: report.split.seed,
      fractions: { ...report.split.fractions },
      stratifiedBy: report.split.stratified ? schema.label : null,
    },
    outputs: outputs.map((o) => ({
      path: o.file,
      sha256: o.sha256,
      bytes: o.bytes,
      sealed: o.sealed,
      ...(o.plaintextSha256 ? { plaintextSha256: o.plaintextSha256 } : {}),
      ...(o.split ? { split: o.split } : {}),
    })),
    checks: finite,
  };
}
