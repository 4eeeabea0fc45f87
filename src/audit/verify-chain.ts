import type { KeyObject } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { walkChain } from './internal/chain-walk.js';
import {
  checkHeads,
  checkPinned,
  type PinnedHead,
  parseHeads,
  type ValidHead,
} from './internal/check-heads.js';
import { dedupe } from './internal/dedupe.js';
import { checkOrder } from './internal/order.js';
import { type EntrySlot, parseLog } from './internal/parse-log.js';
import { problem } from './internal/problems.js';
import { HEX64 } from './internal/shape.js';
import type { AuditProblem, AuditVerifyReport } from './report.js';

/** Options for {@link verifyChain}. */
export interface VerifyChainOptions {
  /** A head exported earlier (`seq` and `hash`): the log must still contain exactly that entry. */
  readonly expectedHead?: { readonly seq: number; readonly hash: string };
  /** Treat entries after the last signed head as an error, not a warning. */
  readonly strict?: boolean;
}

function assertPinned(pinned: PinnedHead | undefined): void {
  if (
    pinned === undefined ||
    (Number.isSafeInteger(pinned.seq) && pinned.seq >= 0 && HEX64.test(pinned.hash))
  )
    return;
  throw new SealtrainError(
    'ERR_USAGE_INVALID',
    'The expected audit head must be a seq (an integer ≥ 0) and a 64-hex-digit hash.',
  );
}

function trustedPairs(heads: readonly ValidHead[], pinned: PinnedHead | undefined): Set<string> {
  const pairs = new Set(heads.map((h) => `${h.head.seq}:${h.head.hash}`));
  if (pinned) pairs.add(`${pinned.seq}:${pinned.hash}`);
  return pairs;
}

function unsignedTail(
  sorted: readonly EntrySlot[],
  signedThrough: number | null,
  strict: boolean,
): AuditProblem[] {
  const tail = sorted.filter((s) => signedThrough === null || s.entry.seq > signedThrough);
  const first = tail[0];
  const last = tail.at(-1);
  if (!first || !last) return [];
  const lines = first.line === last.line ? `line ${first.line}` : `lines ${first.line}–${last.line}`;
  const after =
    signedThrough === null ? 'No entry is covered by a valid signed head' : `After seq ${signedThrough},`;
  const count = `${tail.length} ${tail.length === 1 ? 'entry' : 'entries'} (${lines})`;
  const message =
    signedThrough === null
      ? `${after}: ${count} could have been written by anyone who can write the log.`
      : `${after} ${count} ${tail.length === 1 ? 'is' : 'are'} not covered by a signed head: anyone who can write the log could have added ${tail.length === 1 ? 'it' : 'them'}.`;
  const where = { seq: first.entry.seq, line: first.line };
  return [problem('unsigned-tail', 'log', message, where, strict ? 'error' : 'warning')];
}

/**
 * Verifies an audit log held in memory (no I/O): the hash chain of `lines` (the lines of
 * `audit.jsonl`, without newlines) and the Ed25519 signatures of `heads` (the lines of
 * `heads.jsonl`) under `publicKey`. Reports every problem, each named by `seq` and line; see
 * "Verification" in `docs/spec/audit-log-v1.md` for how each kind is told apart.
 *
 * @throws {SealtrainError} `ERR_USAGE_INVALID` when `expectedHead` is not a seq and a hex hash.
 */
export function verifyChain(
  lines: readonly string[],
  heads: readonly string[],
  publicKey: KeyObject,
  options: VerifyChainOptions = {},
): AuditVerifyReport {
  assertPinned(options.expectedHead);
  const logProblems: AuditProblem[] = [];
  const headProblems: AuditProblem[] = [];
  const pinnedProblems: AuditProblem[] = [];
  const validHeads = parseHeads(heads, publicKey, headProblems);
  const slots = dedupe(
    parseLog(lines, logProblems),
    trustedPairs(validHeads, options.expectedHead),
    logProblems,
  );
  const ordered = checkOrder(slots, logProblems);
  const endSeq = walkChain(ordered, logProblems);
  const log = { bySeq: new Map(ordered.sorted.map((s) => [s.entry.seq, s])), endSeq };
  let signedThrough = checkHeads(validHeads, log, headProblems);
  const pinned = options.expectedHead;
  if (pinned && checkPinned(pinned, log, pinnedProblems)) {
    signedThrough = Math.max(signedThrough ?? -1, pinned.seq);
  }
  const problems = [
    ...logProblems,
    ...headProblems,
    ...pinnedProblems,
    ...unsignedTail(ordered.sorted, signedThrough, options.strict ?? false),
  ];
  const newest = ordered.sorted.at(-1);
  return {
    ok: problems.every((p) => p.severity === 'warning'),
    entries: lines.length,
    signedThrough,
    last: newest ? { seq: newest.entry.seq, hash: newest.entry.hash } : null,
    problems,
  };
}
