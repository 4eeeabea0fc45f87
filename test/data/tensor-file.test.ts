import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readTensorFile,
  readTensorFileFromPath,
  type TensorData,
  type TensorDtype,
  type TensorFileDescription,
  type TensorFileHeader,
  TensorFileWriter,
  tensorFileDigest,
} from '../../src/data/tensor-file.js';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';
import { rejectsWith } from '../helpers/rejects.js';

type Write = readonly [name: string, data: TensorData];

/** Writes a file through a collecting sink; returns its bytes and the writer's summary. */
async function writeAll(description: TensorFileDescription, writes: readonly Write[]) {
  const chunks: Uint8Array[] = [];
  const writer = new TensorFileWriter(description, async (chunk) => {
    chunks.push(chunk);
  });
  for (const [name, data] of writes) await writer.writeRows(name, data);
  const summary = await writer.finish();
  return { bytes: new Uint8Array(Buffer.concat(chunks)), summary };
}

/** The error `run` throws; fails the test when it returns. */
function thrown(run: () => unknown): SealtrainError {
  try {
    run();
  } catch (error) {
    if (isSealtrainError(error)) return error;
    throw error;
  }
  throw new Error('expected an error, but the call succeeded');
}

/** The description a header was written from. */
function describeHeader(h: TensorFileHeader): TensorFileDescription {
  const { version: _v, rowOrder: _r, tensors, ...rest } = h;
  return { ...rest, tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })) };
}

const bytesOf = (d: TensorData): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

const small: TensorFileDescription = {
  split: 'train',
  columns: ['a', 'b'],
  labelColumn: 'y',
  classes: ['no', 'yes'],
  tensors: [
    { name: 'features', dtype: 'float32', shape: [3, 2] },
    { name: 'labels', dtype: 'int32', shape: [3] },
  ],
};
const smallFeatures = Float32Array.of(1, 2, 3, 4, 5, 6);
const smallLabels = Int32Array.of(0, 1, 1);

interface Vector {
  name: string;
  description: string;
  expect: string;
  reason?: string;
  sha256: string;
  header?: TensorFileHeader;
  tensors?: { name: string; dtype: TensorDtype; shape: number[]; values: number[] }[];
}

const DIR = new URL('../vectors/tensor/files/', import.meta.url);
const names = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
const vectors: Vector[] = await Promise.all(
  names.map(async (f) => JSON.parse(await readFile(new URL(f, DIR), 'utf8')) as Vector),
);

describe('tensor-file v1 test vectors', () => {
  it('has vectors for success and for every failure reason', () => {
    const reasons = new Set(vectors.map((v) => v.reason ?? v.expect));
    for (const r of ['ok', 'bad-magic', 'unsupported-version', 'bad-flags', 'bad-header', 'truncated'])
      expect(reasons, r).toContain(r);
    for (const r of ['trailing-bytes', 'nonzero-padding', 'bad-trailer', 'tensor-checksum', 'checksum'])
      expect(reasons, r).toContain(r);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.description} → ${v.reason ?? v.expect}`, async () => {
      const path = new URL(`${v.name}.tensor`, DIR).pathname;
      const bytes = new Uint8Array(await readFile(path));
      expect(tensorFileDigest(bytes)).toBe(v.sha256);
      if (v.expect !== 'ok') {
        const error = thrown(() => readTensorFile(bytes, { source: v.name }));
        expect(error.code, error.message).toBe(v.expect);
        expect(error.details.reason, error.message).toBe(v.reason);
        expect(error.message).toContain(v.name);
        const fromPath = await rejectsWith(readTensorFileFromPath(path), v.expect);
        expect(fromPath.details.reason).toBe(v.reason);
        expect(fromPath.message).toContain(path);
        return;
      }
      for (const file of [readTensorFile(bytes), await readTensorFileFromPath(path)]) {
        expect(file.header).toEqual(v.header);
        expect(file.sha256).toBe(v.sha256);
        expect([...file.tensors.keys()]).toEqual(v.tensors?.map((t) => t.name));
        for (const t of v.tensors ?? []) {
          const got = file.tensors.get(t.name);
          expect(got?.dtype).toBe(t.dtype);
          expect(got?.shape).toEqual(t.shape);
          expect(Array.from(got?.data ?? [])).toEqual(t.values);
        }
      }
      // The writer, given the same description and values, produces the same bytes.
      const file = readTensorFile(bytes);
      const writes = [...file.tensors.values()].map((t) => [t.name, t.data] as const);
      const { bytes: written } = await writeAll(describeHeader(file.header), writes);
      expect(Buffer.from(written).equals(Buffer.from(bytes))).toBe(true);
    });
  }
});

describe('TensorFileWriter', () => {
  it('writes rows in any interleaving and any batch size to the same bytes', async () => {
    const whole = await writeAll(small, [
      ['features', smallFeatures],
      ['labels', smallLabels],
    ]);
    const rowByRow = await writeAll(small, [
      ['labels', smallLabels.subarray(0, 1)],
      ['features', smallFeatures.subarray(0, 2)],
      ['labels', smallLabels.subarray(1)],
      ['features', smallFeatures.subarray(2)],
    ]);
    expect(Buffer.from(rowByRow.bytes).equals(Buffer.from(whole.bytes))).toBe(true);
    expect(whole.summary.bytes).toBe(whole.bytes.length);
    expect(whole.summary.sha256).toBe(tensorFileDigest(whole.bytes));
    const read = readTensorFile(whole.bytes);
    expect(read.sha256).toBe(whole.summary.sha256);
    expect(Array.from(read.tensors.get('labels')?.data ?? [])).toEqual([0, 1, 1]);
  });

  it('hands the sink fresh chunks: reusing the caller’s array afterwards changes nothing', async () => {
    const features = Float32Array.from(smallFeatures);
    const chunks: Uint8Array[] = [];
    const writer = new TensorFileWriter(small, async (chunk) => {
      chunks.push(chunk);
    });
    await writer.writeRows('features', features);
    features.fill(99);
    await writer.writeRows('labels', smallLabels);
    await writer.finish();
    const file = readTensorFile(new Uint8Array(Buffer.concat(chunks)));
    expect(Array.from(file.tensors.get('features')?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses misuse with ERR_INTERNAL and then refuses every later call', async () => {
    const cases: [string, (w: TensorFileWriter) => Promise<unknown>, RegExp][] = [
      ['unknown tensor', (w) => w.writeRows('weights', smallLabels), /no tensor "weights"/],
      [
        'wrong type',
        (w) => w.writeRows('labels', Float32Array.of(0, 1, 1)),
        /holds int32, not a Float32Array/,
      ],
      ['partial row', (w) => w.writeRows('features', Float32Array.of(1, 2, 3)), /not whole rows of 2/],
      ['too many rows', (w) => w.writeRows('labels', Int32Array.of(0, 1, 1, 0)), /has 3 rows; .* 4/],
      ['finish early', (w) => w.finish(), /"features" has 0 of 3 rows; tensor "labels" has 0 of 3 rows/],
    ];
    for (const [what, run, message] of cases) {
      const writer = new TensorFileWriter(small, async () => {});
      const error = await rejectsWith(run(writer), 'ERR_INTERNAL');
      expect(error.message, what).toMatch(message);
      const after = await rejectsWith(writer.writeRows('labels', smallLabels), 'ERR_INTERNAL');
      expect(after.message).toMatch(/an earlier call failed/);
    }
  });

  it('refuses calls after finish, and passes the sink’s errors through', async () => {
    const writer = new TensorFileWriter(small, async () => {});
    await writer.writeRows('features', smallFeatures);
    await writer.writeRows('labels', smallLabels);
    await writer.finish();
    expect((await rejectsWith(writer.finish(), 'ERR_INTERNAL')).message).toMatch(/already finished/);
    const failing = new TensorFileWriter(small, async () => {
      throw new Error('disk on fire');
    });
    await expect(failing.writeRows('features', smallFeatures)).rejects.toThrow('disk on fire');
    await rejectsWith(failing.finish(), 'ERR_INTERNAL');
  });

  it('refuses a description that breaks the spec, naming the field', () => {
    const { labelColumn: _label, ...noLabelColumn } = small;
    const bad: [Partial<TensorFileDescription>, RegExp][] = [
      [{ columns: ['a'] }, /columns: 1 names, but features has 2 values a row/],
      [{ tensors: [{ name: 'Features', dtype: 'float32', shape: [3, 2] }] }, /tensors\.0\.name/],
      [{ classes: ['x', 'x'] }, /classes: "x" appears twice/],
      [noLabelColumn, /labelColumn: must be present exactly when there is a labels tensor/],
      [
        { tensors: [...small.tensors, { name: 'labels', dtype: 'uint8', shape: [3] }] },
        /tensors\.2\.name: "labels" appears twice/,
      ],
      [{ tensors: [{ name: 'features', dtype: 'float32', shape: [3, 0] }] }, /only the row count may be 0/],
      [{ columns: Array.from({ length: 70_000 }, (_, i) => `column number ${i}`) }, /more than 1 MiB/],
    ];
    for (const [change, message] of bad) {
      const description = { ...(change === noLabelColumn ? {} : small), ...change } as TensorFileDescription;
      const error = thrown(
        () => new TensorFileWriter(description, async () => {}, { source: 'train.tensor' }),
      );
      expect(error.code).toBe('ERR_DATA_MALFORMED');
      expect(error.message).toContain('Cannot write tensor file train.tensor');
      expect(error.message).toMatch(message);
    }
  });
});

describe('readTensorFile', () => {
  it('returns views of aligned input and copies of unaligned input', async () => {
    const { bytes } = await writeAll(small, [
      ['features', smallFeatures],
      ['labels', smallLabels],
    ]);
    const aligned = readTensorFile(bytes);
    expect(aligned.tensors.get('features')?.data.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const copied = readTensorFile(shifted).tensors.get('features')?.data;
    expect(copied?.buffer).not.toBe(shifted.buffer);
    expect(Array.from(copied ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealtrain-tensor-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a file over maxBytes, a missing file, and a bad maxBytes', async () => {
    const { bytes } = await writeAll(small, [
      ['features', smallFeatures],
      ['labels', smallLabels],
    ]);
    const path = join(dir, 'train.tensor');
    await writeFile(path, bytes);
    const big = await rejectsWith(readTensorFileFromPath(path, { maxBytes: 100 }), 'ERR_DATA_MALFORMED');
    expect(big.details.reason).toBe('too-large');
    await rejectsWith(readTensorFileFromPath(join(dir, 'absent.tensor')), 'ERR_IO_NOT_FOUND');
    await rejectsWith(readTensorFileFromPath(path, { maxBytes: -1 }), 'ERR_USAGE_INVALID');
    expect((await readTensorFileFromPath(path)).tensors.size).toBe(2);
  });
});

/** A random description and rows for it. */
const fileArb = fc
  .record({
    rows: fc.nat(12),
    cols: fc.integer({ min: 1, max: 5 }),
    dtype: fc.constantFrom<TensorDtype>('float32', 'float64', 'int32', 'uint8'),
    labels: fc.constantFrom<TensorDtype | 'none'>('none', 'int32', 'uint8', 'float32'),
    weights: fc.boolean(),
    split: fc.constantFrom('train' as const, 'validation' as const, 'test' as const),
    metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  })
  .chain((c) => {
    const arrays = (dtype: TensorDtype, n: number): fc.Arbitrary<TensorData> => {
      const size = { minLength: n, maxLength: n };
      if (dtype === 'float32') return fc.float32Array(size);
      if (dtype === 'float64') return fc.float64Array(size);
      if (dtype === 'int32') return fc.int32Array(size);
      return fc.uint8Array(size);
    };
    const description: TensorFileDescription = {
      split: c.split,
      columns: Array.from({ length: c.cols }, (_, i) => `c${i}`),
      metadata: JSON.parse(JSON.stringify(c.metadata)),
      ...(c.labels === 'none' ? {} : { labelColumn: 'y' }),
      ...(c.labels === 'int32' || c.labels === 'uint8' ? { classes: ['a', 'b', 'c'] } : {}),
      tensors: [
        { name: 'features', dtype: c.dtype, shape: [c.rows, c.cols] },
        ...(c.labels === 'none' ? [] : [{ name: 'labels', dtype: c.labels, shape: [c.rows] }]),
        ...(c.weights ? [{ name: 'weights', dtype: 'float64' as const, shape: [c.rows] }] : []),
      ],
    };
    return fc
      .tuple(
        ...description.tensors.map((t) =>
          arrays(
            t.dtype,
            t.shape.reduce((a, b) => a * b, 1),
          ),
        ),
      )
      .map((data) => ({
        description,
        writes: description.tensors.map((t, i) => [t.name, data[i]] as Write),
      }));
  });

describe('tensor file properties', () => {
  it('reads back what was written, byte for byte, and re-encodes to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async ({ description, writes }) => {
        const { bytes } = await writeAll(description, writes);
        const file = readTensorFile(bytes);
        for (const [name, data] of writes) {
          const got = file.tensors.get(name)?.data;
          expect(got?.constructor).toBe(data.constructor);
          expect(Buffer.from(bytesOf(got ?? data)).equals(Buffer.from(bytesOf(data)))).toBe(true);
        }
        const again = await writeAll(
          describeHeader(file.header),
          [...file.tensors.values()].map((t) => [t.name, t.data] as const),
        );
        expect(Buffer.from(again.bytes).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('writes the same bytes whatever the batches and their interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, fc.infiniteStream(fc.nat(4)), async ({ description, writes }, picks) => {
        const { bytes } = await writeAll(description, writes);
        const perRow = (i: number) => (description.tensors[i]?.shape[1] as number | undefined) ?? 1;
        const rest = writes.map(([, data], i) => ({ i, data, at: 0, step: perRow(i) }));
        const batches: Write[] = [];
        const pick = picks[Symbol.iterator]();
        while (rest.some((r) => r.at < r.data.length)) {
          const open = rest.filter((r) => r.at < r.data.length);
          const r = open[(pick.next().value ?? 0) % open.length];
          if (r === undefined) break;
          const end = Math.min(r.data.length, r.at + r.step * (1 + (pick.next().value ?? 0)));
          batches.push([writes[r.i]?.[0] ?? '', r.data.subarray(r.at, end)]);
          r.at = end;
        }
        const batched = await writeAll(description, batches);
        expect(Buffer.from(batched.bytes).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('fails with a coded error on any flipped bit, truncation or appended bytes', async () => {
    const malformed = (bytes: Uint8Array) => {
      const error = thrown(() => readTensorFile(bytes));
      expect(error.code).toBe('ERR_DATA_MALFORMED');
    };
    await fc.assert(
      fc.asyncProperty(
        fileArb,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 70 }),
        async ({ description, writes }, n, extra) => {
          const { bytes } = await writeAll(description, writes);
          const flipped = Uint8Array.from(bytes);
          const bit = n % (bytes.length * 8);
          flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          malformed(flipped);
          malformed(bytes.subarray(0, n % bytes.length));
          malformed(Uint8Array.from([...bytes, ...extra]));
        },
      ),
    );
  });
});
