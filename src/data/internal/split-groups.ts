import { SealtrainError } from '../../errors/index.js';

/** The three splits, in the order of their codes 0, 1, 2. */
export const CHECK_SPLITS = ['train', 'validation', 'test'] as const;

/** A split by name or by its code in a split assignment (0 train, 1 validation, 2 test). */
export type SplitKey = (typeof CHECK_SPLITS)[number] | 0 | 1 | 2;

/** A pair of splits that should share no rows. */
export type SplitPair = 'train-validation' | 'train-test' | 'validation-test';

/** Repeated rows inside one split. */
export interface WithinSplitDuplicates {
  /** Rows of the split. */
  readonly rows: number;
  /** Rows that repeat an earlier row of the same split (a row seen 3 times counts 2). */
  readonly duplicateRows: number;
  /** Distinct rows seen more than once in the split. */
  readonly groups: number;
  /** Up to `maxExamples` pairs of row numbers: a row's first and second occurrence. */
  readonly examples: readonly (readonly [number, number])[];
}

/** Rows that two splits share. */
export interface CrossSplitDuplicates {
  /** Distinct rows present in both splits. */
  readonly groups: number;
  /** Rows of the first split whose twin is in the second. */
  readonly firstRows: number;
  /** Rows of the second split whose twin is in the first (for `train-test`: leaked test rows). */
  readonly secondRows: number;
  /** Up to `maxExamples` pairs of row numbers: the first occurrence in each split. */
  readonly examples: readonly (readonly [number, number])[];
}

/** What a duplicate index found. Counts do not depend on the order rows were added in; examples do. */
export interface DuplicateReport {
  /** Rows added. */
  readonly rows: number;
  /** Distinct rows (distinct keys) among them. */
  readonly distinct: number;
  /** Per split. */
  readonly within: Readonly<Record<(typeof CHECK_SPLITS)[number], WithinSplitDuplicates>>;
  /** Per pair of splits. */
  readonly across: Readonly<Record<SplitPair, CrossSplitDuplicates>>;
}

/** Per key: a count per split, then the first and the second row number per split. */
const STRIDE = 9;

/** The split code of `split`. */
export function splitCode(split: SplitKey): number {
  const code = typeof split === 'number' ? split : CHECK_SPLITS.indexOf(split);
  if (code !== 0 && code !== 1 && code !== 2) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `A split must be train, validation or test (or 0, 1, 2), not ${JSON.stringify(split)}.`,
    );
  }
  return code;
}

/**
 * Counts rows per key and split, in a flat table (one `Map` entry and 9 doubles per distinct
 * key), and builds the {@link DuplicateReport}.
 */
export class SplitGroups {
  private readonly index = new Map<string, number>();
  private table = new Float64Array(STRIDE * 64);
  private rows = 0;

  constructor(private readonly maxExamples: number) {}

  /** Rows added so far. */
  get size(): number {
    return this.rows;
  }

  /** Records that row `rowNumber` of split `code` has key `key`. */
  add(key: string, code: number, rowNumber: number): void {
    let slot = this.index.get(key);
    if (slot === undefined) {
      slot = this.index.size * STRIDE;
      if (slot + STRIDE > this.table.length) {
        const grown = new Float64Array(this.table.length * 2);
        grown.set(this.table);
        this.table = grown;
      }
      this.index.set(key, slot);
    }
    const t = this.table;
    const seen = t[slot + code] as number;
    if (seen === 0) t[slot + 3 + code] = rowNumber;
    else if (seen === 1) t[slot + 6 + code] = rowNumber;
    t[slot + code] = seen + 1;
    this.rows++;
  }

  /** The report over everything added so far. */
  report(): DuplicateReport {
    return {
      rows: this.rows,
      distinct: this.index.size,
      within: { train: this.within(0), validation: this.within(1), test: this.within(2) },
      across: {
        'train-validation': this.across(0, 1),
        'train-test': this.across(0, 2),
        'validation-test': this.across(1, 2),
      },
    };
  }

  private within(s: number): WithinSplitDuplicates {
    const out = { rows: 0, duplicateRows: 0, groups: 0, examples: [] as [number, number][] };
    const t = this.table;
    const end = this.index.size * STRIDE;
    for (let slot = 0; slot < end; slot += STRIDE) {
      const n = t[slot + s] as number;
      out.rows += n;
      if (n < 2) continue;
      out.duplicateRows += n - 1;
      out.groups++;
      if (out.examples.length < this.maxExamples) {
        out.examples.push([t[slot + 3 + s] as number, t[slot + 6 + s] as number]);
      }
    }
    return out;
  }

  private across(a: number, b: number): CrossSplitDuplicates {
    const out = { groups: 0, firstRows: 0, secondRows: 0, examples: [] as [number, number][] };
    const t = this.table;
    const end = this.index.size * STRIDE;
    for (let slot = 0; slot < end; slot += STRIDE) {
      const na = t[slot + a] as number;
      const nb = t[slot + b] as number;
      if (na === 0 || nb === 0) continue;
      out.groups++;
      out.firstRows += na;
      out.secondRows += nb;
      if (out.examples.length < this.maxExamples) {
        out.examples.push([t[slot + 3 + a] as number, t[slot + 3 + b] as number]);
      }
    }
    return out;
  }
}
