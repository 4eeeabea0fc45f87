import { SealtrainError } from '../../errors/index.js';

/** The three splits, in the order of their codes 0, 1, 2. */
const CHECK_SPLITS = ['train', 'validation', 'test'] as const;

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

/** Per slot: the key (2 words), a count per split (3), the first row number per split (3). */
const STRIDE = 8;
/** Grow when more than this share of the slots is used. */
const MAX_LOAD = 0.75;

/**
 * Counts rows per 64-bit key and split in one open-addressing hash table (linear probing, 32
 * bytes per slot, at most 75 % full: about 43 bytes per distinct row, no per-row objects), and
 * builds the {@link DuplicateReport}. Examples are taken as they occur: a key's first and second
 * row in a split, and a key's first rows in two splits when it first reaches the second one.
 */
export class SplitGroups {
  private table: Uint32Array;
  private mask: number;
  private used = 0;
  private rows = 0;
  private readonly withinExamples: [number, number][][] = [[], [], []];
  private readonly acrossExamples: [number, number][][] = [[], [], []];

  /** `expectedRows`: rows about to be added, so the table is sized once instead of grown. */
  constructor(
    private readonly maxExamples: number,
    expectedRows = 0,
  ) {
    let slots = 1024;
    while (slots * MAX_LOAD < expectedRows) slots *= 2;
    this.table = new Uint32Array(STRIDE * slots);
    this.mask = slots - 1;
  }

  /** Rows added so far. */
  get size(): number {
    return this.rows;
  }

  private find(h1: number, h2: number): number {
    const t = this.table;
    let i = h1 & this.mask;
    for (;;) {
      const slot = i * STRIDE;
      if (t[slot + 2] === 0 && t[slot + 3] === 0 && t[slot + 4] === 0) return slot;
      if (t[slot] === h1 && t[slot + 1] === h2) return slot;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let slot = 0; slot < old.length; slot += STRIDE) {
      if (old[slot + 2] === 0 && old[slot + 3] === 0 && old[slot + 4] === 0) continue;
      const to = this.find(old[slot] as number, old[slot + 1] as number);
      this.table.set(old.subarray(slot, slot + STRIDE), to);
    }
  }

  /** Records that row `rowNumber` of split `code` has the key (`h1`, `h2`). */
  add(h1: number, h2: number, code: number, rowNumber: number): void {
    if (this.used + 1 > MAX_LOAD * (this.mask + 1)) this.grow();
    const t = this.table;
    const slot = this.find(h1, h2);
    const fresh = t[slot + 2] === 0 && t[slot + 3] === 0 && t[slot + 4] === 0;
    if (fresh) {
      t[slot] = h1;
      t[slot + 1] = h2;
      this.used++;
    }
    const seen = t[slot + 2 + code] as number;
    if (seen === 0) {
      t[slot + 5 + code] = rowNumber;
      // The key now has rows in this split and in another: the first pair of cross-split twins.
      for (let other = 0; other < 3; other++) {
        if (other === code || t[slot + 2 + other] === 0) continue;
        const [a, b] = other < code ? [other, code] : [code, other];
        const list = this.acrossExamples[a + b - 1] as [number, number][];
        if (list.length < this.maxExamples) list.push([t[slot + 5 + a] as number, t[slot + 5 + b] as number]);
      }
    } else if (seen === 1) {
      const list = this.withinExamples[code] as [number, number][];
      if (list.length < this.maxExamples) list.push([t[slot + 5 + code] as number, rowNumber]);
    }
    if (seen < 0xffffffff) t[slot + 2 + code] = seen + 1;
    this.rows++;
  }

  /** The report over everything added so far. */
  report(): DuplicateReport {
    return {
      rows: this.rows,
      distinct: this.used,
      within: { train: this.within(0), validation: this.within(1), test: this.within(2) },
      across: {
        'train-validation': this.across(0, 1),
        'train-test': this.across(0, 2),
        'validation-test': this.across(1, 2),
      },
    };
  }

  private within(s: number): WithinSplitDuplicates {
    const out = { rows: 0, duplicateRows: 0, groups: 0, examples: [...(this.withinExamples[s] ?? [])] };
    const t = this.table;
    for (let slot = 0; slot < t.length; slot += STRIDE) {
      const n = t[slot + 2 + s] as number;
      out.rows += n;
      if (n < 2) continue;
      out.duplicateRows += n - 1;
      out.groups++;
    }
    return out;
  }

  private across(a: number, b: number): CrossSplitDuplicates {
    const out = {
      groups: 0,
      firstRows: 0,
      secondRows: 0,
      examples: [...(this.acrossExamples[a + b - 1] ?? [])],
    };
    const t = this.table;
    for (let slot = 0; slot < t.length; slot += STRIDE) {
      const na = t[slot + 2 + a] as number;
      const nb = t[slot + 2 + b] as number;
      if (na === 0 || nb === 0) continue;
      out.groups++;
      out.firstRows += na;
      out.secondRows += nb;
    }
    return out;
  }
}
