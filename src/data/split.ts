import { SealtrainError } from '../errors/index.js';
import { Rng } from '../train/rng.js';

/** The share of rows each split gets; they sum to 1. */
export interface SplitFractions {
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

/** Split codes in the assignment array. */
export const SPLITS = ['train', 'validation', 'test'] as const;
/** A split's name. */
export type SplitName = (typeof SPLITS)[number];

/** The default: 80 % train, 10 % validation, 10 % test. */
export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.8, validation: 0.1, test: 0.1 };

/** Parses `0.8,0.1,0.1` (or `80,10,10`); the parts must be non-negative and sum to 1 (or 100). */
export function parseFractions(text: string): SplitFractions {
  const parts = text.split(',').map((p) => (p.trim() === '' ? Number.NaN : Number(p.trim())));
  const sum = parts.reduce((a, b) => a + b, 0);
  const scale = Math.abs(sum - 100) < 1e-9 ? 100 : 1;
  if (
    parts.length !== 3 ||
    parts.some((p) => !Number.isFinite(p) || p < 0) ||
    Math.abs(sum / scale - 1) > 1e-9 ||
    parts[0] === 0
  ) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--split must be three shares train,validation,test that sum to 1 (e.g. 0.8,0.1,0.1), not "${text}".`,
    );
  }
  const [train, validation, test] = parts.map((p) => p / scale) as [number, number, number];
  return { train, validation, test };
}

/**
 * How many rows of each stratum go to each split: every stratum's exact shares rounded down, then
 * the rows each stratum still has handed, one per split at most, to the splits whose share it
 * rounded down, preferring the split furthest below its rounded total over all rows. So every
 * stratum is within one row of its shares in every split, the rows add up, and the split totals
 * stay near their shares: a split is not emptied by rounding many small classes the same way.
 */
function allocate(sizes: readonly number[], fractions: SplitFractions): number[][] {
  const shares = [fractions.train, fractions.validation, fractions.test];
  const total = sizes.reduce((a, b) => a + b, 0);
  const targets = [Math.round(total * fractions.train), Math.round(total * fractions.validation)];
  targets.push(total - (targets[0] as number) - (targets[1] as number));
  const counts = sizes.map((n) => shares.map((f) => Math.floor(n * f)));
  const deficit = targets.map((t, s) => t - counts.reduce((a, c) => a + (c[s] as number), 0));
  sizes.forEach((n, g) => {
    const c = counts[g] as number[];
    let extra = n - c.reduce((a, b) => a + b, 0);
    const candidates = [0, 1, 2]
      .filter((s) => n * (shares[s] as number) > (c[s] as number))
      .sort((x, y) => (deficit[y] as number) - (deficit[x] as number) || x - y);
    for (const s of candidates) {
      if (extra <= 0) break;
      c[s] = (c[s] as number) + 1;
      deficit[s] = (deficit[s] as number) - 1;
      extra--;
    }
  });
  return counts;
}

/**
 * Assigns each row to a split (0 train, 1 validation, 2 test), seeded and stratified: within each
 * class (`strata[i]`, or one stratum when null, as for regression) the rows are shuffled with
 * the seed and cut by the fractions, so every class keeps its proportion in every split (to
 * within one row) and each split gets its rounded share of all rows. Rows with `strata[i] < 0`
 * (dropped) get 255. Same inputs and seed, same split.
 */
export function stratifiedSplit(
  strata: Int32Array | null,
  rows: number,
  fractions: SplitFractions,
  seed: number,
): Uint8Array {
  const out = new Uint8Array(rows).fill(255);
  const members = new Int32Array(strata === null ? rows : countKept(strata, rows));
  // Each stratum's members, in row order, one stratum after another (a counting sort).
  let entries: [stratum: number, size: number][];
  const starts: number[] = [0];
  if (strata === null) {
    entries = rows > 0 ? [[0, rows]] : [];
    for (let i = 0; i < rows; i++) members[i] = i;
  } else {
    const sizes = new Map<number, number>();
    const small = new Float64Array(SMALL_STRATA);
    for (let i = 0; i < rows; i++) {
      const s = strata[i] as number;
      if (s < 0) continue;
      if (s < SMALL_STRATA) small[s] = (small[s] as number) + 1;
      else sizes.set(s, (sizes.get(s) ?? 0) + 1);
    }
    small.forEach((n, s) => {
      if (n > 0) sizes.set(s, n);
    });
    entries = [...sizes.entries()].sort((a, b) => a[0] - b[0]);
    const next = new Map<number, number>();
    const smallNext = new Float64Array(SMALL_STRATA);
    for (const [stratum, n] of entries) {
      const start = starts[starts.length - 1] as number;
      if (stratum < SMALL_STRATA) smallNext[stratum] = start;
      else next.set(stratum, start);
      starts.push(start + n);
    }
    for (let i = 0; i < rows; i++) {
      const s = strata[i] as number;
      if (s < 0) continue;
      if (s < SMALL_STRATA) {
        members[smallNext[s] as number] = i;
        smallNext[s] = (smallNext[s] as number) + 1;
      } else {
        const at = next.get(s) as number;
        members[at] = i;
        next.set(s, at + 1);
      }
    }
  }
  const counts = allocate(
    entries.map(([, n]) => n),
    fractions,
  );
  entries.forEach(([stratum, n], g) => {
    const order = new Rng(seed, 2000 + stratum).permutation(n);
    const [nTrain, nValidation] = counts[g] as [number, number, number];
    const from = starts[g] as number;
    for (let k = 0; k < n; k++) {
      const row = members[from + (order[k] as number)] as number;
      out[row] = k < nTrain ? 0 : k < nTrain + nValidation ? 1 : 2;
    }
  });
  return out;
}

/** Strata below this are counted in an array; others (rare: a class index is small) in a map. */
const SMALL_STRATA = 1 << 16;

function countKept(strata: Int32Array, rows: number): number {
  let n = 0;
  for (let i = 0; i < rows; i++) if ((strata[i] as number) >= 0) n++;
  return n;
}
