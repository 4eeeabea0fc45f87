import { ZERO_HASH } from '../chain.js';
import type { AuditProblem } from '../report.js';
import type { Ordered } from './order.js';
import type { EntrySlot } from './parse-log.js';
import { problem, seqRange, short } from './problems.js';

/** The virtual entry before the first: seq −1, hash 0⁶⁴. */
const GENESIS_SLOT: EntrySlot = {
  kind: 'entry',
  line: 0,
  entry: { v: 1, seq: -1, time: '', actor: '', action: '', outcome: 'ok', prev: ZERO_HASH, hash: ZERO_HASH },
};

function at(slot: EntrySlot): string {
  return slot.line === 0 ? 'the start of the log' : `seq ${slot.entry.seq} (line ${slot.line})`;
}

function deletedMessage(a: EntrySlot, b: EntrySlot, missing: number, holes: number): string {
  if (holes === 0) {
    const what = missing === 1 ? 'Entry' : 'Entries';
    return `${what} ${seqRange(a.entry.seq + 1, b.entry.seq - 1)} ${missing === 1 ? 'is' : 'are'} missing between ${at(a)} and ${at(b)}: deleted.`;
  }
  return `${missing} entries between ${at(a)} and ${at(b)} are missing beyond the ${holes} damaged ${holes === 1 ? 'line' : 'lines'} there: deleted.`;
}

/** Reports the entry a link break points at: see "Chain" in the spec. */
function blame(sorted: readonly EntrySlot[], breaks: ReadonlySet<number>, problems: AuditProblem[]): void {
  const consumed = new Set<number>();
  for (const i of [...breaks].sort((x, y) => x - y)) {
    if (consumed.has(i)) continue;
    const self = sorted[i] as EntrySlot;
    const before = sorted[i - 1];
    let culprit: EntrySlot;
    let why: string;
    if (breaks.has(i + 1)) {
      consumed.add(i + 1);
      const next = sorted[i + 1] as EntrySlot;
      culprit = self;
      why = `it does not link to ${at(before ?? GENESIS_SLOT)} and ${at(next)} does not link to it`;
    } else if (before) {
      culprit = before;
      why = `${at(self)} links to a different hash (${short(self.entry.prev)})`;
    } else {
      culprit = self;
      why = 'its prev is not 64 zeros';
    }
    const message = `Entry seq ${culprit.entry.seq} at line ${culprit.line} was edited and its hash recomputed: ${why}.`;
    problems.push(problem('edited', 'log', message, { seq: culprit.entry.seq, line: culprit.line }));
  }
}

/**
 * Walks the entries in `seq` order: a gap larger than the holes between two entries is `deleted`;
 * adjacent entries that do not link are an `edited` entry whose hash was recomputed. Returns the
 * `seq` the log ends at (the last entry plus the holes after it; −1 for none).
 */
export function walkChain(ordered: Ordered, problems: AuditProblem[]): number {
  const { sorted, holesAfter } = ordered;
  const breaks = new Set<number>();
  let prev = GENESIS_SLOT;
  sorted.forEach((slot, i) => {
    const holes = holesAfter.get(prev.entry.seq) ?? 0;
    const gap = slot.entry.seq - prev.entry.seq - 1;
    if (gap > holes) {
      const where = { seq: prev.entry.seq + 1, line: slot.line };
      problems.push(problem('deleted', 'log', deletedMessage(prev, slot, gap - holes, holes), where));
    } else if (gap === 0 && slot.entry.prev !== prev.entry.hash) {
      breaks.add(i);
    }
    prev = slot;
  });
  blame(sorted, breaks, problems);
  return prev.entry.seq + (holesAfter.get(prev.entry.seq) ?? 0);
}
