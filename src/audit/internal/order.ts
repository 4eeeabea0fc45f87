import type { AuditProblem } from '../report.js';
import type { EntrySlot, Slot } from './parse-log.js';
import { problem } from './problems.js';

/** Entries in `seq` order, and how many holes the file has after each in-place entry. */
export interface Ordered {
  /** Valid entries sorted by `seq` (unique after de-duplication). */
  readonly sorted: readonly EntrySlot[];
  /** Holes that follow the in-place entry with this `seq` in the file (−1: before any entry). */
  readonly holesAfter: ReadonlyMap<number, number>;
}

/** Indexes (into `seqs`) of one longest strictly increasing subsequence, O(n log n). */
export function longestIncreasing(seqs: readonly number[]): Set<number> {
  const tails: number[] = [];
  const before = new Array<number>(seqs.length).fill(-1);
  seqs.forEach((seq, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((seqs[tails[mid] as number] as number) < seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) before[i] = tails[lo - 1] as number;
    tails[lo] = i;
  });
  const keep = new Set<number>();
  for (let i = tails.at(-1) ?? -1; i >= 0; i = before[i] as number) keep.add(i);
  return keep;
}

/** For each index, the entry with the highest seq before it and the lowest seq after it. */
function neighbours(goods: readonly EntrySlot[]): {
  maxBefore: (EntrySlot | undefined)[];
  minAfter: (EntrySlot | undefined)[];
} {
  const maxBefore: (EntrySlot | undefined)[] = [];
  const minAfter: (EntrySlot | undefined)[] = new Array(goods.length);
  let max: EntrySlot | undefined;
  for (const g of goods) {
    maxBefore.push(max);
    if (!max || g.entry.seq > max.entry.seq) max = g;
  }
  let min: EntrySlot | undefined;
  for (let i = goods.length - 1; i >= 0; i--) {
    minAfter[i] = min;
    const g = goods[i] as EntrySlot;
    if (!min || g.entry.seq < min.entry.seq) min = g;
  }
  return { maxBefore, minAfter };
}

function outOfOrderMessage(
  slot: EntrySlot,
  earlier: EntrySlot | undefined,
  later: EntrySlot | undefined,
): string {
  const self = `Entry seq ${slot.entry.seq} at line ${slot.line} is out of order`;
  if (earlier && earlier.entry.seq > slot.entry.seq) {
    return `${self}: it comes after seq ${earlier.entry.seq} at line ${earlier.line}.`;
  }
  if (later && later.entry.seq < slot.entry.seq) {
    return `${self}: it comes before seq ${later.entry.seq} at line ${later.line}.`;
  }
  return `${self}.`;
}

/**
 * Takes the longest run of increasing `seq` in file order as in place and reports every other
 * entry as `reordered`; counts holes after each in-place entry for the chain walk.
 */
export function checkOrder(slots: readonly Slot[], problems: AuditProblem[]): Ordered {
  const goods = slots.filter((s): s is EntrySlot => s.kind === 'entry');
  const inPlace = longestIncreasing(goods.map((g) => g.entry.seq));
  const { maxBefore, minAfter } = neighbours(goods);
  goods.forEach((g, i) => {
    if (inPlace.has(i)) return;
    const message = outOfOrderMessage(g, maxBefore[i], minAfter[i]);
    problems.push(problem('reordered', 'log', message, { seq: g.entry.seq, line: g.line }));
  });
  const placed = new Set(goods.filter((_, i) => inPlace.has(i)));
  const holesAfter = new Map<number, number>();
  let anchor = -1;
  for (const slot of slots) {
    if (slot.kind === 'hole') holesAfter.set(anchor, (holesAfter.get(anchor) ?? 0) + 1);
    else if (placed.has(slot)) anchor = slot.entry.seq;
  }
  const sorted = [...goods].sort((a, b) => a.entry.seq - b.entry.seq);
  return { sorted, holesAfter };
}
