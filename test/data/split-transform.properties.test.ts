import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DatasetSchema,
  type FittedTransform,
  fitTransform,
  parseDatasetSchema,
  parseFractions,
  SPLITS,
  type SplitFractions,
  stratifiedSplit,
  transformRow,
} from '../../src/data/index.js';
import { type FeatureTransform, type RawMatrix, rowTransformer } from '../../src/data/transform.js';
import { isSealtrainError } from '../../src/errors/index.js';
import { Rng } from '../../src/train/index.js';

/** Split shares as whole percentages: train > 0, all three summing to 100. */
const percentages = fc
  .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 100 }))
  .filter(([t, v]) => t + v <= 100)
  .map(([t, v]) => [t, v, 100 - t - v] as const);

const fractionsOf = ([t, v, s]: readonly [number, number, number]): SplitFractions => ({
  train: t / 100,
  validation: v / 100,
  test: s / 100,
});

const seed = fc.integer({ min: 0, max: 2 ** 32 - 1 });

/** Class per row, -1 for a dropped row; up to 5 classes. */
const strata = fc
  .integer({ min: 1, max: 5 })
  .chain((k) => fc.array(fc.integer({ min: -1, max: k - 1 }), { maxLength: 300 }))
  .map((a) => Int32Array.from(a));

function countsByClass(labels: Int32Array | null, split: Uint8Array): Map<number, number[]> {
  const out = new Map<number, number[]>();
  split.forEach((s, i) => {
    const c = labels === null ? 0 : (labels[i] as number);
    if (c < 0) return;
    const counts = out.get(c) ?? [0, 0, 0];
    counts[s] = (counts[s] as number) + 1;
    out.set(c, counts);
  });
  return out;
}

describe('stratifiedSplit', () => {
  it('assigns every kept row to exactly one split, each class within one row of its shares', () => {
    fc.assert(
      fc.property(strata, percentages, seed, (labels, pct, s) => {
        const fractions = fractionsOf(pct);
        const split = stratifiedSplit(labels, labels.length, fractions, s);
        expect(split).toHaveLength(labels.length);
        labels.forEach((c, i) => {
          if (c < 0) expect(split[i], `dropped row ${i}`).toBe(255);
          else expect([0, 1, 2], `row ${i}`).toContain(split[i]);
        });
        const members = new Map<number, number>();
        for (const c of labels) if (c >= 0) members.set(c, (members.get(c) ?? 0) + 1);
        const counts = countsByClass(labels, split);
        for (const [c, n] of members) {
          const got = counts.get(c) ?? [0, 0, 0];
          expect(got.reduce((a, b) => a + b, 0)).toBe(n);
          SPLITS.forEach((name, k) => {
            const share = n * fractions[name];
            expect(Math.abs((got[k] as number) - share), `class ${c}, ${name}`).toBeLessThanOrEqual(1);
            expect(
              Math.abs((got[k] as number) - Math.round(share)),
              `class ${c}, ${name}`,
            ).toBeLessThanOrEqual(1);
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('without strata (regression) splits all rows as one group', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), percentages, seed, (n, pct, s) => {
        const fractions = fractionsOf(pct);
        const split = stratifiedSplit(null, n, fractions, s);
        const got = countsByClass(null, split).get(0) ?? [0, 0, 0];
        expect(got.reduce((a, b) => a + b, 0)).toBe(n);
        SPLITS.forEach((name, k) => {
          expect(Math.abs((got[k] as number) - n * fractions[name])).toBeLessThanOrEqual(1);
        });
      }),
    );
  });

  it('cuts each stratum in the order its seeded shuffle gives, whatever the strata values', () => {
    // Strata any 32-bit value: small class indices, and large or sparse values, with dropped rows (-1).
    const anyStrata = fc
      .array(fc.constantFrom(-1, 0, 1, 2, 70_000, 2 ** 31 - 1), { maxLength: 300 })
      .map((a) => Int32Array.from(a));
    fc.assert(
      fc.property(anyStrata, percentages, seed, fc.boolean(), (labels, pct, s, regression) => {
        const split = stratifiedSplit(regression ? null : labels, labels.length, fractionsOf(pct), s);
        const strata = regression ? new Set([0]) : new Set([...labels].filter((c) => c >= 0));
        for (const stratum of strata) {
          const members = [...labels.keys()].filter((i) => regression || labels[i] === stratum);
          const order = new Rng(s, 2000 + stratum).permutation(members.length);
          // The rows in shuffled order go to train, then validation, then test.
          const codes = Array.from(order, (k) => split[members[k] as number] as number);
          expect(codes).toEqual([...codes].sort((a, b) => a - b));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same assignment for the same inputs and seed', () => {
    fc.assert(
      fc.property(strata, percentages, seed, (labels, pct, s) => {
        const fractions = fractionsOf(pct);
        const a = stratifiedSplit(labels, labels.length, fractions, s);
        const b = stratifiedSplit(Int32Array.from(labels), labels.length, { ...fractions }, s);
        expect(b).toEqual(a);
      }),
    );
  });

  it('gives a different assignment for a different seed (almost always)', () => {
    const fractions = { train: 0.8, validation: 0.1, test: 0.1 };
    // 200 seeds on 100 rows: some 10^22 possible assignments, so any repeat means the seed is ignored.
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++)
      seen.add(Buffer.from(stratifiedSplit(null, 100, fractions, s)).toString('hex'));
    expect(seen.size).toBe(200);
    fc.assert(
      fc.property(seed, seed, (a, b) => {
        fc.pre(a !== b);
        const labels = Int32Array.from({ length: 60 }, (_, i) => i % 2);
        const x = stratifiedSplit(labels, 60, fractions, a);
        const y = stratifiedSplit(labels, 60, fractions, b);
        expect(Buffer.from(x).equals(Buffer.from(y))).toBe(false);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

type Kind = 'zscore' | 'minmax';

interface Case {
  readonly kinds: readonly Kind[];
  readonly rows: number;
  readonly values: Float32Array;
  readonly split: Uint8Array;
}

/** A float32 value as the pipeline holds them, finite. */
const value = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });

/** A matrix of 2 to 60 rows (at least two in train) and 1 to 4 columns, some constant. */
const matrixCase: fc.Arbitrary<Case> = fc
  .record({
    kinds: fc.array(fc.constantFrom<Kind>('zscore', 'minmax'), { minLength: 1, maxLength: 4 }),
    rows: fc.integer({ min: 2, max: 60 }),
  })
  .chain(({ kinds, rows }) =>
    fc.record({
      kinds: fc.constant(kinds),
      rows: fc.constant(rows),
      // Per column either random values or one constant (fc.float's small set makes ties common too).
      columns: fc.array(
        fc.oneof(
          fc.array(value, { minLength: rows, maxLength: rows }),
          value.map((v) => Array.from({ length: rows }, () => v)),
        ),
        { minLength: kinds.length, maxLength: kinds.length },
      ),
      split: fc
        .array(fc.integer({ min: 0, max: 2 }), { minLength: rows, maxLength: rows })
        .map((s) => [0, 0, ...s.slice(2)]),
    }),
  )
  .map(({ kinds, rows, columns, split }) => {
    const values = new Float32Array(rows * kinds.length);
    columns.forEach((col, j) => {
      col.forEach((v, r) => {
        values[r * kinds.length + j] = v;
      });
    });
    return { kinds, rows, values, split: Uint8Array.from(split) };
  });

function schemaFor(kinds: readonly Kind[]): DatasetSchema {
  return parseDatasetSchema({
    version: 1,
    label: 'y',
    columns: [
      ...kinds.map((normalize, j) => ({ name: `c${j}`, type: 'number' as const, normalize })),
      { name: 'y', type: 'category', categories: ['p', 'q'] },
    ],
  });
}

function matrixOf(schema: DatasetSchema, c: Case): RawMatrix {
  return { values: c.values, rows: c.rows, columns: schema.columns.filter((x) => x.name !== 'y') };
}

/** The transformed training rows, column by column. */
function transformedTrain(t: FittedTransform, c: Case): { raw: number[][]; out: number[][] } {
  const width = c.kinds.length;
  const raw: number[][] = c.kinds.map(() => []);
  const out: number[][] = c.kinds.map(() => []);
  const buffer = new Float32Array(width);
  for (let r = 0; r < c.rows; r++) {
    if (c.split[r] !== 0) continue;
    const row = c.values.subarray(r * width, (r + 1) * width);
    transformRow(t, row, buffer, 0);
    for (let j = 0; j < width; j++) {
      raw[j]?.push(row[j] as number);
      out[j]?.push(buffer[j] as number);
    }
  }
  return { raw, out };
}

function meanStd(v: readonly number[]): { mean: number; std: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (v.length - 1)) };
}

describe('rowTransformer', () => {
  it('writes every row of a matrix exactly as transformRow writes it, for every kind of column', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 });
    const feature: fc.Arbitrary<FeatureTransform> = fc.oneof(
      fc
        .record({ mean: finite, std: finite })
        .map((p) => ({ column: 'z', kind: 'zscore' as const, ...p, outputs: ['z'] })),
      fc
        .record({ min: finite, max: finite })
        .map((p) => ({ column: 'm', kind: 'minmax' as const, ...p, outputs: ['m'] })),
      fc
        .constantFrom('none' as const, 'boolean' as const)
        .map((kind) => ({ column: 'n', kind, outputs: ['n'] })),
      fc.integer({ min: 1, max: 4 }).map((k) => {
        const categories = Array.from({ length: k }, (_, i) => `c${i}`);
        return { column: 'o', kind: 'onehot' as const, categories, outputs: categories };
      }),
    );
    fc.assert(
      fc.property(
        fc.array(feature, { minLength: 1, maxLength: 5 }),
        fc.array(fc.oneof(fc.integer({ min: -1, max: 4 }), fc.float({ noNaN: true })), { maxLength: 60 }),
        (features, cells) => {
          const t: FittedTransform = {
            version: 1,
            features,
            label: { column: 'y', kind: 'value' },
            outputs: features.flatMap((f) => f.outputs),
          };
          const width = features.length;
          const rows = Math.floor(cells.length / width);
          const values = Float32Array.from(cells.slice(0, rows * width));
          const expected = new Float32Array(rows * t.outputs.length);
          const got = new Float32Array(rows * t.outputs.length);
          const compiled = rowTransformer(t);
          for (let r = 0; r < rows; r++) {
            transformRow(t, values.subarray(r * width, (r + 1) * width), expected, r * t.outputs.length);
            compiled(values, r, got, r * t.outputs.length);
          }
          expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('fitTransform', () => {
  it('z-score gives the training rows mean 0 and sample std 1; min-max puts them in [0, 1]', () => {
    fc.assert(
      fc.property(matrixCase, (c) => {
        const schema = schemaFor(c.kinds);
        const t = fitTransform(schema, matrixOf(schema, c), c.split);
        expect(t.outputs).toEqual(c.kinds.map((_, j) => `c${j}`));
        const { raw, out } = transformedTrain(t, c);
        c.kinds.forEach((kind, j) => {
          const x = raw[j] ?? [];
          const y = out[j] ?? [];
          const constant = x.every((v) => v === x[0]);
          if (constant) {
            expect(
              y.every((v) => v === 0),
              `constant column ${j} → 0`,
            ).toBe(true);
            return;
          }
          if (kind === 'zscore') {
            const { mean, std } = meanStd(y);
            expect(Math.abs(mean), `column ${j} mean`).toBeLessThan(1e-5);
            expect(Math.abs(std - 1), `column ${j} std`).toBeLessThan(1e-5);
          } else {
            expect(
              y.every((v) => v >= 0 && v <= 1),
              `column ${j} in [0, 1]`,
            ).toBe(true);
            expect(Math.min(...y)).toBe(0);
            expect(Math.max(...y)).toBe(1);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('depends on the training rows only: changing validation and test rows changes nothing', () => {
    fc.assert(
      fc.property(matrixCase, fc.array(value, { minLength: 240, maxLength: 240 }), (c, noise) => {
        const schema = schemaFor(c.kinds);
        const fitted = fitTransform(schema, matrixOf(schema, c), c.split);
        const width = c.kinds.length;
        const changed = Float32Array.from(c.values, (v, i) =>
          c.split[Math.floor(i / width)] === 0 ? v : (noise[i % noise.length] as number),
        );
        const refitted = fitTransform(schema, matrixOf(schema, { ...c, values: changed }), c.split);
        expect(refitted).toEqual(fitted);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

function rejects(text: string): void {
  try {
    parseFractions(text);
  } catch (error) {
    expect(isSealtrainError(error, 'ERR_USAGE_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toContain(JSON.stringify(text).slice(1, -1));
    return;
  }
  throw new Error(`parseFractions accepted ${JSON.stringify(text)}`);
}

describe('parseFractions', () => {
  it('accepts shares summing to 1 or percentages summing to 100', () => {
    for (const text of ['0.8,0.1,0.1', '80,10,10', ' 0.8 , 0.1 , 0.1 ', '0.80,0.10,0.10']) {
      const f = parseFractions(text);
      expect(f.train, text).toBeCloseTo(0.8, 12);
      expect(f.validation, text).toBeCloseTo(0.1, 12);
      expect(f.test, text).toBeCloseTo(0.1, 12);
    }
    expect(parseFractions('1,0,0')).toEqual({ train: 1, validation: 0, test: 0 });
    expect(parseFractions('70,15,15')).toEqual({ train: 0.7, validation: 0.15, test: 0.15 });
  });

  it('accepts any whole percentages with train > 0, as percentages and as shares', () => {
    fc.assert(
      fc.property(percentages, (pct) => {
        const [t, v, s] = pct;
        const want = fractionsOf(pct);
        for (const text of [`${t},${v},${s}`, `${t / 100},${v / 100},${s / 100}`]) {
          const f = parseFractions(text);
          expect(f.train).toBeCloseTo(want.train, 12);
          expect(f.validation).toBeCloseTo(want.validation, 12);
          expect(f.test).toBeCloseTo(want.test, 12);
          expect(f.train + f.validation + f.test).toBeCloseTo(1, 9);
        }
      }),
    );
  });

  it('rejects anything else with ERR_USAGE_INVALID quoting the text', () => {
    for (const text of [
      '',
      '0.8',
      '0.8,0.2',
      '0.8,0.1,0.1,0',
      '0.8,0.1,0.1,',
      '0.5,0.5,0.5',
      '0.7,0.1,0.1',
      '-0.2,0.6,0.6',
      '0,0.5,0.5',
      '0,50,50',
      'a,b,c',
      'NaN,0,1',
      'Infinity,0,0',
      '0.8,,0.2',
      '1,,',
      '90,10,10',
    ]) {
      rejects(text);
    }
  });

  it('rejects three numbers that sum to neither 1 nor 100', () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.double({ min: 0, max: 200, noNaN: true }),
          fc.double({ min: 0, max: 200, noNaN: true }),
          fc.double({ min: 0, max: 200, noNaN: true }),
        ),
        ([a, b, c]) => {
          const sum = a + b + c;
          fc.pre(Math.abs(sum - 1) > 1e-6 && Math.abs(sum - 100) > 1e-6);
          rejects(`${a},${b},${c}`);
        },
      ),
    );
  });
});
