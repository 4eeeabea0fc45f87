import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuplicateIndex, NearDuplicateIndex } from '../../src/data/checks.js';
import { countDuplicates, groupKeys } from '../../src/data/internal/key-groups.js';
import { ExactKeys, RowHasher, round } from '../../src/data/internal/row-hash.js';
import { SplitGroups } from '../../src/data/internal/split-groups.js';
import { Rng } from '../../src/train/index.js';

/** Rows as keys (two words each), split codes (255: not counted) and the row numbers examples use. */
interface Keyed {
  readonly keys: Uint32Array;
  readonly split: Uint8Array;
  readonly rowNumbers: Int32Array;
}

/** What SplitGroups, the table the batch path replaces, reports when fed the rows in order. */
function streamed({ keys, split, rowNumbers }: Keyed, maxExamples: number): string {
  const groups = new SplitGroups(maxExamples);
  split.forEach((s, r) => {
    if (s <= 2) groups.add(keys[2 * r] as number, keys[2 * r + 1] as number, s, rowNumbers[r] as number);
  });
  return JSON.stringify(groups.report());
}

function batched({ keys, split, rowNumbers }: Keyed, maxExamples: number): string {
  return JSON.stringify(countDuplicates(groupKeys(keys, split), split, rowNumbers, maxExamples));
}

/**
 * `rows` rows whose keys come from `alphabet` distinct keys, so many repeat. Half the keys share
 * their first word with another key and a quarter their second, so a bucket or a probe that looked
 * at one word only would merge them.
 */
function keyed(rows: number, alphabet: number, seed: number, notCounted = 0.05): Keyed {
  const rng = new Rng(seed, 1);
  const words = Array.from({ length: alphabet }, (_, i) => {
    const h1 = i % 2 === 1 ? rng.nextUint32() : (i * 0x9e3779b1) >>> 0;
    const h2 = i % 4 === 2 ? 12345 : rng.nextUint32();
    return [h1, h2] as const;
  });
  for (let i = 1; i < alphabet; i += 2)
    words[i] = [(words[i - 1] as readonly [number, number])[0], rng.nextUint32()];
  const keys = new Uint32Array(2 * rows);
  const split = new Uint8Array(rows);
  const rowNumbers = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const [h1, h2] = words[rng.below(alphabet)] as readonly [number, number];
    keys[2 * r] = h1;
    keys[2 * r + 1] = h2;
    const u = rng.next();
    split[r] = u < notCounted ? 255 : u < 0.7 ? 0 : u < 0.85 ? 1 : 2;
    rowNumbers[r] = 3 * r + 1 + rng.below(3);
  }
  return { keys, split, rowNumbers };
}

describe('groupKeys and countDuplicates', () => {
  it('report exactly what the streaming table reports, examples and key order included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        fc.integer({ min: 0, max: 6 }),
        (rows, alphabet, seed, maxExamples) => {
          const data = keyed(rows, alphabet, seed);
          expect(batched(data, maxExamples)).toBe(streamed(data, maxExamples));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agree over many buckets (70,000 rows), with every row distinct or many repeated', () => {
    for (const alphabet of [3_000, 200_000]) {
      const data = keyed(70_000, alphabet, alphabet);
      const report = JSON.parse(batched(data, 10));
      expect(JSON.stringify(report)).toBe(streamed(data, 10));
      expect(report.rows).toBe(data.split.filter((s) => s <= 2).length);
    }
  });

  it('count no rows when every row is left out, and one group when all rows are equal', () => {
    const none = keyed(50, 5, 1, 1);
    expect(JSON.parse(batched(none, 3))).toMatchObject({ rows: 0, distinct: 0 });
    const same = { ...keyed(40_000, 1, 2, 0) };
    const groups = groupKeys(same.keys, same.split);
    expect([groups.distinct, groups.repeated]).toEqual([1, 1]);
    expect(new Set(groups.group)).toEqual(new Set([0]));
    expect(batched(same, 4)).toBe(streamed(same, 4));
  });
});

/** A float32 matrix of `rows` × `width` from a few values, so rows repeat, with -0 and NaN payloads. */
function matrix(rows: number, width: number, seed: number): Float32Array {
  const rng = new Rng(seed, 2);
  const values = new Float32Array(rows * width);
  const bits = new Uint32Array(values.buffer);
  const pool = [0, 1, -1.5, 2.25, 1e-7, 3e38, 123456.7, 0.1];
  for (let i = 0; i < values.length; i++) {
    const pick = rng.below(pool.length + 2);
    if (pick === pool.length) bits[i] = 0x7fc00000 | rng.below(0x3fffff) | (rng.below(2) << 31);
    else if (pick === pool.length + 1) bits[i] = 0x80000000;
    else values[i] = pool[pick] as number;
  }
  return values;
}

describe('RowHasher', () => {
  it('groups float32 rows as DuplicateIndex does: -0 as 0, every NaN alike', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        (rows, width, seed) => {
          const values = matrix(rows, width, seed);
          const split = Uint8Array.from({ length: rows }, (_, r) => r % 3);
          const numbers = Int32Array.from({ length: rows }, (_, r) => r + 1);
          const keys = new Uint32Array(2 * rows);
          new RowHasher(width).exact(values, 0, rows, keys);
          const index = new DuplicateIndex();
          for (let r = 0; r < rows; r++)
            index.add(values.subarray(r * width, (r + 1) * width), (r % 3) as 0 | 1 | 2, r + 1);
          expect(JSON.stringify(countDuplicates(groupKeys(keys, split), split, numbers, 10))).toBe(
            JSON.stringify(index.report()),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('groups rounded rows as NearDuplicateIndex does, large rounded values and exact columns too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.constantFrom(0, 1e-9, 0.5, 2, 1e6), { minLength: 1, maxLength: 4 }),
        fc.integer(),
        (rows, quanta, seed) => {
          const width = quanta.length;
          const values = matrix(rows, width, seed);
          const rng = new Rng(seed, 3);
          // Nudge some values a little, so rounding decides whether rows meet.
          for (let i = 0; i < values.length; i++)
            if (rng.below(4) === 0) values[i] = (values[i] as number) * 1.0000001;
          const split = Uint8Array.from({ length: rows }, (_, r) => (r * 7) % 3);
          const numbers = Int32Array.from({ length: rows }, (_, r) => r + 1);
          const keys = new Uint32Array(2 * rows);
          const q = Float64Array.from(quanta);
          new RowHasher(width).quantised(values, 0, rows, q, keys);
          const index = new NearDuplicateIndex(q);
          for (let r = 0; r < rows; r++)
            index.add(values.subarray(r * width, (r + 1) * width), ((r * 7) % 3) as 0 | 1 | 2, r + 1);
          expect(JSON.stringify(countDuplicates(groupKeys(keys, split), split, numbers, 10))).toBe(
            JSON.stringify(index.report()),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps rounded values apart that share their low 32 bits or sit at the edge of one word', () => {
    const edges = [
      0,
      1,
      -1,
      2 ** 30,
      -(2 ** 30),
      2 ** 30 - 64,
      2 ** 31,
      -(2 ** 31),
      2 ** 32,
      2 ** 33,
      1e9,
      0.5,
    ];
    const values = Float32Array.from(edges);
    const keys = new Uint32Array(2 * edges.length);
    for (const quantum of [1, 0]) {
      new RowHasher(1).quantised(values, 0, edges.length, Float64Array.of(quantum), keys);
      const groups = groupKeys(keys, new Uint8Array(edges.length));
      // 0.5 rounds to 1 (quantum 1): it meets 1 and nothing else.
      expect(groups.distinct).toBe(quantum === 1 ? edges.length - 1 : edges.length);
    }
  });

  it('tells apart rows that differ in one value, and the same row keys alike at any offset', () => {
    const width = 5;
    const values = new Float32Array(3 * width).fill(1);
    values[width + 4] = 1.0000001;
    values.copyWithin(2 * width, 0, width);
    const keys = new Uint32Array(6);
    new RowHasher(width).exact(values, 0, 3, keys);
    expect([keys[0], keys[1]]).not.toEqual([keys[2], keys[3]]);
    expect([keys[0], keys[1]]).toEqual([keys[4], keys[5]]);
  });
});

describe('round', () => {
  it('is Math.round (half up) for every double, zero aside, at the edges and near half-integers', () => {
    const edges = [0.49999999999999994, -0.49999999999999994, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5];
    edges.push(2 ** 52 + 1, -(2 ** 52) - 1, 2 ** 52 - 0.5, -(2 ** 52) + 0.5, 2 ** 53 + 2, 1e300, -1e300);
    edges.push(Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, Infinity, -Infinity, Number.NaN);
    // Math.round gives -0 where round may give 0 (the keys make them one): + 0 turns -0 into 0.
    for (const x of edges) expect(round(x), String(x)).toEqual(Math.round(x) + 0);
    const double = new Float64Array(1);
    const bits = new BigInt64Array(double.buffer);
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.integer({ min: -3, max: 3 }),
        (whole, ulps) => {
          double[0] = whole + 0.5;
          bits[0] = (bits[0] as bigint) + BigInt(ulps);
          const x = double[0] as number;
          expect(round(x) === Math.round(x), String(x)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => {
        expect(round(x) === Math.round(x), String(x)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ExactKeys', () => {
  it('keys rows as they arrive, and rows changed later again when told', () => {
    const width = 3;
    const values = matrix(10_000, width, 9);
    const keys = new ExactKeys(width);
    for (let from = 0; from < 10_000; from += 4096) keys.add(values, from, Math.min(10_000, from + 4096));
    expect(keys.keys).toHaveLength(20_000);
    // Two rows change (as imputation fills them): only redo makes their keys those of the new values.
    values.set([7, 8, 9], 5 * width);
    values.set([7, 8, 9], 9_000 * width);
    keys.redo(values, [5, 9_000]);
    expect([keys.keys[10], keys.keys[11]]).toEqual([keys.keys[18_000], keys.keys[18_001]]);
    const split = new Uint8Array(10_000);
    expect(groupKeys(keys.keys, split).group[5]).toBe(groupKeys(keys.keys, split).group[9_000]);
  });
});
