import type { AuditProblem } from '../report.js';
import type { EntrySlot, Slot } from './parse-log.js';
import { problem } from './problems.js';

/** `${seq}:${hash}` pairs that something trustworthy names (valid heads, the pinned head). */
export type TrustedHashes = ReadonlySet<string>;

const pair = (seq: number, hash: string): string => `${seq}:${hash}`;

/** True when the nearest other-seq entries before and after `slot` in the file bracket its seq. */
function fitsPosition(goods: readonly EntrySlot[], index: number): boolean {
  const seq = goods[index]?.entry.seq ?? 0;
  let before: number | undefined;
  for (let i = index - 1; i >= 0 && before === undefined; i--) {
    const s = goods[i]?.entry.seq;
    if (s !== seq) before = s;
  }
  let after: number | undefined;
  for (let i = index + 1; i < goods.length && after === undefined; i++) {
    const s = goods[i]?.entry.seq;
    if (s !== seq) after = s;
  }
  return (before === undefined || before < seq) && (after === undefined || after > seq);
}

/** Narrows `candidates` by `test`, unless nothing would be left. */
function prefer(candidates: readonly number[], test: (index: number) => boolean): number[] {
  const narrowed = candidates.filter(test);
  return narrowed.length > 0 ? narrowed : [...candidates];
}

function insertedMessage(extra: EntrySlot, kept: EntrySlot, linked: boolean): string {
  const { seq, hash } = extra.entry;
  if (hash === kept.entry.hash) return `Line ${extra.line} repeats entry seq ${seq} from line ${kept.line}.`;
  const why = linked ? `seq ${seq + 1} links to line ${kept.line}` : `seq ${seq} is line ${kept.line}`;
  return `Entry seq ${seq} at line ${extra.line} was inserted: the chain does not link to it (${why}).`;
}

/**
 * Keeps one entry per `seq` and reports every other one as `inserted`. The kept one is the one
 * the next entry links to, else one a trusted head names, else one that fits its place in the
 * file, else the first.
 */
export function dedupe(slots: readonly Slot[], trusted: TrustedHashes, problems: AuditProblem[]): Slot[] {
  const goods = slots.filter((s): s is EntrySlot => s.kind === 'entry');
  const links = new Set(goods.map((s) => pair(s.entry.seq - 1, s.entry.prev)));
  const groups = new Map<number, number[]>();
  goods.forEach((s, i) => {
    groups.set(s.entry.seq, [...(groups.get(s.entry.seq) ?? []), i]);
  });
  const dropped = new Set<EntrySlot>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const at = (i: number): EntrySlot => goods[i] as EntrySlot;
    const isLinked = (i: number): boolean => links.has(pair(at(i).entry.seq, at(i).entry.hash));
    let candidates = prefer(group, isLinked);
    candidates = prefer(candidates, (i) => trusted.has(pair(at(i).entry.seq, at(i).entry.hash)));
    candidates = prefer(candidates, (i) => fitsPosition(goods, i));
    const keepIndex = candidates[0] as number;
    const keep = at(keepIndex);
    for (const i of group) {
      if (at(i) === keep) continue;
      dropped.add(at(i));
      const where = { seq: at(i).entry.seq, line: at(i).line };
      problems.push(problem('inserted', 'log', insertedMessage(at(i), keep, isLinked(keepIndex)), where));
    }
  }
  return slots.filter((s) => s.kind === 'hole' || !dropped.has(s));
}
