// A sealed input is read ahead while its keys are on their way and decrypted batch by batch into
// one buffer: the plaintext comes back only when every chunk authenticated, and a tampered,
// reordered, cut or extended file, a wrong key or a refused release leaves no plaintext behind.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  loadLineageSigningKey,
  prepareDataset,
  readTensorFile,
  TensorFileWriter,
} from '../../src/data/index.js';
import { BackgroundSha256, tryLoadNativeSha256 } from '../../src/internal/background-sha256.js';
import type { KeyProvider } from '../../src/kms/index.js';
import { LocalKeyring } from '../../src/kms/index.js';
import { loadSplit, readInput } from '../../src/run/index.js';
import { sealBuffer, unsealFileToMemory } from '../../src/seal/index.js';
import { bodyOffset, DEFAULT_SLOT_SIZE } from '../../src/seal/internal/layout.js';
import type { BrokenReads } from '../helpers/broken-reads.js';
import { tensorFileBytes } from '../helpers/tensor-bytes.js';

// The first batch can be held back, so that later batches finish first; the addon's SHA-256
// updates can be made to start late, so that a hash lags behind the decryption.
const hold = vi.hoisted(() => ({ firstBatchMs: 0, shaUpdateMs: 0 }));
// One test makes every read from `at` on find the end of the file, or fail, as when the file is
// cut or the disk fails after the file was opened.
const broken = vi.hoisted((): BrokenReads => ({ at: -1, how: 'short' }));
vi.mock('node:fs/promises', async (original) =>
  (await import('../helpers/broken-reads.js')).withBrokenReads(await original(), broken),
);
vi.mock('../../src/internal/package-root.js', async (original) => {
  const real = await original<typeof import('../../src/internal/package-root.js')>();
  return {
    ...real,
    loadAddon: (...args: Parameters<typeof real.loadAddon>) => {
      const addon = real.loadAddon<Record<string, unknown>>(...args);
      if (typeof addon.sha256UpdateAsync !== 'function') return addon;
      const update = addon.sha256UpdateAsync as (
        s: object,
        d: Uint8Array,
        cb: (e: Error | null) => void,
      ) => void;
      return {
        ...addon,
        sha256UpdateAsync: (state: object, data: Uint8Array, cb: (e: Error | null) => void) => {
          if (hold.shaUpdateMs > 0) setTimeout(() => update(state, data, cb), hold.shaUpdateMs);
          else update(state, data, cb);
        },
      };
    },
  };
});
vi.mock('../../src/seal/internal/context.js', async (original) => {
  const real = await original<typeof import('../../src/seal/internal/context.js')>();
  return {
    ...real,
    engineOptions: (...args: Parameters<typeof real.engineOptions>) => {
      const o = real.engineOptions(...args);
      const cipher = {
        ...o.cipher,
        openAsync: async (...a: Parameters<typeof o.cipher.openAsync>) => {
          if (a[4] === 0 && hold.firstBatchMs > 0) await new Promise((r) => setTimeout(r, hold.firstBatchMs));
          return o.cipher.openAsync(...a);
        },
      };
      return { ...o, cipher };
    },
  };
});

const CHUNK = 4096;
const STRIDE = CHUNK + 16;
const BODY = bodyOffset(DEFAULT_SLOT_SIZE);

let dir: string;
let ring: LocalKeyring;
let other: LocalKeyring;
/** About 2.6 batches of 4 MiB at the smallest chunk size: several batches in flight. */
let plaintext: Buffer;
let sealed: Buffer;

/** Providers that arrive only when `arrive` is called, as from an attested release. */
function later(providers: readonly KeyProvider[]) {
  let arrive = (): void => {};
  const soon = new Promise<readonly KeyProvider[]>((resolve) => {
    arrive = () => resolve(providers);
  });
  return { soon, arrive };
}

/** A copy of `bytes` with bit `mask` of byte `at` flipped. */
function flipped(bytes: Buffer, at: number, mask: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ mask, at);
  return copy;
}

/** Writes `bytes` as a sealed file and returns its path. */
async function file(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** The SHA-256 streams fed while `run` runs, each with the bytes it took, in the order first fed. */
async function streamsFed<T>(run: () => Promise<T>): Promise<{ result: T; fed: number[] }> {
  const fed = new Map<BackgroundSha256, number>();
  const real = BackgroundSha256.prototype.update;
  const spy = vi.spyOn(BackgroundSha256.prototype, 'update').mockImplementation(function (
    this: BackgroundSha256,
    bytes: Uint8Array,
  ) {
    fed.set(this, (fed.get(this) ?? 0) + bytes.length);
    real.call(this, bytes);
  });
  try {
    return { result: await run(), fed: [...fed.values()] };
  } finally {
    spy.mockRestore();
  }
}

/** Every buffer of 1 MiB or more allocated while `run` runs, to check that none keeps plaintext. */
async function plaintextBuffers(run: () => Promise<unknown>): Promise<{ buffers: Buffer[]; error: unknown }> {
  const buffers: Buffer[] = [];
  const real = Buffer.allocUnsafe;
  const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
    const b = real(size);
    if (size >= 1 << 20) buffers.push(b);
    return b;
  });
  try {
    return {
      buffers,
      error: await run().then(
        () => undefined,
        (e: unknown) => e,
      ),
    };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-load-sealed-'));
  ring = await LocalKeyring.init(join(dir, 'ring'), randomBytes(16), { scryptCost: 1024 });
  await ring.create('owner');
  other = await LocalKeyring.init(join(dir, 'other'), randomBytes(16), { scryptCost: 1024 });
  await other.create('owner');
  plaintext = randomBytes(11 * 1024 * 1024 + 123);
  sealed = await sealBuffer(plaintext, { recipients: ['local:owner'], providers: [ring], chunkSize: CHUNK });
});
afterAll(async () => {
  ring?.close();
  other?.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('unsealFileToMemory', () => {
  it('tells a watcher of each authenticated prefix, in order, even when later batches finish first', async () => {
    const path = await file('watched.sealed', sealed);
    const watched = async (concurrency: number) => {
      const seen: { end: number; ok: boolean }[] = [];
      let view: Buffer | undefined;
      const out = await unsealFileToMemory(path, {
        providers: [ring],
        concurrency,
        watch: (buffer) => {
          view = buffer;
          return (end) => seen.push({ end, ok: buffer.subarray(0, end).equals(plaintext.subarray(0, end)) });
        },
      });
      expect(view?.buffer).toBe(out.buffer);
      expect(view?.length).toBe(plaintext.length);
      expect(seen.every((x) => x.ok)).toBe(true);
      expect(seen.at(-1)?.end).toBe(plaintext.length);
      return seen.map((x) => x.end);
    };
    // One batch at a time: a prefix per batch, growing.
    const one = await watched(1);
    expect(one.length).toBeGreaterThan(2);
    expect(one).toEqual([...one].sort((a, b) => a - b));
    // The first batch held back: the later ones finish first, and nothing is told until it is in.
    hold.firstBatchMs = 150;
    try {
      expect(await watched(4)).toEqual([plaintext.length]);
    } finally {
      hold.firstBatchMs = 0;
    }
  });

  it('hashes a split while it decrypts: loadSplit gives the digest of the whole plaintext', async () => {
    const { bytes: tensor, sha256 } = await tensorFileBytes(300_000);
    const path = await file(
      'split.tensor.sealed',
      await sealBuffer(tensor, { recipients: ['local:owner'], providers: [ring], chunkSize: CHUNK }),
    );
    const split = await loadSplit(path, [ring]);
    try {
      expect(split.sealed).toBe(true);
      expect(split.sha256).toBe(sha256);
      expect(split.dataset.rows).toBe(300_000);
    } finally {
      split.wipe();
    }
  });

  it('returns the plaintext when the keys arrive after the file was read ahead', async () => {
    const path = await file('ok.sealed', sealed);
    let out: Buffer = Buffer.alloc(0);
    const { buffers, error } = await plaintextBuffers(async () => {
      const keys = later([ring]);
      const opening = unsealFileToMemory(path, { providers: keys.soon });
      // Let the whole file be read before the keys come.
      await new Promise((resolve) => setTimeout(resolve, 100));
      keys.arrive();
      out = await opening;
    });
    expect(error).toBeUndefined();
    expect(out.length).toBe(plaintext.length);
    expect(out.equals(plaintext)).toBe(true);
    // The plaintext is in the returned view only: behind it lies the file's own ciphertext, and
    // any other buffer it passed through is zero.
    const behind = Buffer.from(out.buffer, out.byteOffset + out.length);
    expect(behind.length).toBeGreaterThan(0);
    expect(behind.equals(sealed.subarray(sealed.length - behind.length))).toBe(true);
    for (const b of buffers.filter((x) => x.buffer !== out.buffer))
      expect(b.every((x) => x === 0)).toBe(true);
  });

  it('returns the plaintext with keys at hand, on one lane or many', async () => {
    const path = await file('ok-now.sealed', sealed);
    for (const concurrency of [1, 4])
      expect((await unsealFileToMemory(path, { providers: [ring], concurrency })).equals(plaintext)).toBe(
        true,
      );
  });

  it('opens later batches first without writing over ciphertext an earlier one still needs', async () => {
    // Ten batches: the plaintext places of the fifth and later ones cover the first's ciphertext.
    const big = randomBytes(40 * 1024 * 1024 + 5);
    const path = await file(
      'many-batches.sealed',
      await sealBuffer(big, { recipients: ['local:owner'], providers: [ring], chunkSize: CHUNK }),
    );
    hold.firstBatchMs = 300;
    try {
      const out = await unsealFileToMemory(path, { providers: [ring] });
      expect(out.equals(big)).toBe(true);
    } finally {
      hold.firstBatchMs = 0;
    }
  });

  it('tells the SHA-256 of the file as stored, each batch hashed before its plaintext covers it', async () => {
    const big = randomBytes(40 * 1024 * 1024 + 5);
    const bytes = await sealBuffer(big, { recipients: ['local:owner'], providers: [ring], chunkSize: CHUNK });
    const path = await file('stored-digest.sealed', bytes);
    const want = createHash('sha256').update(bytes).digest('hex');
    // The lag below is the addon's: without it, node:crypto hashes at once and nothing could lag.
    expect(tryLoadNativeSha256()).toBeDefined();
    for (const concurrency of [1, 4]) {
      const digests: string[] = [];
      // Each update of the stored file's hash starts 30 ms late: a plaintext written over
      // ciphertext not yet hashed would change the digest.
      hold.shaUpdateMs = 30;
      try {
        const out = await unsealFileToMemory(path, {
          providers: [ring],
          concurrency,
          onStoredSha256: (d) => digests.push(d),
        });
        expect(out.equals(big)).toBe(true);
      } finally {
        hold.shaUpdateMs = 0;
      }
      expect(digests).toEqual([want]);
    }
    // Keys that arrive after the read, and a file of one chunk: the same digest as its bytes.
    const keys = later([ring]);
    const smallBytes = await sealBuffer(Buffer.from('x'), { recipients: ['local:owner'], providers: [ring] });
    const small = await file('small.sealed', smallBytes);
    for (const [p, soon, digest] of [
      [path, keys.soon, want],
      [small, [ring], createHash('sha256').update(smallBytes).digest('hex')],
    ] as const) {
      let told = '';
      const opening = unsealFileToMemory(p, {
        providers: soon,
        onStoredSha256: (d) => {
          told = d;
        },
      });
      keys.arrive();
      await opening;
      expect(told).toBe(digest);
    }
    // A file that does not open tells nothing.
    let told: string | undefined;
    await expect(
      unsealFileToMemory(await file('flipped.sealed', flipped(bytes, bytes.length - 20, 1)), {
        providers: [ring],
        onStoredSha256: (d) => {
          told = d;
        },
      }),
    ).rejects.toMatchObject({ code: 'ERR_SEAL_DECRYPT_FAILED' });
    expect(told).toBeUndefined();
  });

  it('fails on a flipped bit in the last chunk, after the earlier batches decrypted, and wipes them', async () => {
    const bad = flipped(sealed, sealed.length - 20, 0x01);
    const path = await file('tampered-last.sealed', bad);
    const { buffers, error } = await plaintextBuffers(() => unsealFileToMemory(path, { providers: [ring] }));
    expect(error).toMatchObject({ code: 'ERR_SEAL_DECRYPT_FAILED' });
    expect(String((error as Error).message)).toContain(path);
    expect(buffers.length).toBeGreaterThan(0);
    for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
  });

  it('fails on a flipped bit in a middle batch and on two swapped chunks, returning nothing', async () => {
    const middle = flipped(sealed, BODY + 1500 * STRIDE + 7, 0x80);
    const swapped = Buffer.from(sealed);
    sealed.copy(swapped, BODY + 3 * STRIDE, BODY + 4 * STRIDE, BODY + 5 * STRIDE);
    sealed.copy(swapped, BODY + 4 * STRIDE, BODY + 3 * STRIDE, BODY + 4 * STRIDE);
    for (const [name, bytes] of [
      ['flipped', middle],
      ['swapped', swapped],
    ] as const) {
      const path = await file(`${name}.sealed`, bytes);
      const { buffers, error } = await plaintextBuffers(() => {
        const keys = later([ring]);
        const opening = unsealFileToMemory(path, { providers: keys.soon });
        keys.arrive();
        return opening;
      });
      expect(error).toMatchObject({ code: 'ERR_SEAL_DECRYPT_FAILED' });
      expect(buffers.length).toBeGreaterThan(0);
      for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
    }
  });

  it('reports a file cut inside a chunk, at a chunk boundary, or extended, without plaintext', async () => {
    const chunks = Math.ceil((sealed.length - BODY) / STRIDE);
    const cases = [
      ['cut-inside', sealed.subarray(0, sealed.length - 100), 'ERR_SEAL_TRUNCATED', true],
      ['cut-boundary', sealed.subarray(0, BODY + (chunks - 1) * STRIDE), 'ERR_SEAL_TRUNCATED', true],
      ['cut-header', sealed.subarray(0, 100), 'ERR_SEAL_TRUNCATED', false],
      ['extended', Buffer.concat([sealed, randomBytes(STRIDE)]), 'ERR_SEAL_DECRYPT_FAILED', true],
    ] as const;
    for (const [name, bytes, code, readAhead] of cases) {
      const path = await file(`${name}.sealed`, Buffer.from(bytes));
      const { buffers, error } = await plaintextBuffers(() =>
        unsealFileToMemory(path, { providers: [ring] }),
      );
      expect(error, name).toMatchObject({ code });
      expect(buffers.length, name).toBe(readAhead ? 1 : 0);
      for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
    }
  });

  it('reports a file that ends early or fails while it is read ahead, without plaintext and without hanging', async () => {
    const path = await file('breaks.sealed', sealed);
    // With the stored file hashed too, a decryption that waits for the hash of bytes never read
    // must end as well, and no digest is told.
    for (const [how, hashStored] of [
      ['short', false],
      ['eio', false],
      ['short', true],
      ['eio', true],
    ] as const) {
      broken.at = BODY + 3 * 1024 * 1024; // after the first batches: some decrypt first
      broken.how = how;
      const told: string[] = [];
      const what = `${how}${hashStored ? ', stored hash' : ''}`;
      try {
        const { buffers, error } = await plaintextBuffers(() =>
          unsealFileToMemory(path, {
            providers: [ring],
            ...(hashStored ? { onStoredSha256: (d: string) => void told.push(d) } : {}),
          }),
        );
        if (how === 'short') expect(error, what).toMatchObject({ code: 'ERR_SEAL_TRUNCATED' });
        else expect(error, what).toMatchObject({ code: 'ERR_IO_FAILED' });
        expect(String((error as Error).message), what).toContain(path);
        expect(buffers.length, what).toBe(1);
        for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
        expect(told, what).toEqual([]);
      } finally {
        broken.at = -1;
      }
    }
  });

  it('reports a wrong key as such, and a refused release as the release error', async () => {
    const path = await file('wrong-key.sealed', sealed);
    await expect(unsealFileToMemory(path, { providers: [other] })).rejects.toMatchObject({
      code: 'ERR_KMS_UNWRAP_FAILED',
    });
    const refused = Promise.reject(Object.assign(new Error('refused'), { code: 'ERR_RELEASE_DENIED' }));
    await expect(unsealFileToMemory(path, { providers: refused })).rejects.toMatchObject({
      code: 'ERR_RELEASE_DENIED',
    });
  });

  it('names a missing file', async () => {
    await expect(unsealFileToMemory(join(dir, 'absent.sealed'), { providers: [ring] })).rejects.toMatchObject(
      {
        code: 'ERR_IO_NOT_FOUND',
      },
    );
  });
});

describe('loading a sealed split', () => {
  let plainDir: string;
  let sealedDir: string;

  beforeAll(async () => {
    const rows = ['a,b,c,label'];
    for (let i = 0; i < 3000; i++) rows.push(`${i % 13},${(i * 7) % 11},${i % 5},${i % 3 === 0 ? 'x' : 'y'}`);
    await writeFile(join(dir, 'data.csv'), `${rows.join('\n')}\n`);
    const signingKey = await loadLineageSigningKey(dir);
    const base = { infer: { label: 'label' }, signingKey };
    plainDir = join(dir, 'plain');
    sealedDir = join(dir, 'sealed');
    await prepareDataset(join(dir, 'data.csv'), plainDir, base);
    await prepareDataset(join(dir, 'data.csv'), sealedDir, {
      ...base,
      seal: { recipients: ['local:owner'], providers: [ring] },
    });
  });

  it('gives the same rows and tensor digest as the plaintext file, and wipe() zeroes them', async () => {
    const plain = await readFile(join(plainDir, 'train.tensor'));
    const keys = later([ring]);
    const loading = loadSplit(join(sealedDir, 'train.tensor.sealed'), keys.soon);
    keys.arrive();
    const split = await loading;
    const expected = readTensorFile(plain);
    expect(split.sealed).toBe(true);
    expect(split.sha256).toBe(expected.sha256);
    const bytesOf = (t: ArrayBufferView) => Buffer.from(t.buffer, t.byteOffset, t.byteLength);
    for (const name of ['features', 'labels'] as const) {
      const want = expected.tensors.get(name)?.data;
      if (!want) throw new Error(`no ${name} tensor`);
      expect(bytesOf(split.dataset[name]).equals(bytesOf(want))).toBe(true);
    }
    expect(split.dataset.rows).toBeGreaterThan(0);
    split.wipe();
    expect(split.dataset.features.every((x) => x === 0)).toBe(true);
    expect(split.dataset.labels.every((x) => x === 0)).toBe(true);
  });

  it('wipeSoon() zeroes the plaintext off this thread; wipe() on the way ends it at once', async () => {
    // 24 MiB of features.
    const rows = 98_304;
    const features = new Float32Array(rows * 64).map((_, i) => (i % 97) + 1);
    const labels = new Int32Array(rows).map((_, i) => i % 2);
    const chunks: Uint8Array[] = [];
    const writer = new TensorFileWriter(
      {
        split: 'train',
        columns: Array.from({ length: 64 }, (_, i) => `f${i}`),
        labelColumn: 'y',
        classes: ['a', 'b'],
        tensors: [
          { name: 'features', dtype: 'float32', shape: [rows, 64] },
          { name: 'labels', dtype: 'int32', shape: [rows] },
        ],
      },
      async (chunk) => {
        chunks.push(Uint8Array.from(chunk));
      },
    );
    await writer.writeRows('features', features);
    await writer.writeRows('labels', labels);
    await writer.finish();
    const path = join(dir, 'big.tensor');
    await writeFile(path, Buffer.concat(chunks));
    const zeros = (t: Float32Array | Int32Array) => t.filter((x) => x === 0).length;

    const whole = await loadSplit(path, [ring]);
    // The event loop runs while the split is zeroed: this thread is not held for all of it.
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await whole.wipeSoon();
    expect(turned).toBe(true);
    expect(zeros(whole.dataset.features)).toBe(whole.dataset.features.length);
    expect(zeros(whole.dataset.labels)).toBe(rows);

    const split = await loadSplit(path, [ring]);
    const wiping = split.wipeSoon();
    split.wipe();
    expect(zeros(split.dataset.features)).toBe(split.dataset.features.length);
    expect(zeros(split.dataset.labels)).toBe(rows);
    await wiping;
  });

  it("checks a sealed split's checksum and structure; its tensors' own digests only when it is not sealed", async () => {
    const { bytes } = await tensorFileBytes(5000);
    const sealedAs = async (name: string, content: Buffer) =>
      file(
        name,
        await sealBuffer(content, { recipients: ['local:owner'], providers: [ring], chunkSize: CHUNK }),
      );
    const at = readTensorFile(bytes).header.tensors[0]?.offset ?? 0;
    // A wrong checksum (as its writer sealed it): refused, sealed or not.
    const badChecksum = flipped(bytes, bytes.length - 1, 1);
    for (const path of [
      await file('sum.tensor', badChecksum),
      await sealedAs('sum.tensor.sealed', badChecksum),
    ])
      await expect(loadSplit(path, [ring])).rejects.toMatchObject({
        code: 'ERR_DATA_MALFORMED',
        details: { reason: 'checksum' },
      });
    // A tensor unlike its trailer digest under a checksum over it all: only its writer can make
    // it. Plain, it is refused; sealed, AES-GCM authenticated the writer's bytes and the file's
    // digest (the lineage's) is what counts.
    const unlike = flipped(bytes, at, 1);
    const end = unlike.length - 32;
    createHash('sha256').update(unlike.subarray(0, end)).digest().copy(unlike, end);
    await expect(loadSplit(await file('unlike.tensor', unlike), [ring])).rejects.toMatchObject({
      details: { reason: 'tensor-checksum' },
    });
    const split = await loadSplit(await sealedAs('unlike.tensor.sealed', unlike), [ring]);
    expect(split.sha256).toBe(createHash('sha256').update(unlike).digest('hex'));
    split.wipe();
  });

  it('hashes a sealed split in one SHA-256 stream (the file), a plaintext split in one per tensor more', async () => {
    const streams = async (path: string) =>
      (await streamsFed(async () => (await loadSplit(path, [ring])).wipe())).fed.length;
    expect(await streams(join(sealedDir, 'train.tensor.sealed'))).toBe(1);
    expect(await streams(join(plainDir, 'train.tensor'))).toBe(3); // the file, features, labels
  });

  it('checks a sealed split its lineage signs as stored, while it is read: its plaintext is not hashed', async () => {
    const path = join(sealedDir, 'train.tensor.sealed');
    const manifest = JSON.parse(await readFile(join(sealedDir, 'lineage.json'), 'utf8')) as {
      outputs: { path: string; sha256: string; plaintextSha256?: string }[];
    };
    const entry = manifest.outputs.find((o) => o.path === 'train.tensor.sealed');
    if (!entry?.plaintextSha256) throw new Error('no signed digests for train.tensor.sealed');
    const plainBytes = await readFile(join(plainDir, 'train.tensor'));
    const plainDigest = readTensorFile(plainBytes).sha256;
    expect(entry.plaintextSha256).toBe(plainDigest);
    /** Loads with `signed`; the streams fed and the bytes each one took. */
    const load = async (signed: { sha256: string; plaintextSha256: string }) => {
      const { result, fed } = await streamsFed(async () => {
        const split = await loadSplit(path, [ring], { signed });
        split.wipe();
        return split.sha256;
      });
      return { sha256: result, fed };
    };
    const size = (await stat(path)).size;
    const plainSize = plainBytes.length;
    // Stored as signed: one stream, over the sealed bytes; the digest is the signed plaintext's.
    expect(await load({ sha256: entry.sha256, plaintextSha256: entry.plaintextSha256 })).toEqual({
      sha256: plainDigest,
      fed: [size],
    });
    // Which is taken as signed: the owner hashed this very plaintext, and it is not hashed again.
    const other = 'ab'.repeat(32);
    expect((await load({ sha256: entry.sha256, plaintextSha256: other })).sha256).toBe(other);
    // Stored otherwise than signed (rewrapped since, say): the plaintext is hashed after all, and
    // its own digest is what the lineage check then compares.
    expect(await load({ sha256: '00'.repeat(32), plaintextSha256: other })).toEqual({
      sha256: plainDigest,
      fed: [size, plainSize],
    });
    // A changed byte is still refused by AES-GCM, and returns nothing.
    const bad = await file('signed-bad.tensor.sealed', flipped(await readFile(path), size - 20, 4));
    await expect(
      loadSplit(bad, [ring], { signed: { sha256: entry.sha256, plaintextSha256: entry.plaintextSha256 } }),
    ).rejects.toMatchObject({ code: 'ERR_SEAL_DECRYPT_FAILED' });
  });

  it('reads an unsealed file as it is, without waiting for keys that never come', async () => {
    const never = new Promise<readonly KeyProvider[]>(() => {});
    const { bytes, sealed: wasSealed } = await readInput(join(plainDir, 'train.tensor'), never);
    expect(wasSealed).toBe(false);
    expect(bytes.equals(await readFile(join(plainDir, 'train.tensor')))).toBe(true);
  });
});
