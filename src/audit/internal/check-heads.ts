import type { KeyObject } from 'node:crypto';
import type { AuditProblem } from '../report.js';
import { headLine, headSignatureValid, keyIdOf, type SignedHead } from '../signed-head.js';
import type { EntrySlot } from './parse-log.js';
import { problem, seqRange, short } from './problems.js';
import { headProblem } from './shape.js';

/** A head whose shape, key and signature are valid, with its line in `heads.jsonl`. */
export interface ValidHead {
  readonly head: SignedHead;
  readonly line: number;
}

/** A `{seq, hash}` the caller pinned, e.g. a head exported earlier. */
export interface PinnedHead {
  readonly seq: number;
  readonly hash: string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkHeadLine(
  text: string,
  line: number,
  keyId: string,
  publicKey: KeyObject,
): ValidHead | AuditProblem {
  const bad = (why: string): AuditProblem =>
    problem('malformed', 'heads', `Head at heads.jsonl line ${line} ${why}.`, { line });
  const value = parseJson(text);
  const shape = headProblem(value);
  if (shape !== undefined) return bad(value === undefined ? 'is not JSON' : `is not a valid head: ${shape}`);
  const head = value as SignedHead;
  if (headLine(head) !== text) return bad('is not in the exact form the writer uses');
  const where = { seq: head.seq, line };
  if (head.key_id !== keyId) {
    const message = `Head for seq ${head.seq} at heads.jsonl line ${line} is signed by key ${short(head.key_id)}, not by the trusted key ${short(keyId)}.`;
    return problem('bad-signature', 'heads', message, where);
  }
  if (!headSignatureValid(head, publicKey)) {
    const message = `Head for seq ${head.seq} at heads.jsonl line ${line} has an invalid signature: it was changed after signing.`;
    return problem('bad-signature', 'heads', message, where);
  }
  return { head, line };
}

/** Checks every head line's shape, key and signature; returns the valid heads. */
export function parseHeads(
  lines: readonly string[],
  publicKey: KeyObject,
  problems: AuditProblem[],
): ValidHead[] {
  const keyId = keyIdOf(publicKey);
  const valid: ValidHead[] = [];
  lines.forEach((text, index) => {
    const result = checkHeadLine(text, index + 1, keyId, publicKey);
    if ('head' in result) valid.push(result);
    else problems.push(result);
  });
  return valid;
}

function truncatedMessage(endSeq: number, seq: number, by: string): string {
  const end = endSeq < 0 ? 'The log is empty' : `The log ends at seq ${endSeq}`;
  const cut = seq === endSeq + 1 ? 'entry' : 'entries';
  return `${end}, but ${by} covers entries through seq ${seq}: ${cut} ${seqRange(endSeq + 1, seq)} ${cut === 'entry' ? 'was' : 'were'} cut off.`;
}

/**
 * Compares valid heads with the log: `head-mismatch` when the entry at a head's seq has another
 * hash, `truncated` (once) when a head lies beyond the end. Returns the highest matching seq.
 */
export function checkHeads(
  heads: readonly ValidHead[],
  log: { readonly bySeq: ReadonlyMap<number, EntrySlot>; readonly endSeq: number },
  problems: AuditProblem[],
): number | null {
  let signedThrough: number | null = null;
  let beyond: ValidHead | undefined;
  for (const valid of heads) {
    const { head, line } = valid;
    const slot = log.bySeq.get(head.seq);
    if (!slot) {
      if (head.seq > log.endSeq && (!beyond || head.seq > beyond.head.seq)) beyond = valid;
    } else if (slot.entry.hash !== head.hash) {
      const message = `The head at heads.jsonl line ${line} signs seq ${head.seq} with hash ${short(head.hash)}, but line ${slot.line} has ${short(slot.entry.hash)}: the log was rewritten after signing.`;
      problems.push(problem('head-mismatch', 'heads', message, { seq: head.seq, line }));
    } else if (signedThrough === null || head.seq > signedThrough) {
      signedThrough = head.seq;
    }
  }
  if (beyond) {
    const message = truncatedMessage(
      log.endSeq,
      beyond.head.seq,
      `the signed head at heads.jsonl line ${beyond.line}`,
    );
    problems.push(problem('truncated', 'heads', message, { seq: log.endSeq + 1, line: beyond.line }));
  }
  return signedThrough;
}

/** Compares the pinned head with the log; true when the log holds it. */
export function checkPinned(
  pinned: PinnedHead,
  log: { readonly bySeq: ReadonlyMap<number, EntrySlot>; readonly endSeq: number },
  problems: AuditProblem[],
): boolean {
  const slot = log.bySeq.get(pinned.seq);
  if (slot?.entry.hash === pinned.hash) return true;
  if (slot) {
    const message = `The pinned head says seq ${pinned.seq} has hash ${short(pinned.hash)}, but line ${slot.line} has ${short(slot.entry.hash)}: the log was rewritten.`;
    problems.push(problem('head-mismatch', 'pinned', message, { seq: pinned.seq, line: slot.line }));
  } else if (pinned.seq > log.endSeq) {
    problems.push(
      problem('truncated', 'pinned', truncatedMessage(log.endSeq, pinned.seq, 'the pinned head'), {
        seq: log.endSeq + 1,
      }),
    );
  }
  return false;
}
