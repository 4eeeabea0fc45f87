import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChunkCipher,
  loadChunkCipher,
  nativeChunkCipher,
  nodeChunkCipher,
  nonceFor,
} from '../../src/seal/internal/chunk-cipher.js';
import { loadNativeGcm, nativeGcmPath } from '../../src/seal/internal/native-gcm.js';

const TAG = 16;
const MAX_INDEX = 2 ** 32 - 1;

// Loaded eagerly: a missing or broken build fails this file, it never falls back silently.
const native = nativeChunkCipher(loadNativeGcm());
const node = nodeChunkCipher;
const both: readonly ChunkCipher[] = [native, node];

interface Batch {
  key: Buffer;
  plain: Buffer;
  chunkSize: number;
  first: number;
  final: boolean;
}

const chunkCount = (b: Batch): number => Math.max(1, Math.ceil(b.plain.length / b.chunkSize));

function seal(cipher: ChunkCipher, b: Batch): Buffer {
  const dst = Buffer.alloc(b.plain.length + chunkCount(b) * TAG, 0xaa);
  cipher.seal(b.key, b.plain, dst, b.chunkSize, b.first, b.final);
  return dst;
}

/** Opens into a buffer prefilled with 0xff so that zeroing is visible. */
function open(cipher: ChunkCipher, b: Batch, sealed: Buffer, key = b.key, final = b.final): [number, Buffer] {
  const dst = Buffer.alloc(b.plain.length, 0xff);
  return [cipher.open(key, sealed, dst, b.chunkSize, b.first, final), dst];
}

/** Checks that chunks before `failed` hold the plaintext and everything from it on is zero. */
function expectZeroFrom(b: Batch, dst: Buffer, failed: number): void {
  const from = failed * b.chunkSize;
  expect(dst.subarray(0, from).equals(b.plain.subarray(0, from))).toBe(true);
  expect(dst.subarray(from).every((x) => x === 0)).toBe(true);
}

function batch(length: number, chunkSize: number, first = 0, final = true): Batch {
  return { key: randomBytes(32), plain: randomBytes(length), chunkSize, first, final };
}

describe('native AES-GCM addon', () => {
  it('loads from build/Release and is the default cipher', () => {
    expect(nativeGcmPath()).toMatch(/build[/\\]Release[/\\]sealtrain_native\.node$/);
    expect(loadChunkCipher().name).toBe('native');
  });

  it('matches the NIST GCM vectors for AES-256 with a zero key (test cases 13 and 14)', () => {
    // Chunk 0, not final: the nonce is 12 zero bytes.
    const key = Buffer.alloc(32);
    for (const cipher of both) {
      const empty = Buffer.alloc(TAG);
      cipher.seal(key, Buffer.alloc(0), empty, 64, 0, false);
      expect(empty.toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b');
      const block = Buffer.alloc(16 + TAG);
      cipher.seal(key, Buffer.alloc(16), block, 64, 0, false);
      expect(block.toString('hex')).toBe('cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919');
    }
  });

  it('seals an empty final chunk as node:crypto does with nonce u88(0) || 01', () => {
    const key = randomBytes(32);
    const nonce = Buffer.from('000000000000000000000001', 'hex');
    const reference = createCipheriv('aes-256-gcm', key, nonce);
    reference.final();
    const dst = Buffer.alloc(TAG);
    native.seal(key, Buffer.alloc(0), dst, 65536, 0, true);
    expect(dst.equals(reference.getAuthTag())).toBe(true);
  });

  it('builds nonces as u88(index) || final flag', () => {
    expect(nonceFor(0, false).toString('hex')).toBe('000000000000000000000000');
    expect(nonceFor(0x01020304, true).toString('hex')).toBe('000000000000000102030401');
    expect(nonceFor(MAX_INDEX, true).toString('hex')).toBe('00000000000000ffffffff01');
    expect(() => nonceFor(2 ** 32, false)).toThrow(RangeError);
    expect(() => nonceFor(-1, false)).toThrow(RangeError);
  });
});

describe('native and node ciphers agree', () => {
  const cs = 64;
  const cases: [string, Batch][] = [
    ['empty', batch(0, cs)],
    ['empty, not final', batch(0, cs, 7, false)],
    ['1 byte', batch(1, cs)],
    ['exactly chunkSize', batch(cs, cs)],
    ['chunkSize + 1', batch(cs + 1, cs)],
    ['many chunks, not final', batch(37 * cs + 5, cs, 3, false)],
    ['many whole chunks', batch(40 * cs, cs, 1000)],
    ['last index 2^32 − 1', batch(10, cs, MAX_INDEX)],
    ['ending at index 2^32 − 1', batch(5 * cs, cs, MAX_INDEX - 4, false)],
    ['1 MiB of 64 KiB chunks plus a tail', batch(2 ** 20 + 100, 65536, 12345)],
  ];

  it.each(cases)('%s: byte-identical output, and each opens the other', (_, b) => {
    const a = seal(native, b);
    const n = seal(node, b);
    expect(a.equals(n)).toBe(true);
    for (const [cipher, sealed] of [
      [native, n],
      [node, a],
    ] as const) {
      const [failed, dst] = open(cipher, b, sealed);
      expect(failed).toBe(-1);
      expect(dst.equals(b.plain)).toBe(true);
    }
  });

  it('agree on random keys, sizes, indices and flags', () => {
    const arb = fc.record({
      key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      length: fc.nat(3000),
      chunkSize: fc.integer({ min: 1, max: 700 }),
      first: fc.integer({ min: 0, max: MAX_INDEX }),
      final: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (r) => {
        const b: Batch = { ...r, key: Buffer.from(r.key), plain: randomBytes(r.length) };
        b.first = Math.min(b.first, 2 ** 32 - chunkCount(b));
        const a = seal(native, b);
        expect(a.equals(seal(node, b))).toBe(true);
        expect(open(node, b, a)[0]).toBe(-1);
        const [failed, dst] = open(native, b, a);
        expect(failed).toBe(-1);
        expect(dst.equals(b.plain)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('opening fails closed', () => {
  const b = batch(6 * 50 + 9, 50, 41);
  const sealed = seal(node, b);
  const stride = b.chunkSize + TAG;

  it('reports the chunk of any flipped bit and zeroes dst from it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), (bit) => {
        const bad = Buffer.from(sealed);
        bad[bit >> 3] = (bad[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const chunk = Math.floor((bit >> 3) / stride);
        for (const cipher of both) {
          const [failed, dst] = open(cipher, b, bad);
          expect(failed).toBe(chunk);
          expectZeroFrom(b, dst, chunk);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('reports a flipped tag byte in every chunk', () => {
    for (let chunk = 0; chunk < 7; chunk++) {
      const bad = Buffer.from(sealed);
      const tagEnd = Math.min(sealed.length, (chunk + 1) * stride);
      bad[tagEnd - 1] = (bad[tagEnd - 1] ?? 0) ^ 0x80;
      for (const cipher of both) {
        const [failed, dst] = open(cipher, b, bad);
        expect(failed).toBe(chunk);
        expectZeroFrom(b, dst, chunk);
      }
    }
  });

  it('fails at chunk 0 under a wrong key or a wrong first index', () => {
    for (const cipher of both) {
      const [failed, dst] = open(cipher, b, sealed, randomBytes(32));
      expect(failed).toBe(0);
      expectZeroFrom(b, dst, 0);
      const shifted = Buffer.alloc(b.plain.length, 0xff);
      expect(cipher.open(b.key, sealed, shifted, b.chunkSize, b.first + 1, b.final)).toBe(0);
      expectZeroFrom(b, shifted, 0);
    }
  });

  it('fails at the last chunk when the final flag does not match', () => {
    const last = chunkCount(b) - 1;
    const notFinal = { ...b, final: false };
    const sealedNotFinal = seal(native, notFinal);
    for (const cipher of both) {
      const [f1, d1] = open(cipher, b, sealed, b.key, false);
      expect(f1).toBe(last);
      expectZeroFrom(b, d1, last);
      const [f2, d2] = open(cipher, notFinal, sealedNotFinal, b.key, true);
      expect(f2).toBe(last);
      expectZeroFrom(b, d2, last);
    }
  });

  it('fails for an empty final chunk opened as not final, and the reverse', () => {
    const empty = batch(0, 64, 0, true);
    for (const cipher of both) {
      expect(open(cipher, empty, seal(cipher, empty), empty.key, false)[0]).toBe(0);
      expect(open(cipher, { ...empty, final: false }, seal(cipher, empty), empty.key, false)[0]).toBe(0);
      expect(open(cipher, empty, seal(cipher, { ...empty, final: false }), empty.key, true)[0]).toBe(0);
    }
  });
});

describe('async variants', () => {
  const b = batch(16 * 4096 + 77, 4096, 9);

  it.each(both.map((c) => [c.name, c] as const))('%s agrees with the sync calls', async (_, cipher) => {
    const want = seal(cipher, b);
    const got = Buffer.alloc(want.length);
    await cipher.sealAsync(b.key, b.plain, got, b.chunkSize, b.first, b.final);
    expect(got.equals(want)).toBe(true);
    const dst = Buffer.alloc(b.plain.length);
    expect(await cipher.openAsync(b.key, got, dst, b.chunkSize, b.first, b.final)).toBe(-1);
    expect(dst.equals(b.plain)).toBe(true);
    got[5 * (4096 + TAG) + 3] = (got[5 * (4096 + TAG) + 3] ?? 0) ^ 1;
    dst.fill(0xff);
    expect(await cipher.openAsync(b.key, got, dst, b.chunkSize, b.first, b.final)).toBe(5);
    expectZeroFrom(b, dst, 5);
  });

  it('runs many native calls in flight with the same results as node', async () => {
    const batches = Array.from({ length: 8 }, (_, i) => batch(8 * 4096 - i, 4096, i * 8, i === 7));
    const outs = batches.map((x) => Buffer.alloc(x.plain.length + chunkCount(x) * TAG));
    await Promise.all(
      batches.map((x, i) => native.sealAsync(x.key, x.plain, outs[i] as Buffer, 4096, x.first, x.final)),
    );
    batches.forEach((x, i) => {
      expect(outs[i]?.equals(seal(node, x))).toBe(true);
    });
    const plains = batches.map((x) => Buffer.alloc(x.plain.length));
    const failed = await Promise.all(
      batches.map((x, i) =>
        native.openAsync(x.key, outs[i] as Buffer, plains[i] as Buffer, 4096, x.first, x.final),
      ),
    );
    expect(failed).toEqual(batches.map(() => -1));
    batches.forEach((x, i) => {
      expect(plains[i]?.equals(x.plain)).toBe(true);
    });
  });
});

describe('bad arguments', () => {
  const key = randomBytes(32);
  const src = randomBytes(100);
  const cs = 32; // 4 chunks: dst is 164 bytes
  const dst = Buffer.alloc(164);
  const sealed = seal(node, { key, plain: src, chunkSize: cs, first: 0, final: true });
  const plain = Buffer.alloc(100);
  const any = (x: unknown) => x as Uint8Array;
  const overlap = Buffer.alloc(300);

  type Args = [Uint8Array, Uint8Array, Uint8Array, number, number, boolean];
  const sealCases: [string, Args, 'TypeError' | 'RangeError'][] = [
    ['key not bytes', [any('k'.repeat(32)), src, dst, cs, 0, true], 'TypeError'],
    ['key 31 bytes', [key.subarray(1), src, dst, cs, 0, true], 'RangeError'],
    ['src not bytes', [key, any([1, 2]), dst, cs, 0, true], 'TypeError'],
    ['src a Uint16Array', [key, any(new Uint16Array(50)), dst, cs, 0, true], 'TypeError'],
    ['dst not bytes', [key, src, any(undefined), cs, 0, true], 'TypeError'],
    ['dst too short', [key, src, dst.subarray(1), cs, 0, true], 'RangeError'],
    ['dst too long', [key, src, Buffer.alloc(165), cs, 0, true], 'RangeError'],
    ['chunkSize 0', [key, src, dst, 0, 0, true], 'RangeError'],
    ['chunkSize fractional', [key, src, dst, 32.5, 0, true], 'RangeError'],
    ['chunkSize above 2^30', [key, src, dst, 2 ** 30 + 1, 0, true], 'RangeError'],
    ['chunkSize not a number', [key, src, dst, any('32') as unknown as number, 0, true], 'TypeError'],
    ['firstIndex negative', [key, src, dst, cs, -1, true], 'RangeError'],
    ['firstIndex NaN', [key, src, dst, cs, Number.NaN, true], 'RangeError'],
    ['firstIndex 2^32', [key, src, dst, cs, 2 ** 32, true], 'RangeError'],
    ['chunks past 2^32', [key, src, dst, cs, MAX_INDEX - 2, true], 'RangeError'],
    ['finalIsLast not boolean', [key, src, dst, cs, 0, any(1) as unknown as boolean], 'TypeError'],
    [
      'src and dst overlap',
      [key, overlap.subarray(0, 100), overlap.subarray(90, 254), cs, 0, true],
      'RangeError',
    ],
  ];
  const openCases: [string, Args, 'TypeError' | 'RangeError'][] = [
    ['src shorter than a tag', [key, sealed.subarray(0, 15), Buffer.alloc(0), cs, 0, true], 'RangeError'],
    [
      'last chunk shorter than a tag',
      [key, sealed.subarray(0, 48 + 10), Buffer.alloc(32), cs, 0, true],
      'RangeError',
    ],
    ['dst too long', [key, sealed, Buffer.alloc(101), cs, 0, true], 'RangeError'],
    ['key 33 bytes', [randomBytes(33), sealed, plain, cs, 0, true], 'RangeError'],
    ['chunks past 2^32', [key, sealed, plain, cs, MAX_INDEX, true], 'RangeError'],
    [
      'src and dst overlap',
      [key, overlap.subarray(0, 164), overlap.subarray(100, 200), cs, 0, true],
      'RangeError',
    ],
  ];

  const expectError = (run: () => unknown, name: string) => {
    expect(run).toThrow(
      expect.objectContaining({
        name,
        code: name === 'TypeError' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE',
      }),
    );
  };

  it.each(sealCases)('seal: %s', async (_, args, name) => {
    for (const cipher of both) {
      expectError(() => cipher.seal(...args), name);
      await expect(cipher.sealAsync(...args)).rejects.toThrow(expect.objectContaining({ name }));
    }
  });

  it.each(openCases)('open: %s', async (_, args, name) => {
    for (const cipher of both) {
      expectError(() => cipher.open(...args), name);
      await expect(cipher.openAsync(...args)).rejects.toThrow(expect.objectContaining({ name }));
    }
  });

  it('gives the same messages from both ciphers', () => {
    const message = (run: () => unknown): string => {
      try {
        run();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    for (const [, args] of sealCases) {
      expect(message(() => native.seal(...args))).toBe(message(() => node.seal(...args)));
    }
    for (const [, args] of openCases) {
      expect(message(() => native.open(...args))).toBe(message(() => node.open(...args)));
    }
  });
});
