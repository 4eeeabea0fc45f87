import { SealtrainError } from '../../errors/index.js';
import { chiSquareSurvival } from './chi-square.js';

/** Options for {@link labelDrift}. */
export interface LabelDriftOptions {
  /**
   * How to read `reference`. `sample` (default): counts from another finite sample, such as the
   * training split; the test is chi-square homogeneity on the 2 × k table of both. `distribution`:
   * the true class proportions (only the ratios matter); the test is chi-square goodness of fit of
   * `counts` to them, and a class with rows in `counts` but none in `reference` makes the
   * statistic infinite.
   */
  readonly reference?: 'sample' | 'distribution';
}

/** How far one class distribution is from another. */
export interface LabelDrift {
  /** Half the sum of absolute differences of the class proportions: 0 (same) to 1 (disjoint). */
  readonly totalVariation: number;
  /** The chi-square statistic. */
  readonly chiSquare: number;
  /** Classes with rows on either side (or in the reference, for `distribution`) less one; 0 when there is nothing to compare. */
  readonly degreesOfFreedom: number;
  /** The probability of a statistic at least this large if both follow one distribution; 1 when there is nothing to compare. */
  readonly pValue: number;
  /** Classes with rows in `reference` and none in `counts`, in the order first named. */
  readonly missingFromCounts: readonly string[];
  /** Classes with rows in `counts` and none in `reference`, in the order first named. */
  readonly missingFromReference: readonly string[];
}

/** The class proportions of one split. */
export interface ClassBalance {
  /** Rows over all classes. */
  readonly total: number;
  /** Each class's share of `total` (0 for every class when `total` is 0). */
  readonly proportions: Readonly<Record<string, number>>;
  /** The largest class count over the smallest: 1 is balanced, `Infinity` when a named class has no rows, NaN with no rows at all. */
  readonly imbalanceRatio: number;
  /** The class with the most rows (the first named on a tie); undefined when none are named. */
  readonly majority: string | undefined;
  /** The class with the fewest rows (the first named on a tie); undefined when none are named. */
  readonly minority: string | undefined;
}

function checkedCounts(counts: Readonly<Record<string, number>>, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [label, n] of Object.entries(counts)) {
    if (!(Number.isFinite(n) && n >= 0)) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `The ${name} count of class ${JSON.stringify(label)} must be a finite number ≥ 0, not ${n}.`,
        { details: { label } },
      );
    }
    out.set(label, n);
  }
  return out;
}

function sum(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** The chi-square statistic and degrees of freedom for the chosen reading of `reference`. */
function chiSquare(
  classes: readonly string[],
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  reference: 'sample' | 'distribution',
): { statistic: number; df: number } {
  const na = sum(a.values());
  const nb = sum(b.values());
  let statistic = 0;
  let k = 0;
  for (const label of classes) {
    const oa = a.get(label) ?? 0;
    const ob = b.get(label) ?? 0;
    if (reference === 'distribution') {
      if (ob === 0) {
        if (oa > 0) statistic = Number.POSITIVE_INFINITY;
        continue;
      }
      const expected = (na * ob) / nb;
      statistic += (oa - expected) ** 2 / expected;
    } else {
      if (oa + ob === 0) continue;
      const total = na + nb;
      const ea = ((oa + ob) * na) / total;
      const eb = ((oa + ob) * nb) / total;
      statistic += (oa - ea) ** 2 / ea + (ob - eb) ** 2 / eb;
    }
    k++;
  }
  return { statistic, df: Math.max(0, k - 1) };
}

/**
 * Compares the class counts of one split (`counts`) with a reference (another split, or the
 * expected distribution): total-variation distance, a chi-square test, and the classes either
 * side lacks. A class named with count 0 is the same as one not named. When either side has no
 * rows there is nothing to compare: `totalVariation` is NaN, the statistic 0, `pValue` 1.
 *
 * @throws SealtrainError `ERR_USAGE_INVALID` when a count is negative or not finite.
 */
export function labelDrift(
  counts: Readonly<Record<string, number>>,
  reference: Readonly<Record<string, number>>,
  options: LabelDriftOptions = {},
): LabelDrift {
  const a = checkedCounts(counts, 'observed');
  const b = checkedCounts(reference, 'reference');
  const classes = [...new Set([...b.keys(), ...a.keys()])];
  const missingFromCounts = classes.filter((c) => (b.get(c) ?? 0) > 0 && (a.get(c) ?? 0) === 0);
  const missingFromReference = classes.filter((c) => (a.get(c) ?? 0) > 0 && (b.get(c) ?? 0) === 0);
  const na = sum(a.values());
  const nb = sum(b.values());
  if (na === 0 || nb === 0) {
    return {
      totalVariation: Number.NaN,
      chiSquare: 0,
      degreesOfFreedom: 0,
      pValue: 1,
      missingFromCounts,
      missingFromReference,
    };
  }
  let distance = 0;
  for (const c of classes) distance += Math.abs((a.get(c) ?? 0) / na - (b.get(c) ?? 0) / nb);
  const { statistic, df } = chiSquare(classes, a, b, options.reference ?? 'sample');
  const pValue = df > 0 ? chiSquareSurvival(statistic, df) : statistic > 0 ? 0 : 1;
  return {
    totalVariation: Math.min(1, distance / 2),
    chiSquare: statistic,
    degreesOfFreedom: df,
    pValue,
    missingFromCounts,
    missingFromReference,
  };
}

/**
 * The class proportions of `counts` and how unbalanced they are.
 *
 * @throws SealtrainError `ERR_USAGE_INVALID` when a count is negative or not finite.
 */
export function classBalance(counts: Readonly<Record<string, number>>): ClassBalance {
  const entries = [...checkedCounts(counts, 'class')];
  const total = sum(entries.map(([, n]) => n));
  let majority: [string, number] | undefined;
  let minority: [string, number] | undefined;
  for (const entry of entries) {
    if (majority === undefined || entry[1] > majority[1]) majority = entry;
    if (minority === undefined || entry[1] < minority[1]) minority = entry;
  }
  return {
    total,
    proportions: Object.fromEntries(entries.map(([c, n]) => [c, total > 0 ? n / total : 0])),
    imbalanceRatio: majority === undefined || minority === undefined ? Number.NaN : majority[1] / minority[1],
    majority: majority?.[0],
    minority: minority?.[0],
  };
}
