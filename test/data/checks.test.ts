import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ColumnStats,
  chiSquareSurvival,
  classBalance,
  DuplicateIndex,
  type DuplicateReport,
  labelDrift,
  NearDuplicateIndex,
  nearDuplicateQuanta,
  OutlierCounter,
  outlierCount,
  ReservoirStats,
} from '../../src/data/checks.js';
import { isSealtrainError } from '../../src/errors/index.js';
import { Rng } from '../../src/train/index.js';

const SPLITS = ['train', 'validation', 'test'] as const;
type Split = (typeof SPLITS)[number];

/** The Wisconsin Diagnostic Breast Cancer example: 30 feature columns and the diagnosis. */
function readWdbc(): { header: string[]; features: Float64Array[]; diagnosis: string[] } {
  const [head = '', ...lines] = readFileSync(new URL('../../examples/wdbc.csv', import.meta.url), 'utf8')
    .trimEnd()
    .split('\n');
  const rows = lines.map((line) => line.split(','));
  return {
    header: head.split(','),
    features: rows.map((r) => Float64Array.from(r.slice(0, 30), Number)),
    diagnosis: rows.map((r) => r[30] ?? ''),
  };
}

/** The report without its examples, which depend on the order rows were added in. */
function counts(report: DuplicateReport): unknown {
  const strip = <T extends { examples: unknown }>({ examples: _, ...rest }: T) => rest;
  return {
    rows: report.rows,
    distinct: report.distinct,
    within: SPLITS.map((s) => strip(report.within[s])),
    across: Object.entries(report.across).map(([pair, c]) => [pair, strip(c)]),
  };
}

function throwsUsage(f: () => unknown): void {
  try {
    f();
  } catch (error) {
    expect(isSealtrainError(error, 'ERR_USAGE_INVALID')).toBe(true);
    return;
  }
  expect.fail('expected ERR_USAGE_INVALID');
}

/** A NaN with the given low payload bits, distinct in its bytes from the canonical NaN. */
function nanWithPayload(bits: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, 0xfff00000, false);
  view.setUint32(4, bits | 1, false);
  return view.getFloat64(0, false);
}

describe('examples/wdbc.csv', () => {
  it('holds 569 rows, 212 malignant and 357 benign, with the published first record', () => {
    const { header, features, diagnosis } = readWdbc();
    expect(header).toHaveLength(31);
    expect(header.slice(0, 2)).toEqual(['radius_mean', 'texture_mean']);
    expect(header.at(-1)).toBe('diagnosis');
    expect(features).toHaveLength(569);
    expect(features.every((row) => row.every(Number.isFinite))).toBe(true);
    expect(diagnosis.filter((d) => d === 'M')).toHaveLength(212);
    expect(diagnosis.filter((d) => d === 'B')).toHaveLength(357);
    expect([features[0]?.[0], features[0]?.[1], diagnosis[0]]).toEqual([17.99, 10.38, 'M']);
  });
});

describe('chiSquareSurvival', () => {
  // Reference values from scipy.stats.chi2.sf.
  const KNOWN: [number, number, number][] = [
    [3.84, 1, 0.05004352124870519],
    [10, 4, 0.04042768199451279],
    [0.5, 1, 0.47950012218695337],
    [1e-6, 3, 0.9999999997340385],
    [50, 30, 0.01240206071890054],
    [100, 50, 3.454931382984871e-5],
    [200, 150, 0.003973185970821635],
    [1000, 1000, 0.49405285382923964],
    [1100, 1000, 0.014614408126295192],
    [3, 7, 0.8850022316431506],
    [0.1, 0.5, 0.48344467916953426],
    [700, 10, 6.280146699235733e-144],
    [40, 3, 1.065509033425585e-8],
    [2.5, 2.5, 0.38147122800307387],
    [3.841458820694124, 1, 0.05],
    [6.6348966010212145, 1, 0.01],
    [5.991464547107979, 2, 0.05],
    [18.307038053275146, 10, 0.05],
  ];

  it.each(KNOWN)('chi2.sf(%d, %d) ≈ %d', (x, df, expected) => {
    expect(Math.abs(chiSquareSurvival(x, df) - expected)).toBeLessThanOrEqual(1e-11 * expected);
  });

  it('matches the closed form for even degrees of freedom', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 200, noNaN: true }), (m, x) => {
        // Q(m, x/2) = e^(−x/2) Σ_{i<m} (x/2)^i / i!
        let term = 1;
        let sum = 1;
        for (let i = 1; i < m; i++) {
          term *= x / 2 / i;
          sum += term;
        }
        const expected = Math.exp(-x / 2) * sum;
        expect(Math.abs(chiSquareSurvival(x, 2 * m) - expected)).toBeLessThanOrEqual(
          1e-12 + 1e-10 * expected,
        );
      }),
    );
  });

  it('falls from 1 to 0 as the statistic grows', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 500, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        (df, x, y) => {
          const [lo, hi] = x <= y ? [x, y] : [y, x];
          const a = chiSquareSurvival(lo, df);
          const b = chiSquareSurvival(hi, df);
          expect(a).toBeGreaterThanOrEqual(b - 1e-14);
          expect(a).toBeLessThanOrEqual(1);
          expect(b).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it('handles the edges and rejects bad degrees of freedom', () => {
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(chiSquareSurvival(-1, 3)).toBe(1);
    expect(chiSquareSurvival(Number.POSITIVE_INFINITY, 3)).toBe(0);
    expect(chiSquareSurvival(Number.NaN, 3)).toBeNaN();
    for (const df of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      throwsUsage(() => chiSquareSurvival(1, df));
  });
});

describe('labelDrift and classBalance', () => {
  it('tests two samples for homogeneity (values from scipy chi2_contingency without correction)', () => {
    const a = labelDrift({ a: 10, b: 20 }, { a: 20, b: 10 });
    expect(a.chiSquare).toBeCloseTo(6.666666666666667, 12);
    expect(a.degreesOfFreedom).toBe(1);
    expect(a.pValue).toBeCloseTo(0.009823274507519235, 14);
    expect(a.totalVariation).toBeCloseTo(1 / 3, 15);
    const b = labelDrift({ x: 50, y: 30, z: 20 }, { x: 45, y: 35, z: 25 });
    expect(b.chiSquare).toBeCloseTo(1.0820212925476087, 12);
    expect(b.degreesOfFreedom).toBe(2);
    expect(b.pValue).toBeCloseTo(0.5821595975351761, 12);
  });

  it('tests goodness of fit to a distribution (values from scipy chisquare)', () => {
    const a = labelDrift({ a: 30, b: 70 }, { a: 1, b: 1 }, { reference: 'distribution' });
    expect([a.chiSquare, a.degreesOfFreedom]).toEqual([16, 1]);
    expect(a.pValue).toBeCloseTo(6.334248366623988e-5, 15);
    const b = labelDrift(
      { p: 18, q: 22, r: 20, s: 40 },
      { p: 0.25, q: 0.25, r: 0.25, s: 0.25 },
      { reference: 'distribution' },
    );
    expect(b.chiSquare).toBeCloseTo(12.32, 12);
    expect(b.pValue).toBeCloseTo(0.006363629995195269, 12);
    const c = labelDrift({ a: 5, b: 1 }, { a: 1 }, { reference: 'distribution' });
    expect([c.chiSquare, c.pValue, c.missingFromReference]).toEqual([Number.POSITIVE_INFINITY, 0, ['b']]);
  });

  it('names the classes either side lacks and treats a zero count as absent', () => {
    const drift = labelDrift({ a: 5, c: 3, d: 0 }, { a: 5, b: 2, d: 0 });
    expect(drift.missingFromCounts).toEqual(['b']);
    expect(drift.missingFromReference).toEqual(['c']);
    expect(drift.degreesOfFreedom).toBe(2);
    expect(labelDrift({ a: 1 }, { b: 1 }).totalVariation).toBe(1);
  });

  it('finds no drift between proportional counts, whatever their scale', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 1000 }), {
          minKeys: 1,
        }),
        fc.integer({ min: 1, max: 50 }),
        (counts, k) => {
          const scaled = Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, n * k]));
          const drift = labelDrift(counts, scaled);
          expect(drift.totalVariation).toBeLessThan(1e-12);
          expect(drift.chiSquare).toBeLessThan(1e-9);
          expect(drift.pValue).toBeGreaterThan(0.999);
          expect([drift.missingFromCounts, drift.missingFromReference]).toEqual([[], []]);
        },
      ),
    );
  });

  it('has nothing to compare when a side is empty, and rejects bad counts', () => {
    const drift = labelDrift({}, { a: 3 });
    expect(drift.totalVariation).toBeNaN();
    expect([drift.chiSquare, drift.degreesOfFreedom, drift.pValue, drift.missingFromCounts]).toEqual([
      0,
      0,
      1,
      ['a'],
    ]);
    throwsUsage(() => labelDrift({ a: -1 }, { a: 1 }));
    throwsUsage(() => labelDrift({ a: 1 }, { a: Number.NaN }));
  });

  it('gives proportions, the imbalance ratio and the extreme classes', () => {
    expect(classBalance({ a: 30, b: 10 })).toEqual({
      total: 40,
      proportions: { a: 0.75, b: 0.25 },
      imbalanceRatio: 3,
      majority: 'a',
      minority: 'b',
    });
    expect(classBalance({ a: 3, b: 0 }).imbalanceRatio).toBe(Number.POSITIVE_INFINITY);
    expect(classBalance({}).imbalanceRatio).toBeNaN();
    expect(classBalance({ M: 212, B: 357 }).imbalanceRatio).toBeCloseTo(357 / 212, 15);
  });
});

/** One row of a planned dataset: its values, its split and the distinct base row it copies. */
interface Entry {
  readonly row: Float64Array;
  readonly split: Split;
  readonly base: number;
}

/** Copies per split of each distinct base row, and the values of the base rows. */
const planArb = fc.record({
  width: fc.integer({ min: 1, max: 5 }),
  bases: fc.array(
    fc.record({
      values: fc.array(fc.oneof(fc.constantFrom(0, -0, Number.NaN, 1, -1.5), fc.double()), {
        minLength: 4,
        maxLength: 4,
      }),
      copies: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3)),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  seed: fc.integer(),
});

type Plan = typeof planArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * The rows of a plan in a seeded random order. Base row i starts with i + 1, so base rows
 * differ; each copy writes its zeros with a random sign and its NaNs with a random payload.
 */
function planRows(plan: Plan): Entry[] {
  const rng = new Rng(plan.seed, 7);
  const entries: Entry[] = [];
  for (const [base, { values, copies }] of plan.bases.entries()) {
    for (const [s, n] of copies.entries()) {
      for (let k = 0; k < n; k++) {
        const row = Float64Array.from([base + 1, ...values.slice(0, plan.width - 1)], (v) =>
          Number.isNaN(v) ? nanWithPayload(rng.nextUint32()) : v === 0 ? (rng.below(2) === 0 ? 0 : -0) : v,
        );
        entries.push({ row, split: SPLITS[s] as Split, base });
      }
    }
  }
  const order = rng.permutation(entries.length);
  return Array.from(order, (i) => entries[i] as Entry);
}

/** What the report must say for a plan, from the copy counts alone. */
function expectedCounts(plan: Plan): unknown {
  const copies = plan.bases.map((b) => b.copies);
  const total = (f: (c: readonly [number, number, number]) => number) =>
    copies.reduce((sum, c) => sum + f(c), 0);
  const pair = (a: 0 | 1 | 2, b: 0 | 1 | 2) => ({
    groups: total((c) => (c[a] > 0 && c[b] > 0 ? 1 : 0)),
    firstRows: total((c) => (c[b] > 0 ? c[a] : 0)),
    secondRows: total((c) => (c[a] > 0 ? c[b] : 0)),
  });
  return {
    rows: total((c) => c[0] + c[1] + c[2]),
    distinct: total((c) => (c[0] + c[1] + c[2] > 0 ? 1 : 0)),
    within: ([0, 1, 2] as const).map((s) => ({
      rows: total((c) => c[s]),
      duplicateRows: total((c) => Math.max(0, c[s] - 1)),
      groups: total((c) => (c[s] > 1 ? 1 : 0)),
    })),
    across: [
      ['train-validation', pair(0, 1)],
      ['train-test', pair(0, 2)],
      ['validation-test', pair(1, 2)],
    ],
  };
}

function indexRows(entries: readonly Entry[]): DuplicateReport {
  const index = new DuplicateIndex();
  for (const e of entries) index.add(e.row, e.split);
  return index.report();
}

describe('DuplicateIndex', () => {
  it('finds exactly the planted duplicates within and across splits, whatever the row order', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const entries = planRows(plan);
        const report = indexRows(entries);
        expect(counts(report)).toEqual(expectedCounts(plan));
        const at = (rowNumber: number) => entries[rowNumber - 1] as Entry;
        for (const s of SPLITS) {
          for (const [first, second] of report.within[s].examples) {
            expect([at(first).split, at(second).split, at(second).base]).toEqual([s, s, at(first).base]);
            expect(first).toBeLessThan(second);
          }
        }
        for (const [pair, c] of Object.entries(report.across)) {
          expect(c.examples.length).toBe(Math.min(10, c.groups));
          for (const [x, y] of c.examples) {
            expect(`${at(x).split}-${at(y).split}`).toBe(pair);
            expect(at(x).base).toBe(at(y).base);
          }
        }
        const reversed = indexRows([...entries].reverse());
        expect(counts(reversed)).toEqual(counts(report));
      }),
    );
  });

  it('treats -0 as 0 and every NaN alike, and nothing else', () => {
    const index = new DuplicateIndex();
    index.add(Float64Array.of(0, Number.NaN, 1), 'train');
    index.add(Float64Array.of(-0, nanWithPayload(0x1234), 1), 2);
    index.add(Float64Array.of(0, Number.NaN, 1 + Number.EPSILON), 'test');
    index.add(Float64Array.of(0, 0, 1), 'test');
    const report = index.report();
    expect(report.distinct).toBe(3);
    expect(report.across['train-test']).toEqual({
      groups: 1,
      firstRows: 1,
      secondRows: 1,
      examples: [[1, 2]],
    });
  });

  it('keeps at most maxExamples examples, with the row numbers given', () => {
    const index = new DuplicateIndex({ maxExamples: 3 });
    for (let i = 0; i < 20; i++) {
      index.add(Float64Array.of(i), 'train', 100 + i);
      index.add(Float64Array.of(i), 'validation', 200 + i);
    }
    const c = index.report().across['train-validation'];
    expect(c.groups).toBe(20);
    expect(c.examples).toEqual([
      [100, 200],
      [101, 201],
      [102, 202],
    ]);
  });

  it('rejects an unknown split, a row of another width and a bad maxExamples', () => {
    const index = new DuplicateIndex();
    index.add(Float64Array.of(1, 2), 'train');
    throwsUsage(() => index.add(Float64Array.of(1, 2, 3), 'train'));
    throwsUsage(() => index.add(Float64Array.of(1, 2), 'holdout' as unknown as Split));
    throwsUsage(() => index.add(Float64Array.of(1, 2), 255 as unknown as 0));
    throwsUsage(() => new DuplicateIndex({ maxExamples: -1 }));
    expect(index.report().rows).toBe(1);
  });
});

/** Near-duplicate plans: per-column quanta, and rows of whole cells with a noise fraction per value. */
const nearPlanArb = fc.integer({ min: 1, max: 6 }).chain((width) =>
  fc.record({
    quanta: fc.array(fc.double({ min: 1e-6, max: 1e3, noNaN: true }), { minLength: width, maxLength: width }),
    rows: fc.array(
      fc.array(
        fc.record({
          cell: fc.integer({ min: -1e6, max: 1e6 }),
          noise: fc.double({ min: 0, max: 1, noNaN: true }),
          negative: fc.boolean(),
        }),
        {
          minLength: width,
          maxLength: width,
        },
      ),
      { minLength: 1, maxLength: 30 },
    ),
  }),
);

type NearPlan = typeof nearPlanArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Indexes each planned row in train at the centre of its cells (the first column's cells 1000
 * apart, so rows differ), and a copy in test moved by noise of `lo` to `hi` quanta per value.
 */
function nearReport(plan: NearPlan, lo: number, hi: number): DuplicateReport {
  const index = new NearDuplicateIndex(plan.quanta);
  for (const [i, cells] of plan.rows.entries()) {
    const q = (j: number) => plan.quanta[j] as number;
    const centre = cells.map((c, j) => (j === 0 ? 1000 * i : c.cell) * q(j));
    const moved = centre.map((v, j) => {
      const { noise, negative } = cells[j] as NearPlan['rows'][number][number];
      return v + (negative ? -1 : 1) * (lo + noise * (hi - lo)) * q(j);
    });
    index.add(Float64Array.from(centre), 'train');
    index.add(Float64Array.from(moved), 'test');
  }
  return index.report();
}

describe('NearDuplicateIndex', () => {
  it('still finds a copy moved by noise below half a quantum', () => {
    fc.assert(
      fc.property(nearPlanArb, (plan) => {
        const n = plan.rows.length;
        const report = nearReport(plan, 0, 0.45);
        expect(report.across['train-test']).toMatchObject({ groups: n, firstRows: n, secondRows: n });
        expect(report.distinct).toBe(n);
      }),
    );
  });

  it('does not find a copy moved by noise far above the quantum', () => {
    fc.assert(
      fc.property(nearPlanArb, (plan) => {
        const report = nearReport(plan, 5, 50);
        expect(report.across['train-test'].groups).toBe(0);
        expect(report.distinct).toBe(2 * plan.rows.length);
      }),
    );
  });

  it('hashes cells, so close values either side of a cell boundary differ', () => {
    const index = new NearDuplicateIndex([1]);
    index.add([0.49], 'train');
    index.add([0.51], 'test');
    index.add([-0.4], 'validation');
    const report = index.report();
    expect(report.across['train-test'].groups).toBe(0);
    expect(report.across['train-validation'].groups).toBe(1);
  });

  it('keeps a column with quantum 0 exact, and rejects bad quanta', () => {
    const index = new NearDuplicateIndex([0, 0.1]);
    index.add([1, 1.01], 'train');
    index.add([1, 0.99], 'test');
    index.add([1 + 1e-12, 1], 'test');
    expect(index.report().across['train-test'].secondRows).toBe(1);
    throwsUsage(() => new NearDuplicateIndex([]));
    throwsUsage(() => new NearDuplicateIndex([1, -1]));
    throwsUsage(() => new NearDuplicateIndex([Number.NaN]));
    throwsUsage(() => index.add([1], 'train'));
  });

  it('finds Wisconsin records re-entered with tiny errors that the exact index misses', () => {
    const { features } = readWdbc();
    const stats = Array.from({ length: 30 }, (_, j) =>
      new ColumnStats().addAll(features.map((r) => r[j] as number)),
    );
    const quanta = nearDuplicateQuanta(stats, { fraction: 1e-2 });
    const exact = new DuplicateIndex();
    const near = new NearDuplicateIndex(quanta);
    const split = new Rng(42, 1);
    for (const [i, row] of features.entries()) {
      const s = split.below(10) < 8 ? 'train' : split.below(2) === 0 ? 'validation' : 'test';
      exact.add(row, s, i + 1);
      near.add(row, s, i + 1);
    }
    expect(counts(exact.report())).toEqual(counts(near.report()));
    expect(exact.report().distinct).toBe(569);
    // Seven training-looking records planted in test, each value off by one part in a million.
    for (const i of [0, 10, 100, 200, 300, 400, 568]) {
      const planted = (features[i] as Float64Array).map((v) => v * (1 + 1e-6));
      exact.add(planted, 'test', 1000 + i);
      near.add(planted, 'test', 1000 + i);
    }
    expect(exact.report().distinct).toBe(576);
    expect(near.report().distinct).toBe(569);
    const leaked = near.report();
    expect(
      leaked.across['train-test'].secondRows +
        leaked.across['validation-test'].secondRows +
        leaked.within.test.duplicateRows,
    ).toBe(7);
  });

  it('derives quanta from each column’s spread', () => {
    const a = new ColumnStats().addAll([1, 3]);
    const b = new ColumnStats().addAll([5, 5]);
    expect(Array.from(nearDuplicateQuanta([a, b]))).toEqual([1e-3, 0]);
    expect(Array.from(nearDuplicateQuanta([a], { basis: 'range', fraction: 0.5 }))).toEqual([1]);
    throwsUsage(() => nearDuplicateQuanta([a], { fraction: 0 }));
  });
});

describe('ColumnStats', () => {
  const finite = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 });

  it('agrees with the two-pass mean and variance', () => {
    fc.assert(
      fc.property(finite, (values) => {
        const stats = new ColumnStats().addAll(values);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        const m2 = values.reduce((a, b) => a + (b - mean) ** 2, 0);
        const size = Math.max(...values.map(Math.abs)) + 1;
        expect(stats.count).toBe(values.length);
        expect(Math.abs(stats.mean - mean)).toBeLessThanOrEqual(1e-9 * size);
        expect(Math.abs(stats.sumSquares - m2)).toBeLessThanOrEqual(1e-9 * (m2 + size));
        // The sign of a zero is no statistic: `+ 0` makes −0 and 0 alike ([0, −0] has min −0 or 0).
        expect([stats.min + 0, stats.max + 0]).toEqual([Math.min(...values) + 0, Math.max(...values) + 0]);
      }),
    );
  });

  it('merges parts into what one pass gives', () => {
    fc.assert(
      fc.property(finite, fc.nat(), (values, cut) => {
        const k = cut % (values.length + 1);
        const whole = new ColumnStats().addAll(values);
        const merged = new ColumnStats()
          .addAll(values.slice(0, k))
          .merge(new ColumnStats().addAll(values.slice(k)));
        const size = Math.max(...values.map(Math.abs)) + 1;
        expect(merged.count).toBe(whole.count);
        expect(Math.abs(merged.mean - whole.mean)).toBeLessThanOrEqual(1e-9 * size);
        expect(Math.abs(merged.sumSquares - whole.sumSquares)).toBeLessThanOrEqual(
          1e-9 * (whole.sumSquares + size),
        );
        expect([merged.min + 0, merged.max + 0]).toEqual([whole.min + 0, whole.max + 0]);
      }),
    );
  });

  it('skips NaN and infinities and reports an empty column as NaN', () => {
    const stats = new ColumnStats().addAll([1, Number.NaN, 3, Number.POSITIVE_INFINITY]);
    expect(stats.toJSON()).toEqual({ count: 2, skipped: 2, mean: 2, std: 1, min: 1, max: 3 });
    expect(stats.sampleVariance).toBe(2);
    const empty = new ColumnStats();
    expect([empty.mean, empty.variance, empty.sampleVariance]).toEqual([Number.NaN, Number.NaN, Number.NaN]);
  });

  it('matches numpy on the Wisconsin data', () => {
    const { features } = readWdbc();
    const radius = new ColumnStats().addAll(features.map((r) => r[0] as number));
    expect(radius.mean).toBeCloseTo(14.127291739894552, 12);
    expect(radius.std).toBeCloseTo(3.520950760711062, 12);
    const area = new ColumnStats().addAll(features.map((r) => r[3] as number));
    expect(area.mean).toBeCloseTo(654.8891036906855, 10);
    expect(area.std).toBeCloseTo(351.60475406323, 10);
  });
});

describe('outliers', () => {
  it('counts values beyond z spreads from the centre', () => {
    const values = [0, 1, -1, 4, -4.5, 9, Number.NaN];
    expect(outlierCount(values, { center: 0, scale: 1 })).toBe(2);
    expect(outlierCount(values, { center: 0, scale: 1 }, { z: 0.5 })).toBe(5);
    expect(outlierCount([2, 2, 3], { center: 2, scale: 0 })).toBe(1);
    throwsUsage(() => outlierCount(values, { center: 0, scale: 1 }, { z: 0 }));
    throwsUsage(() => outlierCount(values, { center: Number.NaN, scale: 1 }));
    throwsUsage(() => outlierCount(values, { center: 0, scale: -1 }));
  });

  it('streams rows to the same counts as outlierCount per column', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 3, maxLength: 3 }), {
          maxLength: 60,
        }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        (rows, z) => {
          const spreads = [0, 1, 2].map((j) => ({ center: j * 10, scale: 5 + j }));
          const counter = new OutlierCounter(spreads, { z });
          for (const row of rows) counter.add(row);
          const report = counter.report();
          expect(report.rows).toBe(rows.length);
          expect(report.perColumn).toEqual(
            spreads.map((s, j) =>
              outlierCount(
                rows.map((r) => r[j] as number),
                s,
                { z },
              ),
            ),
          );
          const flagged = rows.filter((r) =>
            r.some((v, j) => outlierCount([v], spreads[j] as { center: number; scale: number }, { z }) > 0),
          );
          expect(report.rowsWithOutliers).toBe(flagged.length);
          expect(report.examples.length).toBe(Math.min(10, flagged.length));
        },
      ),
    );
  });

  it('matches numpy on the Wisconsin data, by mean and std and by median and MAD', () => {
    const { features } = readWdbc();
    const columns = Array.from({ length: 30 }, (_, j) => features.map((r) => r[j] as number));
    const moments = new OutlierCounter(columns.map((c) => new ColumnStats().addAll(c)));
    const robust = new OutlierCounter(
      columns.map((c, j) => new ReservoirStats({ stream: j }).addAll(c)),
      { z: 3.5 },
    );
    for (const [i, row] of features.entries()) {
      moments.add(row, i + 1);
      robust.add(row, i + 1);
    }
    const m = moments.report();
    expect(m.perColumn.reduce((a, b) => a + b, 0)).toBe(67);
    expect(m.rowsWithOutliers).toBe(34);
    expect(m.examples).toEqual([4, 10, 13, 26, 43, 69, 72, 79, 109, 123]);
    const r = robust.report();
    expect(r.perColumn.reduce((a, b) => a + b, 0)).toBe(509);
    expect(r.rowsWithOutliers).toBe(155);
  });
});

describe('ReservoirStats', () => {
  it('is exact while every value fits', () => {
    const { features } = readWdbc();
    const radius = new ReservoirStats().addAll(features.map((r) => r[0] as number));
    expect([radius.exact, radius.count, radius.median]).toEqual([true, 569, 13.37]);
    expect(radius.mad).toBeCloseTo(1.9, 12);
    expect(new ReservoirStats().addAll([1, 2, 3, 4]).median).toBe(2.5);
    expect(new ReservoirStats().addAll([Number.NaN]).median).toBeNaN();
  });

  it('estimates from a seeded sample once values overflow it, the same for the same seed', () => {
    const values = Array.from(new Rng(5).permutation(100_000));
    const a = new ReservoirStats({ capacity: 1000, seed: 9 }).addAll(values);
    const b = new ReservoirStats({ capacity: 1000, seed: 9 }).addAll(values);
    const c = new ReservoirStats({ capacity: 1000, seed: 9, stream: 1 }).addAll(values);
    expect(a.exact).toBe(false);
    expect([a.median, a.mad]).toEqual([b.median, b.mad]);
    expect(a.median).not.toBe(c.median);
    // Uniform on 0..99 999: median 50 000, MAD 25 000; a 1000-value sample is within a few percent.
    expect(Math.abs(a.median - 50_000)).toBeLessThan(5000);
    expect(Math.abs(a.mad - 25_000)).toBeLessThan(2500);
    throwsUsage(() => new ReservoirStats({ capacity: 0 }));
  });

  it('is not dragged by the outliers it should expose', () => {
    const rng = new Rng(3);
    const values = Array.from({ length: 200 }, () => rng.normal());
    values.push(40, 50, 60, 70, 80, 90, 100, 110, 120, 130);
    const moments = new ColumnStats().addAll(values);
    const robust = new ReservoirStats().addAll(values);
    expect(outlierCount(values, robust, { z: 4 })).toBe(10);
    expect(outlierCount(values, moments, { z: 4 })).toBeLessThan(10);
  });
});
