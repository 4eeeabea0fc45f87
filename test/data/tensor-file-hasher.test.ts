// A tensor file hashed while it arrives (TensorFileHasher) verifies exactly as one hashed whole:
// the same digest, in whatever steps the bytes become final; a damaged tensor, a wrong checksum
// or a malformed header are still caught and named; digests taken of another buffer, or of part
// of this one, are not used. Through a run's loader, sealed and plain inputs are hashed this way.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  readTensorFile,
  type TensorFileDescription,
  TensorFileHasher,
  TensorFileWriter,
  tensorFileDigest,
} from '../../src/data/tensor-file.js';
import { isSealtrainError } from '../../src/errors/index.js';
import { type NativeSha256, tryLoadNativeSha256 } from '../../src/internal/background-sha256.js';

// The whole-file digest is taken on the thread pool by the addon: a missing build fails here.
const nativeSha256 = tryLoadNativeSha256();
if (!nativeSha256) throw new Error('the native addon did not load: npm run build:native');

const description: TensorFileDescription = {
  split: 'train',
  columns: ['a', 'b', 'c', 'd'],
  labelColumn: 'y',
  classes: ['no', 'yes'],
  tensors: [
    { name: 'features', dtype: 'float32', shape: [500, 4] },
    { name: 'labels', dtype: 'int32', shape: [500] },
  ],
};

async function file(): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const writer = new TensorFileWriter(description, async (c) => {
    chunks.push(c);
  });
  await writer.writeRows(
    'features',
    Float32Array.from({ length: 2000 }, (_, i) => i / 7),
  );
  await writer.writeRows(
    'labels',
    Int32Array.from({ length: 500 }, (_, i) => i % 2),
  );
  await writer.finish();
  return Buffer.concat(chunks);
}

/** Hashes `bytes` through a hasher advanced to each of `ends` (sorted), then to the end. */
async function hashedIn(bytes: Buffer, ends: number[], native = nativeSha256): Promise<TensorFileHasher> {
  const h = new TensorFileHasher(bytes, { native });
  for (const end of [...ends].sort((a, b) => a - b)) h.advance(end);
  h.advance(bytes.length);
  await h.finish();
  return h;
}

const reason = (run: () => unknown) => {
  try {
    run();
  } catch (e) {
    if (isSealtrainError(e)) return (e.details as { reason?: string }).reason;
    throw e;
  }
  return 'none';
};

describe('TensorFileHasher', () => {
  it('gives the digest of the whole file, however the bytes arrive', async () => {
    const bytes = await file();
    const whole = tensorFileDigest(bytes);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }),
        fc.boolean(),
        async (ends, onThisThread) => {
          const hashed = await hashedIn(bytes, ends, onThisThread ? undefined : nativeSha256);
          expect(hashed.digests(bytes)?.file).toBe(whole);
          expect(readTensorFile(bytes, { hashed }).sha256).toBe(whole);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('still names a damaged tensor and a wrong checksum', async () => {
    const good = await file();
    const damaged = Buffer.from(good);
    const at = readTensorFile(good).header.tensors[1]?.offset ?? 0;
    damaged[at + 3] = (damaged[at + 3] ?? 0) ^ 1;
    const hashedDamaged = await hashedIn(damaged, [100, 5000]);
    expect(reason(() => readTensorFile(damaged, { hashed: hashedDamaged }))).toBe('tensor-checksum');
    const checksum = Buffer.from(good);
    checksum[checksum.length - 1] = (checksum[checksum.length - 1] ?? 0) ^ 1;
    const hashedChecksum = await hashedIn(checksum, [64]);
    expect(reason(() => readTensorFile(checksum, { hashed: hashedChecksum }))).toBe('checksum');
    const header = Buffer.from(good);
    header[20] = 0x20; // inside the header JSON: no longer canonical
    const hashedHeader = await hashedIn(header, [10, 30]);
    expect(reason(() => readTensorFile(header, { hashed: hashedHeader }))).toBe('bad-header');
  });

  it('for authenticated bytes (a sealed input) takes the file digest only, and the checksum still counts', async () => {
    const good = await file();
    const whole = tensorFileDigest(good);
    for (const native of [nativeSha256, undefined]) {
      const fileOnly = new TensorFileHasher(good, { native, tensors: false });
      fileOnly.advance(4000);
      fileOnly.advance(good.length);
      await fileOnly.finish();
      expect(fileOnly.digests(good)).toEqual({ checked: expect.any(Buffer), file: whole, tensors: [] });
      expect(readTensorFile(good, { hashed: fileOnly, authenticated: true }).sha256).toBe(whole);
    }
    // A tensor unlike its digest in the trailer, under a checksum made over it all: what only its
    // writer can cause, and AES-GCM had authenticated the writer's bytes.
    const unlike = Buffer.from(good);
    const at = readTensorFile(good).header.tensors[0]?.offset ?? 0;
    unlike[at] = (unlike[at] ?? 0) ^ 1;
    const end = unlike.length - 32;
    createHash('sha256').update(unlike.subarray(0, end)).digest().copy(unlike, end);
    expect(reason(() => readTensorFile(unlike))).toBe('tensor-checksum');
    expect(reason(() => readTensorFile(unlike, { authenticated: true }))).toBe('none');
    // The checksum and the structure are checked all the same.
    const checksum = Buffer.from(good);
    checksum[checksum.length - 1] = (checksum[checksum.length - 1] ?? 0) ^ 1;
    const hashed = new TensorFileHasher(checksum, { native: nativeSha256, tensors: false });
    hashed.advance(checksum.length);
    await hashed.finish();
    expect(reason(() => readTensorFile(checksum, { hashed, authenticated: true }))).toBe('checksum');
    expect(reason(() => readTensorFile(checksum, { authenticated: true }))).toBe('checksum');
    const header = Buffer.from(good);
    header[20] = 0x20;
    expect(reason(() => readTensorFile(header, { authenticated: true }))).toBe('bad-header');
  });

  it('with a verified digest (a sealed input stored as signed), takes no digest and checks the structure only', async () => {
    const good = await file();
    const signed = 'cd'.repeat(32);
    expect(readTensorFile(good, { authenticated: true, verifiedSha256: signed }).sha256).toBe(signed);
    // The checksum is its writer's, as the tensors' digests are: not compared.
    const checksum = Buffer.from(good);
    checksum[checksum.length - 1] = (checksum[checksum.length - 1] ?? 0) ^ 1;
    expect(readTensorFile(checksum, { authenticated: true, verifiedSha256: signed }).sha256).toBe(signed);
    // The structure is: a header that is not canonical, a file cut short.
    const header = Buffer.from(good);
    header[20] = 0x20;
    expect(reason(() => readTensorFile(header, { authenticated: true, verifiedSha256: signed }))).toBe(
      'bad-header',
    );
    expect(
      reason(() =>
        readTensorFile(good.subarray(0, good.length - 1), { authenticated: true, verifiedSha256: signed }),
      ),
    ).toBe('truncated');
    // Bytes that were not authenticated as a whole never skip their digests.
    expect(() => readTensorFile(good, { verifiedSha256: signed })).toThrow(TypeError);
  });

  it('is ignored for another buffer, or before every byte was hashed', async () => {
    const bytes = await file();
    const other = Buffer.from(bytes);
    const at = readTensorFile(bytes).header.tensors[0]?.offset ?? 0;
    other[at] = (other[at] ?? 0) ^ 1;
    // Digests of the intact copy must not vouch for the damaged one.
    const intact = await hashedIn(bytes, []);
    expect(reason(() => readTensorFile(other, { hashed: intact }))).toBe('tensor-checksum');
    const partial = new TensorFileHasher(bytes);
    partial.advance(bytes.length - 1);
    await partial.finish();
    expect(partial.digests(bytes)).toBeUndefined();
    // Fed in full but not finished: the background digest is not there yet, so none is used.
    const unfinished = new TensorFileHasher(bytes);
    unfinished.advance(bytes.length);
    expect(unfinished.digests(bytes)).toBeUndefined();
    expect(readTensorFile(bytes, { hashed: unfinished }).sha256).toBe(tensorFileDigest(bytes));
    unfinished.dispose();
    expect(readTensorFile(bytes, { hashed: partial }).sha256).toBe(tensorFileDigest(bytes));
  });

  it('lets go of its hash state when disposed (a failed read): no digests after, twice is fine', async () => {
    const bytes = await file();
    const h = new TensorFileHasher(bytes);
    h.advance(1000);
    h.dispose();
    h.dispose();
    h.advance(bytes.length);
    await h.finish();
    expect(h.digests(bytes)).toBeUndefined();
    const done = await hashedIn(bytes, []);
    expect(readTensorFile(bytes, { hashed: done }).sha256).toBe(tensorFileDigest(bytes));
    done.dispose();
    expect(done.digests(bytes)).toBeUndefined();
  });

  it('falls back to hashing the file itself when the background hash fails', async () => {
    const bytes = await file();
    const failing: NativeSha256 = {
      ...nativeSha256,
      sha256UpdateAsync: (_state, _data, callback) => setImmediate(() => callback(new Error('injected'))),
    };
    const h = await hashedIn(bytes, [4096], failing);
    expect(h.digests(bytes)).toBeUndefined();
    expect(readTensorFile(bytes, { hashed: h }).sha256).toBe(tensorFileDigest(bytes));
    // The same with a damaged tensor: still named.
    const damaged = Buffer.from(bytes);
    const at = readTensorFile(bytes).header.tensors[0]?.offset ?? 0;
    damaged[at + 1] = (damaged[at + 1] ?? 0) ^ 1;
    const hd = await hashedIn(damaged, [], failing);
    expect(reason(() => readTensorFile(damaged, { hashed: hd }))).toBe('tensor-checksum');
  });

  it('gives a file cut short the verdict it gets unhashed, on both backends', async () => {
    const bytes = await file();
    const headerEnd = 16 + bytes.readUInt32LE(12);
    for (const cut of [0, 10, 31, headerEnd, bytes.length - 32, bytes.length - 1]) {
      const short = Buffer.from(bytes.subarray(0, cut));
      const unhashed = reason(() => readTensorFile(short));
      expect(unhashed, `cut at ${cut}`).not.toBe('none');
      // Authenticated bytes (a sealed file cut before it was sealed) get the same verdict.
      expect(
        reason(() => readTensorFile(short, { authenticated: true })),
        `cut at ${cut}`,
      ).toBe(unhashed);
      for (const native of [nativeSha256, undefined]) {
        const hashed = await hashedIn(short, [cut >> 1], native);
        expect(
          reason(() => readTensorFile(short, { hashed })),
          `cut at ${cut}`,
        ).toBe(unhashed);
      }
    }
  });
});
