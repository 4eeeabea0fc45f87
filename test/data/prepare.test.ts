import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertLineageValid,
  type DatasetSchema,
  type DatasetSchemaInput,
  DEFAULT_FRACTIONS,
  type FittedTransform,
  type PrepareOptions,
  type PrepareResult,
  parseDatasetSchema,
  prepareDataset,
  readTensorFileFromPath,
  SPLITS,
  type SplitName,
  stratifiedSplit,
  TENSOR_FILE_MAGIC,
  transformRecord,
  verifyManifest,
} from '../../src/data/index.js';
import { LocalKeyring } from '../../src/kms/index.js';
import { unsealFile } from '../../src/seal/index.js';
import { rejectsWith } from '../helpers/rejects.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const WDBC = here('../../examples/wdbc.csv');
const WDBC_SCHEMA = here('./fixtures/prepare/wdbc.schema.json');
const GOLDEN = here('./fixtures/prepare/wdbc.golden.json');
const FMNIST = '/usr/share/datasets/fashion-mnist';
const SEED = 7;

const { privateKey: signingKey, publicKey } = generateKeyPairSync('ed25519');
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sealtrain-prepare-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Helpers: a plain CSV (no quotes), tensor files, column statistics computed here, not in src.

interface Csv {
  readonly header: string[];
  readonly rows: string[][];
}

async function readCsv(path: string): Promise<Csv> {
  const [head = '', ...lines] = (await readFile(path, 'utf8')).trimEnd().split('\n');
  return { header: head.split(','), rows: lines.map((l) => l.split(',')) };
}

async function writeCsv(path: string, csv: Csv): Promise<string> {
  await writeFile(path, `${[csv.header, ...csv.rows].map((r) => r.join(',')).join('\n')}\n`);
  return path;
}

function records(csv: Csv): Record<string, string>[] {
  return csv.rows.map((r) => Object.fromEntries(csv.header.map((h, i) => [h, r[i] ?? ''])));
}

interface Loaded {
  readonly rows: number;
  readonly width: number;
  readonly columns: readonly string[];
  readonly x: Float32Array;
  readonly labels: Int32Array;
}

async function loadTensor(path: string): Promise<Loaded> {
  const file = await readTensorFileFromPath(path);
  const features = file.tensors.get('features');
  const labels = file.tensors.get('labels');
  if (features === undefined || labels === undefined) throw new Error(`${path} lacks features or labels`);
  const [rows = 0, width = 0] = features.shape;
  return {
    rows,
    width,
    columns: file.header.columns,
    x: features.data as Float32Array,
    labels: labels.data as Int32Array,
  };
}

function column(t: Loaded, name: string): Float64Array {
  const j = t.columns.indexOf(name);
  if (j < 0) throw new Error(`no output column ${name}`);
  return Float64Array.from({ length: t.rows }, (_, r) => t.x[r * t.width + j] as number);
}

function row(t: Loaded, r: number): Float32Array {
  return t.x.slice(r * t.width, (r + 1) * t.width);
}

function meanStd(v: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  const mean = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += ((v[i] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (v.length - 1)) };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function featureOf(t: FittedTransform, name: string) {
  const f = t.features.find((x) => x.column === name);
  if (f === undefined) throw new Error(`no fitted feature ${name}`);
  return f;
}

async function expectNothingWritten(output: string): Promise<void> {
  expect(existsSync(output), `${output} must not exist`).toBe(false);
  const leftovers = (await readdir(dirname(output))).filter((n) => n.startsWith(`.${basename(output)}.`));
  expect(leftovers, 'no .partial-* folder is left behind').toEqual([]);
}

let runs = 0;
/** Runs prepareDataset into a fresh folder under the temp dir. */
function prepare(
  input: string,
  options: Omit<PrepareOptions, 'signingKey'>,
  name = `out-${++runs}`,
): Promise<PrepareResult> {
  return prepareDataset(input, join(tmp, name), { signingKey, ...options });
}

async function wdbcSchema(): Promise<DatasetSchema> {
  return parseDatasetSchema(JSON.parse(await readFile(WDBC_SCHEMA, 'utf8')), WDBC_SCHEMA);
}

/** The split each CSV row of WDBC gets, reproduced from the labels (B = 0, M = 1) and the seed. */
function wdbcSplit(csv: Csv, seed = SEED): Uint8Array {
  const at = csv.header.indexOf('diagnosis');
  const labels = Int32Array.from(csv.rows, (r) => ['B', 'M'].indexOf(r[at] ?? ''));
  return stratifiedSplit(labels, csv.rows.length, DEFAULT_FRACTIONS, seed);
}

// ---------------------------------------------------------------------------------------------
// A small generated dataset: id (kept raw, so every output row says which input row it is),
// a (z-scored), b (min-max), color (one-hot, categories deliberately not in sorted order), y.

const COLORS = ['red', 'green', 'blue'] as const;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function synthetic(n = 200, seed = 1): Csv {
  const rand = mulberry32(seed);
  const rows = Array.from({ length: n }, (_, i) => [
    String(i + 1),
    (rand() * 100).toFixed(3),
    (rand() * 10).toFixed(2),
    COLORS[Math.floor(rand() * 3)] as string,
    rand() < 0.4 ? 'yes' : 'no',
  ]);
  return { header: ['id', 'a', 'b', 'color', 'y'], rows };
}

type ColumnInput = DatasetSchemaInput['columns'][number];

function syntheticSchema(a: Partial<ColumnInput> = {}): DatasetSchema {
  return parseDatasetSchema({
    version: 1,
    label: 'y',
    columns: [
      { name: 'id', type: 'integer', normalize: 'none' },
      { name: 'a', type: 'number', min: 0, normalize: 'zscore', ...a },
      { name: 'b', type: 'number', normalize: 'minmax' },
      { name: 'color', type: 'category', categories: [...COLORS] },
      { name: 'y', type: 'category', categories: ['no', 'yes'] },
    ],
  });
}

/** Sets column `name` of data row `r` (from 1) to `value`. */
function setCell(csv: Csv, r: number, name: string, value: string): void {
  (csv.rows[r - 1] as string[])[csv.header.indexOf(name)] = value;
}

// ---------------------------------------------------------------------------------------------

describe('prepareDataset on WDBC (checked-in schema, seed 7)', () => {
  let csv: Csv;
  let result: PrepareResult;
  let out = '';
  let split: Uint8Array;
  const tensors = {} as Record<SplitName, Loaded>;

  beforeAll(async () => {
    csv = await readCsv(WDBC);
    split = wdbcSplit(csv);
    out = join(tmp, 'wdbc');
    result = await prepareDataset(WDBC, out, { schema: await wdbcSchema(), seed: SEED, signingKey });
    for (const s of SPLITS) tensors[s] = await loadTensor(join(out, `${s}.tensor`));
  });

  it('writes the expected files and nothing else', async () => {
    expect((await readdir(out)).sort()).toEqual([
      'lineage.json',
      'report.json',
      'schema.json',
      'test.tensor',
      'train.tensor',
      'transform.json',
      'validation.tensor',
    ]);
    expect(result.report.ingest).toMatchObject({
      rowsRead: 569,
      rowsKept: 569,
      rowsDropped: 0,
      errorCount: 0,
    });
  });

  it('stratifies: each class keeps its share in every split, to within one row', () => {
    const at = csv.header.indexOf('diagnosis');
    const perClass = { B: 0, M: 0 } as Record<string, number>;
    for (const r of csv.rows) perClass[r[at] as string] = (perClass[r[at] as string] ?? 0) + 1;
    expect(perClass).toEqual({ B: 357, M: 212 });
    let total = 0;
    for (const s of SPLITS) {
      const t = tensors[s];
      // Count the classes in the tensor file itself, not only in the report.
      const counted = { B: 0, M: 0 } as Record<string, number>;
      for (const l of t.labels) {
        const c = ['B', 'M'][l] as string;
        counted[c] = (counted[c] ?? 0) + 1;
      }
      expect(result.report.classes?.[s]).toEqual(counted);
      expect(t.rows).toBe(result.report.split.rows[s]);
      for (const c of ['B', 'M']) {
        const want = (perClass[c] as number) * DEFAULT_FRACTIONS[s];
        expect(Math.abs((counted[c] as number) - want), `${s}/${c}`).toBeLessThanOrEqual(1);
      }
      total += t.rows;
    }
    expect(total).toBe(569);
  });

  it('matches the golden split counts and tensor file hashes (same bytes on every run and machine)', async () => {
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as {
      input: { sha256: string };
      schema: { sha256: string };
      seed: number;
      rows: Record<SplitName, number>;
      classes: Record<SplitName, Record<string, number>>;
      files: Record<string, { sha256: string; bytes: number }>;
    };
    // The fixture was made from these exact inputs; if they changed, regenerate it (make-golden.mjs).
    expect(sha(await readFile(WDBC)), 'examples/wdbc.csv changed').toBe(golden.input.sha256);
    expect(sha(await readFile(WDBC_SCHEMA)), 'wdbc.schema.json changed').toBe(golden.schema.sha256);
    expect(golden.seed).toBe(SEED);
    expect(result.report.split.rows).toEqual(golden.rows);
    expect(result.report.classes).toEqual(golden.classes);
    const again = await prepare(WDBC, { schema: await wdbcSchema(), seed: SEED });
    for (const [file, want] of Object.entries(golden.files)) {
      const bytes = await readFile(join(out, file));
      expect({ file, sha256: sha(bytes), bytes: bytes.length }).toEqual({ file, ...want });
      expect(sha(await readFile(join(again.output, file))), `${file} on a second run`).toBe(want.sha256);
      const reported = result.outputs.find((o) => basename(o.file) === file);
      expect(reported?.sha256).toBe(want.sha256);
    }
  });

  it('fits the z-score on the training rows only (checked against statistics computed here)', () => {
    // The train rows as this test reproduces them: their label counts must equal the report's.
    const trainRows = csv.rows.filter((_, i) => split[i] === 0);
    expect(trainRows.length).toBe(result.report.split.rows.train);
    for (const name of ['radius_mean', 'area_worst']) {
      const at = csv.header.indexOf(name);
      // The pipeline holds values as float32, as the tensor file does.
      const train = trainRows.map((r) => Math.fround(Number(r[at])));
      const all = csv.rows.map((r) => Math.fround(Number(r[at])));
      const want = meanStd(train);
      const f = featureOf(result.transform, name);
      expect(f.kind).toBe('zscore');
      if (f.kind !== 'zscore') return;
      expect(f.mean).toBeCloseTo(want.mean, 9);
      expect(f.std).toBeCloseTo(want.std, 9);
      // The statistics of all rows differ: fitting on everything would be caught here.
      expect(Math.abs(meanStd(all).mean - f.mean)).toBeGreaterThan(1e-3);
      // Every train row of the tensor file is (x − mean) / std of its CSV row, in file order.
      const z = column(tensors.train, name);
      train.forEach((x, k) => {
        expect(z[k]).toBeCloseTo((x - want.mean) / want.std, 5);
      });
    }
  });

  it('gives the training features mean 0 and sample std 1; validation and test are not re-centred', () => {
    for (const name of tensors.train.columns) {
      const { mean, std } = meanStd(column(tensors.train, name));
      expect(Math.abs(mean), name).toBeLessThan(1e-5);
      expect(Math.abs(std - 1), name).toBeLessThan(1e-5);
    }
    for (const s of ['validation', 'test'] as const) {
      const means = tensors[s].columns.map((n) => Math.abs(meanStd(column(tensors[s], n)).mean));
      // Fitted per split (or on all rows), each split's means would all be ~0.
      expect(Math.max(...means), s).toBeGreaterThan(0.05);
      expect(means.filter((m) => m < 1e-6).length, s).toBe(0);
    }
  });

  it('transform.json on disk is the fitted transform, and transformRecord reproduces every tensor row', async () => {
    const onDisk = JSON.parse(await readFile(join(out, 'transform.json'), 'utf8')) as FittedTransform;
    const schemaOnDisk = parseDatasetSchema(JSON.parse(await readFile(join(out, 'schema.json'), 'utf8')));
    expect(onDisk).toEqual(result.transform);
    const recs = records(csv);
    const next = { train: 0, validation: 0, test: 0 } as Record<SplitName, number>;
    recs.forEach((rec, i) => {
      const s = SPLITS[split[i] as number] as SplitName;
      const k = next[s]++;
      const served = transformRecord(onDisk, schemaOnDisk, rec);
      expect(served, `CSV row ${i + 1} (${s} row ${k})`).toEqual(row(tensors[s], k));
    });
    for (const s of SPLITS) expect(next[s]).toBe(tensors[s].rows);
  });

  it('signs a lineage manifest that verifies, records the input hash, and names a flipped byte', async () => {
    const manifestPath = join(out, 'lineage.json');
    const manifestText = await readFile(manifestPath, 'utf8');
    expect(sha(manifestText)).toBe(result.manifest);
    const manifest = JSON.parse(manifestText) as {
      inputs: { path: string; sha256: string; bytes: number }[];
      outputs: { path: string; sha256: string }[];
    };
    const input = await readFile(WDBC);
    expect(manifest.inputs).toHaveLength(1);
    expect(manifest.inputs[0]).toMatchObject({ sha256: sha(input), bytes: input.length });
    expect(resolve(out, manifest.inputs[0]?.path ?? '')).toBe(resolve(WDBC));
    for (const o of manifest.outputs) expect(o.sha256, o.path).toBe(sha(await readFile(join(out, o.path))));
    const ok = await verifyManifest(manifestPath, { publicKey });
    expect(ok.failures).toEqual([]);
    expect(ok.ok).toBe(true);

    // Tamper with a copy (same depth, so the input's relative path still resolves).
    const copy = join(tmp, 'wdbc-tampered');
    await cp(out, copy, { recursive: true });
    const target = join(copy, 'test.tensor');
    const bytes = await readFile(target);
    const at = bytes.length >> 1;
    bytes[at] = (bytes[at] as number) ^ 0x01;
    await writeFile(target, bytes);
    const bad = await verifyManifest(join(copy, 'lineage.json'), { publicKey });
    expect(bad.ok).toBe(false);
    expect(bad.signature).toBe('valid');
    expect(bad.failures).toHaveLength(1);
    expect(bad.failures[0]).toContain('test.tensor');
    expect(bad.files.filter((f) => f.status !== 'ok').map((f) => [f.path, f.status])).toEqual([
      ['test.tensor', 'changed'],
    ]);
    const error = (() => {
      try {
        assertLineageValid(bad);
      } catch (e) {
        return e as { code?: string; message: string };
      }
      return undefined;
    })();
    expect(error?.code).toBe('ERR_LINEAGE_INVALID');
    expect(error?.message).toContain('test.tensor');
  });

  it('does not leak: changing a test-split row leaves transform.json byte-identical', async () => {
    const testRow = split.indexOf(2);
    const trainRow = split.indexOf(0);
    expect(testRow).toBeGreaterThanOrEqual(0);
    const schema = await wdbcSchema();
    const scaled = (r: number): Csv => ({
      header: csv.header,
      rows: csv.rows.map((cells, i) =>
        i === r ? cells.map((v, j) => (csv.header[j] === 'diagnosis' ? v : String(Number(v) * 10))) : cells,
      ),
    });
    const base = await readFile(join(out, 'transform.json'));
    const changedTest = await prepare(await writeCsv(join(tmp, 'wdbc-test-row.csv'), scaled(testRow)), {
      schema,
      seed: SEED,
    });
    expect(sha(await readFile(join(changedTest.output, 'transform.json')))).toBe(sha(base));
    // The change did reach the output (the test tensor differs), so the comparison means something.
    expect(sha(await readFile(join(changedTest.output, 'test.tensor')))).not.toBe(
      sha(await readFile(join(out, 'test.tensor'))),
    );
    // Control: the same change to a training row does change the fitted transform.
    const changedTrain = await prepare(await writeCsv(join(tmp, 'wdbc-train-row.csv'), scaled(trainRow)), {
      schema,
      seed: SEED,
    });
    expect(sha(await readFile(join(changedTrain.output, 'transform.json')))).not.toBe(sha(base));
  });
});

describe('prepareDataset: missing and invalid values', () => {
  // Rows (from 1) whose "a" is missing, spread so that some land in train and some do not.
  const MISSING = [3, 17, 50, 120, 181];
  let csv: Csv;
  let input = '';

  beforeAll(async () => {
    csv = synthetic();
    for (const r of MISSING) setCell(csv, r, 'a', '');
    input = await writeCsv(join(tmp, 'missing.csv'), csv);
  });

  it('impute: median imputes the training median, in every split, and inference does the same', async () => {
    const schema = syntheticSchema({ missing: 'impute', impute: 'median' });
    const result = await prepare(input, { schema, seed: 3 });
    expect(result.report.ingest).toMatchObject({ rowsKept: 200, rowsDropped: 0, cellsImputed: 5 });
    expect(result.report.ingest.columns.a).toMatchObject({ missing: 5, imputed: 5, dropped: 0 });
    const t = {} as Record<SplitName, Loaded>;
    for (const s of SPLITS) t[s] = await loadTensor(join(result.output, `${s}.tensor`));
    const trainIds = new Set(column(t.train, 'id'));
    // Precondition: the missing rows are in train and outside it.
    expect(MISSING.some((r) => trainIds.has(r))).toBe(true);
    expect(MISSING.some((r) => !trainIds.has(r))).toBe(true);
    const aAt = csv.header.indexOf('a');
    const present = csv.rows.filter((r) => r[aAt] !== '');
    const trainMedian = median(
      present.filter((r) => trainIds.has(Number(r[0]))).map((r) => Math.fround(Number(r[aAt]))),
    );
    const allMedian = median(present.map((r) => Math.fround(Number(r[aAt]))));
    expect(trainMedian).not.toBeCloseTo(allMedian, 6);
    const a = featureOf(result.transform, 'a');
    expect(a.impute).toBeCloseTo(trainMedian, 9);
    if (a.kind !== 'zscore') throw new Error('a is z-scored');
    // Each imputed cell, in every split, holds the training median (undo the z-score to see it).
    let seen = 0;
    for (const s of SPLITS) {
      const ids = column(t[s], 'id');
      const z = column(t[s], 'a');
      ids.forEach((id, k) => {
        if (!MISSING.includes(id)) return;
        seen++;
        expect((z[k] as number) * a.std + a.mean, `row ${id} in ${s}`).toBeCloseTo(trainMedian, 3);
      });
    }
    expect(seen).toBe(MISSING.length);
    // Inference: a record with the value missing gets the same imputation and the same features.
    const recs = records(csv);
    for (const s of SPLITS) {
      column(t[s], 'id').forEach((id, k) => {
        expect(transformRecord(result.transform, schema, recs[id - 1] ?? {}), `row ${id}`).toEqual(
          row(t[s], k),
        );
      });
    }
  });

  it('drop: leaves out exactly the rows with a missing value and counts them', async () => {
    const result = await prepare(input, { schema: syntheticSchema({ missing: 'drop' }), seed: 3 });
    expect(result.report.ingest).toMatchObject({
      rowsRead: 200,
      rowsKept: 195,
      rowsDropped: 5,
      cellsImputed: 0,
    });
    expect(result.report.ingest.columns.a).toMatchObject({ missing: 5, dropped: 5, imputed: 0 });
    const ids: number[] = [];
    for (const s of SPLITS) ids.push(...column(await loadTensor(join(result.output, `${s}.tensor`)), 'id'));
    const want = Array.from({ length: 200 }, (_, i) => i + 1).filter((r) => !MISSING.includes(r));
    expect(ids.sort((x, y) => x - y)).toEqual(want);
  });

  it('fail: fails with ERR_DATA_INVALID naming the file, each row and the column, and writes nothing', async () => {
    const output = join(tmp, 'fail-out');
    const error = await rejectsWith(
      prepareDataset(input, output, { schema: syntheticSchema({ missing: 'fail' }), signingKey }),
      'ERR_DATA_INVALID',
    );
    expect(error.message).toContain(input);
    for (const r of MISSING) expect(error.message).toContain(`row ${r} (line ${r + 1}), column "a"`);
    expect(error.message).toMatch(/has 5 errors/);
    expect(error.details.errors).toHaveLength(5);
    await expectNothingWritten(output);
  });

  it('maxErrors: 3 reports exactly the first 3 of 5 bad rows and writes nothing', async () => {
    const bad = synthetic();
    setCell(bad, 4, 'a', '');
    setCell(bad, 9, 'a', 'twelve');
    setCell(bad, 30, 'a', '-5'); // below min 0
    setCell(bad, 61, 'b', 'NaN');
    setCell(bad, 90, 'y', 'maybe');
    const path = await writeCsv(join(tmp, 'five-bad.csv'), bad);
    const output = join(tmp, 'five-bad-out');
    const options = { schema: syntheticSchema(), signingKey };
    const all = await rejectsWith(prepareDataset(path, output, options), 'ERR_DATA_INVALID');
    expect(all.details.errors).toHaveLength(5);
    const error = await rejectsWith(
      prepareDataset(path, output, { ...options, maxErrors: 3 }),
      'ERR_DATA_INVALID',
    );
    expect(error.details.errors).toHaveLength(3);
    expect(error.message).toMatch(/has 3 errors/);
    expect(error.message).toContain('row 4 (line 5), column "a"');
    expect(error.message).toContain('row 9 (line 10), column "a"');
    expect(error.message).toContain('row 30 (line 31), column "a"');
    expect(error.message).not.toContain('row 61');
    expect(error.message).not.toContain('row 90');
    await expectNothingWritten(output);
  });
});

describe('prepareDataset: one-hot encoding', () => {
  it('expands a category into one column per category, in schema order, with exactly one 1 per row', async () => {
    const csv = synthetic(150, 5);
    const input = await writeCsv(join(tmp, 'onehot.csv'), csv);
    const result = await prepare(input, { schema: syntheticSchema(), seed: 1 });
    const names = COLORS.map((c) => `color=${c}`);
    expect(result.transform.outputs).toEqual(['id', 'a', 'b', ...names]);
    const colorAt = csv.header.indexOf('color');
    let rows = 0;
    for (const s of SPLITS) {
      const t = await loadTensor(join(result.output, `${s}.tensor`));
      expect(t.columns).toEqual(result.transform.outputs);
      const ids = column(t, 'id');
      const hot = names.map((n) => column(t, n));
      ids.forEach((id, k) => {
        const values = hot.map((h) => h[k]);
        expect(values.every((v) => v === 0 || v === 1)).toBe(true);
        expect(values.filter((v) => v === 1)).toHaveLength(1);
        const color = csv.rows[id - 1]?.[colorAt] as (typeof COLORS)[number];
        expect(values.indexOf(1), `row ${id} is ${color}`).toBe(COLORS.indexOf(color));
        rows++;
      });
    }
    expect(rows).toBe(150);
  });
});

describe('prepareDataset: sealed output', () => {
  let providers: LocalKeyring[] = [];
  let schema: DatasetSchema;
  beforeAll(async () => {
    const ring = await LocalKeyring.init(join(tmp, 'keyring'), Buffer.from('prepare-test-passphrase'), {
      scryptCost: 1024,
    });
    await ring.create('x');
    providers = [ring];
    schema = await wdbcSchema();
  });

  it('writes only sealed tensor files and transform, which unseal to the plain run’s bytes', async () => {
    const plain = await prepare(WDBC, { schema, seed: SEED });
    const sealed = await prepare(WDBC, { schema, seed: SEED, seal: { recipients: ['local:x'], providers } });
    const files = (await readdir(sealed.output)).sort();
    expect(files).toEqual([
      'lineage.json',
      'report.json',
      'schema.json',
      'test.tensor.sealed',
      'train.tensor.sealed',
      'transform.json.sealed',
      'validation.tensor.sealed',
    ]);
    expect(sealed.outputs.filter((o) => o.split !== undefined).every((o) => o.sealed)).toBe(true);
    // No file in the folder is a plaintext tensor file.
    for (const f of files) {
      const head = (await readFile(join(sealed.output, f))).subarray(0, TENSOR_FILE_MAGIC.length);
      expect(Buffer.compare(head, TENSOR_FILE_MAGIC), f).not.toBe(0);
    }
    for (const f of ['train.tensor', 'validation.tensor', 'test.tensor', 'transform.json']) {
      const back = join(tmp, `unsealed-${f}`);
      await unsealFile(join(sealed.output, `${f}.sealed`), back, { providers });
      expect(sha(await readFile(back)), f).toBe(sha(await readFile(join(plain.output, f))));
    }
    const verified = await verifyManifest(join(sealed.output, 'lineage.json'), { publicKey });
    expect(verified.failures).toEqual([]);
  });

  it('refuses a key the keyring lacks before reading anything, and leaves no folder', async () => {
    const output = join(tmp, 'sealed-unknown-key');
    const phases: string[] = [];
    await rejectsWith(
      prepareDataset(WDBC, output, {
        schema,
        seed: SEED,
        signingKey,
        seal: { recipients: ['local:nobody'], providers },
        onProgress: (phase) => phases.push(phase),
      }),
      'ERR_KMS_KEY_NOT_FOUND',
    );
    expect(phases).toEqual([]);
    await expectNothingWritten(output);
  });
});

describe('prepareDataset: leakage and poisoning checks', () => {
  let csv: Csv;
  beforeAll(async () => {
    csv = await readCsv(WDBC);
  });

  it('reports planted duplicates across train and test, and fails on them with failOn duplicates', async () => {
    const COPIES = 30;
    const planted: Csv = {
      header: csv.header,
      rows: [...csv.rows, ...Array.from({ length: COPIES }, () => [...(csv.rows[0] as string[])])],
    };
    const input = await writeCsv(join(tmp, 'duplicates.csv'), planted);
    // Where the copies of row 1 land (rows 1 and 570…599), reproduced from the labels and seed.
    const split = wdbcSplit(planted);
    const group = [0, ...Array.from({ length: COPIES }, (_, k) => 569 + k)];
    const inSplit = (s: number) => group.filter((i) => split[i] === s).length;
    expect(inSplit(0)).toBeGreaterThan(0);
    expect(inSplit(2)).toBeGreaterThan(0);
    const schema = await wdbcSchema();
    const result = await prepare(input, { schema, seed: SEED });
    const d = result.report.checks.duplicates;
    expect(d.across['train-test']).toMatchObject({
      groups: 1,
      firstRows: inSplit(0),
      secondRows: inSplit(2),
    });
    const groupRows = new Set(group.map((i) => i + 1));
    for (const [a, b] of d.across['train-test'].examples) {
      expect(groupRows.has(a) && groupRows.has(b)).toBe(true);
    }
    expect(d.within.train.duplicateRows).toBe(inSplit(0) - 1);
    expect(result.report.checks.summary.duplicate_groups_across_splits).toBe(
      (inSplit(0) && inSplit(1) ? 1 : 0) + 1 + (inSplit(1) && inSplit(2) ? 1 : 0),
    );

    const output = join(tmp, 'duplicates-fail');
    const error = await rejectsWith(
      prepareDataset(input, output, { schema, seed: SEED, signingKey, checks: { failOn: ['duplicates'] } }),
      'ERR_DATA_CHECK_FAILED',
    );
    expect(error.message).toContain('identical rows');
    await expectNothingWritten(output);
    // The same check passes on the clean data.
    const clean = await prepare(WDBC, { schema, seed: SEED, checks: { failOn: ['duplicates'] } });
    expect(clean.report.checks.summary.duplicate_groups_across_splits).toBe(0);
  });

  it('fails on label drift from a distant reference and passes for a matching one', async () => {
    const schema = await wdbcSchema();
    const output = join(tmp, 'drift-fail');
    const error = await rejectsWith(
      prepareDataset(WDBC, output, {
        schema,
        seed: SEED,
        signingKey,
        checks: { failOn: ['drift'], reference: { B: 5, M: 995 } },
      }),
      'ERR_DATA_CHECK_FAILED',
    );
    expect(error.message).toContain('drift');
    await expectNothingWritten(output);
    const ok = await prepare(WDBC, {
      schema,
      seed: SEED,
      checks: { failOn: ['drift'], reference: { B: 357, M: 212 } },
    });
    expect(ok.report.checks.drift?.pValue).toBeGreaterThan(0.5);
    expect(ok.report.checks.drift?.totalVariation).toBeLessThan(0.01);
    // Asked for drift without a reference: that is a failure, not a silent pass.
    await rejectsWith(
      prepareDataset(WDBC, join(tmp, 'drift-none'), {
        schema,
        seed: SEED,
        signingKey,
        checks: { failOn: ['drift'] },
      }),
      'ERR_DATA_CHECK_FAILED',
    );
  });

  it('counts an extreme value as an outlier (and only it)', async () => {
    const schema = syntheticSchema();
    const clean = synthetic();
    const base = await prepare(await writeCsv(join(tmp, 'outlier-clean.csv'), clean), { schema, seed: 2 });
    expect(base.report.checks.outliers.rowsWithOutliers).toBe(0);
    setCell(clean, 42, 'b', '1000000');
    const input = await writeCsv(join(tmp, 'outlier.csv'), clean);
    const result = await prepare(input, { schema, seed: 2 });
    const o = result.report.checks.outliers;
    expect(o.rowsWithOutliers).toBe(1);
    expect(o.examples).toEqual([42]);
    expect(o.perColumn[o.columns.indexOf('b')]).toBe(1);
    expect(result.report.checks.summary.rows_with_outliers).toBe(1);
    const output = join(tmp, 'outlier-fail');
    const error = await rejectsWith(
      prepareDataset(input, output, { schema, seed: 2, signingKey, checks: { failOn: ['outliers'] } }),
      'ERR_DATA_CHECK_FAILED',
    );
    expect(error.message).toContain('row 42');
    await expectNothingWritten(output);
  });
});

describe('prepareDataset: Fashion-MNIST test set from IDX with an inferred schema', () => {
  it('prepares 10,000 images of 784 pixels in 10 classes, stratified', async () => {
    const images = join(FMNIST, 't10k-images-idx3-ubyte.gz');
    const labelsPath = join(FMNIST, 't10k-labels-idx1-ubyte.gz');
    const result = await prepare(images, { read: { labels: labelsPath }, infer: { label: 'label' } });
    expect(result.report.schemaInferred).toBe(true);
    expect(result.report.format).toBe('idx');
    expect(result.report.ingest.rowsKept).toBe(10_000);
    expect(result.transform.outputs).toHaveLength(784);
    const label = result.schema.columns.find((c) => c.name === 'label');
    expect(label?.categories).toHaveLength(10);
    // Class counts from the labels file itself (IDX1: 8-byte header, then one byte per label).
    const raw = gunzipSync(await readFile(labelsPath)).subarray(8);
    expect(raw.length).toBe(10_000);
    const perClass = new Map<string, number>();
    for (const l of raw) perClass.set(String(l), (perClass.get(String(l)) ?? 0) + 1);
    const train = await loadTensor(join(result.output, 'train.tensor'));
    expect([train.rows, train.width]).toEqual([result.report.split.rows.train, 784]);
    let rows = 0;
    for (const s of SPLITS) {
      rows += result.report.split.rows[s];
      for (const [c, n] of perClass) {
        expect(
          Math.abs((result.report.classes?.[s]?.[c] ?? -9) - n * DEFAULT_FRACTIONS[s]),
        ).toBeLessThanOrEqual(1);
      }
    }
    expect(rows).toBe(10_000);
    expect(await readFile(join(result.output, 'schema.json'), 'utf8')).toContain('"pixel_783"');
  });
});
