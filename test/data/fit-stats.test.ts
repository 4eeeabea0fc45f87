import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnStats } from '../../src/data/checks.js';
import { fitColumns } from '../../src/data/internal/fit-stats.js';
import type { ColumnSpec } from '../../src/data/schema.js';

/** Hoare's selection as the fit used on a whole column's copy: the oracle for the median's bits. */
function select(v: Float32Array, k: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const [a, b, c] = [v[lo] as number, v[mid] as number, v[hi] as number];
    // biome-ignore lint/complexity/useMathMinMax: the pivot as the fit chose it (Math.max orders -0 and 0).
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((v[i] as number) < pivot) i++;
      while ((v[j] as number) > pivot) j--;
      if (i <= j) {
        [v[i], v[j]] = [v[j] as number, v[i] as number];
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k] as number;
  }
  return v[lo] as number;
}

/** The median over a copy of every finite training value, in row order, as the fit once took it. */
function wholeColumnMedian(values: Float32Array, width: number, j: number, split: Uint8Array): number {
  const copy = Float32Array.from(
    Array.from(split.keys()).flatMap((r) => {
      const x = values[r * width + j] as number;
      return split[r] === 0 && Number.isFinite(x) ? [x] : [];
    }),
  );
  const n = copy.length;
  const upper = select(copy, n >> 1);
  if (n % 2 === 1) return upper;
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n >> 1; i++) lower = Math.max(lower, copy[i] as number);
  return (lower + upper) / 2;
}

const number = (name: string, impute: ColumnSpec['impute']): ColumnSpec =>
  ({ name, type: 'number', missing: 'impute', impute }) as ColumnSpec;

/** Column values: ties, both zeros, tiny and huge magnitudes, either sign, and missing cells (NaN). */
const cell = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 2.5, 1e-40, -1e-40, 3e38, -3e38, Number.NaN),
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -5, max: 5 }),
);

const table = fc.integer({ min: 1, max: 3 }).chain((width) =>
  fc.record({
    width: fc.constant(width),
    cells: fc.array(cell, { minLength: width, maxLength: 120 * width }),
    split: fc.array(fc.constantFrom(0, 0, 0, 1, 2), { minLength: 120, maxLength: 120 }),
  }),
);

describe('fitColumns', () => {
  it('imputes the median a selection over the whole column gives, zeros’ signs included', () => {
    fc.assert(
      fc.property(table, ({ width, cells, split: codes }) => {
        const rows = Math.floor(cells.length / width);
        const values = Float32Array.from(cells.slice(0, rows * width));
        const split = Uint8Array.from(codes.slice(0, rows));
        const columns = Array.from({ length: width }, (_, j) => number(`c${j}`, 'median'));
        const expected = columns.map((_, j) => wholeColumnMedian(values, width, j, split));
        let fitted: ReturnType<typeof fitColumns>;
        try {
          fitted = fitColumns(columns, values, rows, split, []);
        } catch {
          // A column with no training value cannot be imputed (tested in prepare's tests).
          expect(expected.some((m) => Number.isNaN(m) || m === Number.NEGATIVE_INFINITY)).toBe(true);
          return;
        }
        fitted.forEach((f, j) => {
          expect(Object.is(f.impute, expected[j]), `column ${j}: ${f.impute} ≠ ${expected[j]}`).toBe(true);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('gives a zero median the sign the selection gives, which sorting by sign would not', () => {
    // Sorted with -0 first, the middle of (-0, 0, -0) is -0; the selection returns 0.
    const values = Float32Array.of(-0, 0, -0);
    const fitted = fitColumns([number('z', 'median')], values, 3, new Uint8Array(3), []);
    expect(Object.is(fitted[0]?.impute, 0)).toBe(true);
    const zeros = fc.array(fc.constantFrom(0, -0, 1, -1, 1e-45, Number.NaN), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(zeros, (cells) => {
        const column = Float32Array.from(cells);
        const split = new Uint8Array(cells.length);
        const expected = wholeColumnMedian(column, 1, 0, split);
        if (!Number.isFinite(expected)) return;
        const got = fitColumns([number('z', 'median')], column, cells.length, split, [])[0]?.impute;
        expect(Object.is(got, expected), `${got} ≠ ${expected}`).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('finds the median in a large column whose middle values fall in two buckets, or in one', () => {
    const rows = 100_001;
    const values = new Float32Array(rows);
    for (let r = 0; r < rows; r++) values[r] = r < 50_000 ? -1000 - r : r === 50_000 ? 7.25 : 1e6 + r;
    const split = new Uint8Array(rows);
    const column = [number('x', 'median')];
    expect(fitColumns(column, values, rows, split, [])[0]?.impute).toBe(7.25);
    // Even: the two middle values are -1000 (the largest negative) and 7.25, far apart.
    split[rows - 1] = 1;
    expect(fitColumns(column, values, rows, split, [])[0]?.impute).toBe((-1000 + 7.25) / 2);
    values.fill(3.5);
    expect(fitColumns(column, values, rows, split, [])[0]?.impute).toBe(3.5);
  });

  it('keeps statistics equal to ColumnStats fed the training values, then the imputed ones, in row order', () => {
    fc.assert(
      fc.property(table, fc.boolean(), ({ width, cells, split: codes }, listed) => {
        const rows = Math.floor(cells.length / width);
        const values = Float32Array.from(cells.slice(0, rows * width));
        const split = Uint8Array.from(codes.slice(0, rows));
        const columns = Array.from({ length: width }, (_, j) =>
          number(`c${j}`, j === 0 ? 'mean' : j === 1 ? 'median' : { constant: 4 }),
        );
        const expected = columns.map(() => new ColumnStats());
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < width; j++) {
            const x = values[r * width + j] as number;
            if (split[r] === 0 && !Number.isNaN(x)) expected[j]?.add(x);
          }
        }
        const missing = Array.from({ length: rows }, (_, r) => r).filter((r) =>
          values.subarray(r * width, (r + 1) * width).some(Number.isNaN),
        );
        const before = values.slice();
        let fitted: ReturnType<typeof fitColumns>;
        try {
          fitted = fitColumns(columns, values, rows, split, [], listed ? missing : undefined);
        } catch {
          expect(expected.some((s) => s.count === 0)).toBe(true);
          return;
        }
        for (const r of missing) {
          for (let j = 0; j < width; j++) {
            if (!Number.isNaN(before[r * width + j] as number)) continue;
            expect(values[r * width + j]).toBe(Math.fround(fitted[j]?.impute as number));
            if (split[r] === 0) expected[j]?.add(values[r * width + j] as number);
          }
        }
        expect(values.some(Number.isNaN)).toBe(false);
        fitted.forEach((f, j) => {
          expect(f.stats.toJSON()).toEqual(expected[j]?.toJSON());
          expect(f.stats.sumSquares).toBe(expected[j]?.sumSquares);
        });
      }),
      { numRuns: 300 },
    );
  });
});
