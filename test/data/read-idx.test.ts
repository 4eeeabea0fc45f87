import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeIdx,
  FASHION_MNIST_PIXELS,
  type IdxDtype,
  loadFashionMnist,
  readIdx,
} from '../../src/data/index.js';
import { rejectsWith } from '../helpers/rejects.js';

/** How each dtype is written: its IDX type byte, size and big-endian setter. */
const WRITERS: Record<
  IdxDtype,
  { code: number; size: number; set: (v: DataView, at: number, x: number) => void }
> = {
  uint8: { code: 0x08, size: 1, set: (v, at, x) => v.setUint8(at, x) },
  int8: { code: 0x09, size: 1, set: (v, at, x) => v.setInt8(at, x) },
  int16: { code: 0x0b, size: 2, set: (v, at, x) => v.setInt16(at, x, false) },
  int32: { code: 0x0c, size: 4, set: (v, at, x) => v.setInt32(at, x, false) },
  float32: { code: 0x0d, size: 4, set: (v, at, x) => v.setFloat32(at, x, false) },
  float64: { code: 0x0e, size: 8, set: (v, at, x) => v.setFloat64(at, x, false) },
};

/** Sample values for each dtype that a wrong byte order or sign would change. */
const VALUES: Record<IdxDtype, number[]> = {
  uint8: [0, 1, 127, 128, 254, 255],
  int8: [-128, -1, 0, 1, 64, 127],
  int16: [-32768, -2, 0, 258, 1000, 32767],
  int32: [-2147483648, -65536, 0, 16909060, 70000, 2147483647],
  float32: [-1.5, 0, 0.25, 3.140000104904175, -0.125, 65504],
  float64: [-1.5, 0, Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE, 1e300],
};

/** An IDX header: magic, type byte, dimension count and big-endian dimensions. */
function idxHeader(code: number, shape: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, code, shape.length]);
  for (const [i, d] of shape.entries()) view.setUint32(4 + 4 * i, d, false);
  return bytes;
}

/** An IDX file of `dtype` with `shape`, filled by cycling through `values`. */
function idx(dtype: IdxDtype, shape: number[], values: number[]): Uint8Array {
  const w = WRITERS[dtype];
  const header = idxHeader(w.code, shape);
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(header.length + count * w.size);
  bytes.set(header);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) w.set(view, header.length + i * w.size, values[i % values.length] ?? 0);
  return bytes;
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-idx-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe('readIdx round trips', () => {
  for (const dtype of Object.keys(WRITERS) as IdxDtype[]) {
    it(`reads ${dtype}, plain and gzip, in host byte order`, async () => {
      const shape = [2, 3, 2];
      const expected = Array.from({ length: 12 }, (_, i) => VALUES[dtype][i % 6] ?? 0);
      const bytes = idx(dtype, shape, VALUES[dtype]);
      for (const [name, content] of [
        [`${dtype}.idx`, bytes],
        [`${dtype}.idx.gz`, gzipSync(bytes)],
        // Gzip is recognised by its magic bytes, not by the file name.
        [`${dtype}-gz-without-suffix`, gzipSync(bytes)],
      ] as const) {
        const array = await readIdx(await file(name, content));
        expect(array.dtype).toBe(dtype);
        expect(array.shape).toEqual(shape);
        expect(Array.from(array.data)).toEqual(expected);
      }
      expect(Array.from(decodeIdx(bytes).data)).toEqual(expected);
    });
  }

  it('reads a one-dimensional file and narrows data by dtype', async () => {
    const array = await readIdx(await file('labels.idx', idx('uint8', [5], [9, 0, 0, 3, 0])));
    expect(array.shape).toEqual([5]);
    if (array.dtype !== 'uint8') throw new Error('expected uint8');
    const data: Uint8Array = array.data;
    expect(Array.from(data)).toEqual([9, 0, 0, 3, 0]);
  });

  it('accepts data of exactly maxBytes', async () => {
    const array = await readIdx(await file('exact.idx', idx('int32', [4], [1])), { maxBytes: 16 });
    expect(array.data.length).toBe(4);
  });
});

describe('readIdx rejects malformed files', () => {
  const good = idx('int16', [3, 4], [1, -2, 3]);

  it('truncated data, stating expected and actual byte counts', async () => {
    for (const content of [good.subarray(0, good.length - 1), gzipSync(good.subarray(0, good.length - 5))]) {
      const path = await file('truncated.idx', content);
      const error = await rejectsWith(readIdx(path), 'ERR_DATA_MALFORMED');
      expect(error.message).toContain(path);
      expect(error.message).toMatch(/truncated: expected 36 bytes .*found 3[15]/);
      expect(error.details).toMatchObject({ path, reason: 'truncated', expectedBytes: 36 });
    }
  });

  it('a header cut short', async () => {
    for (const content of [good.subarray(0, 2), good.subarray(0, 10)]) {
      const error = await rejectsWith(readIdx(await file('short.idx', content)), 'ERR_DATA_MALFORMED');
      expect(error.message).toMatch(
        /fewer than the 4-byte IDX header|header is cut short: 2 dimensions need 12/,
      );
    }
  });

  it('trailing bytes', async () => {
    for (const content of [
      Buffer.concat([good, Buffer.from([0, 0, 7])]),
      gzipSync(Buffer.concat([good, Buffer.alloc(3)])),
    ]) {
      const path = await file('trailing.idx', content);
      const error = await rejectsWith(readIdx(path), 'ERR_DATA_MALFORMED');
      expect(error.message).toContain(`${path}: 3 trailing bytes after the data: expected 36 bytes`);
      expect(error.message).toContain('found 39');
      expect(error.details).toMatchObject({ reason: 'trailing-bytes', expectedBytes: 36, actualBytes: 39 });
    }
  });

  it('bad magic', async () => {
    const bytes = Uint8Array.from(good);
    bytes[1] = 0x01;
    const path = await file('magic.idx', bytes);
    const error = await rejectsWith(readIdx(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toBe(
      `Cannot read IDX file ${path}: it does not start with the IDX magic bytes 00 00 (found 0x00 0x01).`,
    );
  });

  it('an unknown data type', async () => {
    for (const code of [0x00, 0x07, 0x0a, 0x0f, 0xff]) {
      const bytes = Uint8Array.from(good);
      bytes[2] = code;
      const error = await rejectsWith(readIdx(await file('dtype.idx', bytes)), 'ERR_DATA_MALFORMED');
      expect(error.message).toContain(`unknown data type 0x${code.toString(16).padStart(2, '0')}`);
    }
  });

  it('no dimensions, or a dimension of 0', async () => {
    const none = await rejectsWith(
      readIdx(await file('nodims.idx', Uint8Array.of(0, 0, 8, 0))),
      'ERR_DATA_MALFORMED',
    );
    expect(none.message).toContain('declares no dimensions');
    const zero = await rejectsWith(
      readIdx(await file('zerodim.idx', idx('uint8', [3, 0, 2], []))),
      'ERR_DATA_MALFORMED',
    );
    expect(zero.message).toContain('dimension 2 of 3 is 0');
  });

  it('dimensions beyond maxBytes or beyond 2^53, before allocating', async () => {
    // 2^32-1 to the eighth power overflows every integer type; only the header is on disk.
    const huge = await file('huge.idx', idxHeader(0x0e, Array(8).fill(0xffffffff)));
    const error = await rejectsWith(readIdx(huge), 'ERR_DATA_MALFORMED');
    expect(error.message).toMatch(/need more than 2147483648 bytes, the limit \(maxBytes\)/);
    expect(error.details).toMatchObject({ reason: 'too-large', limit: 2 ** 31 });
    await rejectsWith(
      readIdx(await file('huge.idx.gz', gzipSync(idxHeader(0x0e, Array(8).fill(0xffffffff))))),
      'ERR_DATA_MALFORMED',
    );
    // 17 int32 values are 68 bytes, over a 64-byte limit, even though the file is complete.
    const small = await file('over.idx', idx('int32', [17], [1]));
    const over = await rejectsWith(readIdx(small, { maxBytes: 64 }), 'ERR_DATA_MALFORMED');
    expect(over.message).toContain('(17 int32) need more than 64 bytes');
    await rejectsWith(readIdx(small, { maxBytes: 0 }), 'ERR_USAGE_INVALID');
  });

  it('a gzip bomb: decompression stops at maxBytes plus the header', async () => {
    // A valid header for 64 MiB of bytes, and 64 MiB of zeros that gzip to about 64 KiB.
    const size = 64 * 1024 * 1024;
    const bomb = Buffer.alloc(8 + size);
    bomb.set([0, 0, 8, 1]);
    bomb.writeUInt32BE(size, 4);
    const path = await file('bomb.idx.gz', gzipSync(bomb));
    const error = await rejectsWith(readIdx(path, { maxBytes: 1024 * 1024 }), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain('decompresses to more than 1049600 bytes');
    expect(error.details).toMatchObject({ reason: 'too-large', limit: 1024 * 1024 });
    // Within the default limit the same file reads.
    expect((await readIdx(path)).shape).toEqual([size]);
  });

  it('a corrupt gzip stream', async () => {
    const gz = gzipSync(good);
    for (const content of [gz.subarray(0, gz.length - 6), Buffer.concat([gz, Buffer.from('junk')])]) {
      const error = await rejectsWith(readIdx(await file('corrupt.gz', content)), 'ERR_DATA_MALFORMED');
      expect(error.message).toContain('the gzip stream is corrupt');
    }
  });

  it('a missing file', async () => {
    const error = await rejectsWith(readIdx(join(dir, 'absent.idx')), 'ERR_IO_NOT_FOUND');
    expect(error.message).toContain('absent.idx');
  });
});

describe('loadFashionMnist', () => {
  it('says how to install the dataset when its folder is missing', async () => {
    const error = await rejectsWith(
      loadFashionMnist('train', { dir: join(dir, 'nowhere') }),
      'ERR_IO_NOT_FOUND',
    );
    expect(error.message).toContain('apt-get install dataset-fashion-mnist');
  });

  it('refuses images and labels whose counts differ', async () => {
    const mnist = join(dir, 'mismatch');
    await mkdir(mnist);
    await writeFile(join(mnist, 't10k-images-idx3-ubyte'), idx('uint8', [3, 28, 28], [0, 255]));
    await writeFile(join(mnist, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx('uint8', [2], [1, 2])));
    const error = await rejectsWith(loadFashionMnist('test', { dir: mnist }), 'ERR_DATA_MALFORMED');
    expect(error.message).toMatch(/has 3 images but .* has 2 labels/);
    await writeFile(join(mnist, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx('uint8', [3], [1, 10, 2])));
    const label = await rejectsWith(loadFashionMnist('test', { dir: mnist }), 'ERR_DATA_MALFORMED');
    expect(label.message).toContain('label 1 is 10');
    await writeFile(join(mnist, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx('uint8', [3], [1, 9, 2])));
    const small = await loadFashionMnist('test', { dir: mnist });
    expect(small.rows).toBe(3);
    expect(Array.from(small.labels)).toEqual([1, 9, 2]);
    expect(small.images.subarray(0, 2)).toEqual(Float32Array.of(0, 1));
  });

  // scripts/ensure-packages.mjs installs dataset-fashion-mnist before `npm test`; no silent skip.
  it("reads Debian's Fashion-MNIST: 60,000 train and 10,000 test examples", async () => {
    const train = await loadFashionMnist('train');
    expect(train.rows).toBe(60_000);
    expect(train.images.length).toBe(60_000 * FASHION_MNIST_PIXELS);
    expect(train.labels.length).toBe(60_000);
    expect(train.labels[0]).toBe(9);
    // The first image's pixels add up to 76,247 out of 255 each.
    const first = train.images.subarray(0, FASHION_MNIST_PIXELS).reduce((a, p) => a + p * 255, 0);
    expect(first).toBeCloseTo(76_247, 1);
    // 6,000 of each class in train, 1,000 in test.
    const counts = new Array<number>(10).fill(0);
    for (const label of train.labels) counts[label] = (counts[label] ?? 0) + 1;
    expect(counts).toEqual(new Array(10).fill(6000));
    let min = Infinity;
    let max = -Infinity;
    for (const p of train.images) {
      if (p < min) min = p;
      if (p > max) max = p;
    }
    expect([min, max]).toEqual([0, 1]);
    const test = await loadFashionMnist('test');
    expect(test.rows).toBe(10_000);
    expect(test.images.length).toBe(10_000 * FASHION_MNIST_PIXELS);
    expect(test.labels[0]).toBe(9);
    expect(Math.max(...test.labels)).toBe(9);
    expect(Math.min(...test.labels)).toBe(0);
  });
});
