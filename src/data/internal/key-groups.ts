import type { CrossSplitDuplicates, DuplicateReport, WithinSplitDuplicates } from './split-groups.js';

/** About how many rows a bucket holds, so that its table (8 bytes a slot) stays in the CPU's cache. */
const BUCKET_ROWS = 1 << 14;

/** Rows grouped by their 64-bit keys (see {@link groupKeys}). */
export interface KeyGroups {
  /** Per row: the id (0 to `repeated` − 1) of its key when more than one row has it, else -1. */
  readonly group: Int32Array;
  /** Keys that more than one row has. */
  readonly repeated: number;
  /** Distinct keys among the rows grouped. */
  readonly distinct: number;
}

/**
 * Groups the rows whose split code is 0, 1 or 2 by their 64-bit keys (`keys[2r]`, `keys[2r + 1]`:
 * two independent 32-bit hashes, as {@link RowHasher} makes them). Instead of one hash table over
 * every row, whose every probe misses the cache, the keys are first partitioned by their top bits
 * into buckets of about 16,384 rows (one counting pass and one scatter, both sequential), and each
 * bucket is then grouped in a small table that stays in the cache. 12 bytes per row while it
 * runs, and the 4-byte group id per row it returns.
 */
export function groupKeys(keys: Uint32Array, split: Uint8Array): KeyGroups {
  const rows = split.length;
  let counted = 0;
  for (let r = 0; r < rows; r++) if ((split[r] as number) <= 2) counted++;
  const bits = counted <= BUCKET_ROWS ? 0 : Math.min(16, Math.ceil(Math.log2(counted / BUCKET_ROWS)));
  const shift = 32 - bits;
  const buckets = 1 << bits;
  const starts = new Int32Array(buckets + 1);
  // `x >>> 32` is `x`, so one bucket (bits 0) is its own case.
  const bucketOf = (h1: number): number => (bits === 0 ? 0 : h1 >>> shift);
  for (let r = 0; r < rows; r++) {
    if ((split[r] as number) > 2) continue;
    const b = bucketOf(keys[2 * r] as number) + 1;
    starts[b] = (starts[b] as number) + 1;
  }
  let largest = 0;
  for (let b = 0; b < buckets; b++) {
    largest = Math.max(largest, starts[b + 1] as number);
    starts[b + 1] = (starts[b + 1] as number) + (starts[b] as number);
  }
  // Each row's key and row index, bucket by bucket, in row order within a bucket.
  const items = new Uint32Array(3 * counted);
  const next = starts.slice(0, buckets);
  for (let r = 0; r < rows; r++) {
    if ((split[r] as number) > 2) continue;
    const h1 = keys[2 * r] as number;
    const b = bucketOf(h1);
    const at = 3 * (next[b] as number);
    next[b] = (next[b] as number) + 1;
    items[at] = h1;
    items[at + 1] = keys[2 * r + 1] as number;
    items[at + 2] = r;
  }
  const group = new Int32Array(rows).fill(-1);
  let slots = 2;
  while (slots < 2 * largest) slots *= 2;
  const table = new Int32Array(slots);
  // Per item of the bucket: the item that first had its key, and for those, how many have it and its id.
  const leader = new Int32Array(largest);
  const size = new Int32Array(largest);
  const id = new Int32Array(largest);
  let repeated = 0;
  let distinct = 0;
  for (let b = 0; b < buckets; b++) {
    const start = starts[b] as number;
    const n = (starts[b + 1] as number) - start;
    if (n === 0) continue;
    let mask = 1;
    while (mask < 2 * n) mask *= 2;
    mask -= 1;
    table.fill(-1, 0, mask + 1);
    for (let i = 0; i < n; i++) {
      const at = 3 * (start + i);
      const h1 = items[at] as number;
      const h2 = items[at + 1] as number;
      // The bucket took h1's top bits; h2 places the key in the table.
      for (let slot = h2 & mask; ; slot = (slot + 1) & mask) {
        const e = table[slot] as number;
        if (e === -1) {
          table[slot] = i;
          leader[i] = i;
          size[i] = 1;
          distinct++;
          break;
        }
        const other = 3 * (start + e);
        if (items[other] === h1 && items[other + 1] === h2) {
          leader[i] = e;
          size[e] = (size[e] as number) + 1;
          break;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const first = leader[i] as number;
      if ((size[first] as number) < 2) continue;
      if (first === i) id[i] = repeated++;
      group[items[3 * (start + i) + 2] as number] = id[first] as number;
    }
  }
  return { group, repeated, distinct };
}

/**
 * The duplicate report of rows grouped by {@link groupKeys}, exactly as a `SplitGroups` fed the
 * same rows in row order reports them (the examples too): rows per split, and for each repeated
 * key its count and first row number per split, in one pass in row order. `rowNumbers[r]` is what
 * the examples call row `r`.
 */
export function countDuplicates(
  groups: KeyGroups,
  split: Uint8Array,
  rowNumbers: ArrayLike<number>,
  maxExamples: number,
): DuplicateReport {
  const { group, repeated } = groups;
  // Per repeated key and split: its rows, and the first one's number (stored as SplitGroups does).
  const counts = new Uint32Array(3 * repeated);
  const first = new Uint32Array(3 * repeated);
  const rowsIn = [0, 0, 0];
  const within: [number, number][][] = [[], [], []];
  const across: [number, number][][] = [[], [], []];
  for (let r = 0; r < split.length; r++) {
    const code = split[r] as number;
    if (code > 2) continue;
    rowsIn[code] = (rowsIn[code] as number) + 1;
    const g = group[r] as number;
    if (g < 0) continue;
    const base = 3 * g;
    const seen = counts[base + code] as number;
    if (seen === 0) {
      first[base + code] = rowNumbers[r] as number;
      for (let other = 0; other < 3; other++) {
        if (other === code || counts[base + other] === 0) continue;
        const [a, b] = other < code ? [other, code] : [code, other];
        const list = across[a + b - 1] as [number, number][];
        if (list.length < maxExamples) list.push([first[base + a] as number, first[base + b] as number]);
      }
    } else if (seen === 1) {
      const list = within[code] as [number, number][];
      if (list.length < maxExamples) list.push([first[base + code] as number, rowNumbers[r] as number]);
    }
    if (seen < 0xffffffff) counts[base + code] = seen + 1;
  }
  const withinSplit = (s: number): WithinSplitDuplicates => {
    let duplicateRows = 0;
    let groupsIn = 0;
    for (let g = 0; g < repeated; g++) {
      const n = counts[3 * g + s] as number;
      if (n < 2) continue;
      duplicateRows += n - 1;
      groupsIn++;
    }
    return { rows: rowsIn[s] as number, duplicateRows, groups: groupsIn, examples: within[s] ?? [] };
  };
  const acrossSplits = (a: number, b: number): CrossSplitDuplicates => {
    const out = { groups: 0, firstRows: 0, secondRows: 0, examples: across[a + b - 1] ?? [] };
    for (let g = 0; g < repeated; g++) {
      const na = counts[3 * g + a] as number;
      const nb = counts[3 * g + b] as number;
      if (na === 0 || nb === 0) continue;
      out.groups++;
      out.firstRows += na;
      out.secondRows += nb;
    }
    return out;
  };
  return {
    rows: (rowsIn[0] as number) + (rowsIn[1] as number) + (rowsIn[2] as number),
    distinct: groups.distinct,
    within: { train: withinSplit(0), validation: withinSplit(1), test: withinSplit(2) },
    across: {
      'train-validation': acrossSplits(0, 1),
      'train-test': acrossSplits(0, 2),
      'validation-test': acrossSplits(1, 2),
    },
  };
}
