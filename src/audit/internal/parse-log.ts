import { type AuditEntry, entryLine } from '../chain.js';
import type { AuditProblem } from '../report.js';
import { contentHash } from './digest.js';
import { problem } from './problems.js';
import { entryProblem, HEX64, LIMITS } from './shape.js';

/** A line that holds a valid entry. */
export interface EntrySlot {
  readonly kind: 'entry';
  readonly line: number;
  readonly entry: AuditEntry;
}

/** A line that takes a place in the file but not in the chain (edited or malformed). */
export interface HoleSlot {
  readonly kind: 'hole';
  readonly line: number;
}

/** One line of `audit.jsonl`, classified. */
export type Slot = EntrySlot | HoleSlot;

/** What one line holds: a valid entry, or the problem that makes it a hole. */
export type ParsedLine = { readonly entry: AuditEntry } | { readonly problem: AuditProblem };

function seqOf(value: Record<string, unknown>): number | undefined {
  return Number.isSafeInteger(value.seq) && (value.seq as number) >= 0 ? (value.seq as number) : undefined;
}

/** The entry hash of `obj`, or `null` when it cannot be computed (e.g. nesting too deep). */
function safeHash(obj: Record<string, unknown>): string | null {
  try {
    return contentHash(obj);
  } catch {
    return null;
  }
}

const NOT_JSON = Symbol('not JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/**
 * Classifies line `n` (1-based): `edited` when it is a JSON object whose `hash` does not recompute,
 * `malformed` when it is not JSON, too long, or breaks the entry shape or the exact serialisation.
 */
export function parseEntryLine(text: string, n: number): ParsedLine {
  const bad = (why: string, seq?: number): ParsedLine => ({
    problem: problem('malformed', 'log', `Line ${n}${seq === undefined ? '' : ` (seq ${seq})`} ${why}.`, {
      seq,
      line: n,
    }),
  });
  if (Buffer.byteLength(text) + 1 > LIMITS.lineBytes) return bad(`is longer than ${LIMITS.lineBytes} bytes`);
  const value = parseJson(text);
  if (value === NOT_JSON) return bad('is not JSON');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('is not a JSON object');
  const obj = value as Record<string, unknown>;
  const seq = seqOf(obj);
  const recomputed = typeof obj.hash === 'string' && HEX64.test(obj.hash) ? safeHash(obj) : undefined;
  if (recomputed === null) return bad('cannot be hashed', seq);
  if (recomputed !== undefined && recomputed !== obj.hash) {
    const who = seq === undefined ? `The entry at line ${n}` : `Entry seq ${seq} at line ${n}`;
    const message = `${who} was edited: its content no longer matches its hash.`;
    return { problem: problem('edited', 'log', message, { seq, line: n }) };
  }
  const shape = entryProblem(obj);
  if (shape !== undefined) return bad(`is not a valid entry: ${shape}`, seq);
  const entry = obj as unknown as AuditEntry;
  if (entryLine(entry) !== text) return bad('is not in the exact form the writer uses', seq);
  return { entry };
}

/** Classifies every line; edited and malformed lines become holes and are reported. */
export function parseLog(lines: readonly string[], problems: AuditProblem[]): Slot[] {
  return lines.map((text, index): Slot => {
    const line = index + 1;
    const parsed = parseEntryLine(text, line);
    if ('entry' in parsed) return { kind: 'entry', line, entry: parsed.entry };
    problems.push(parsed.problem);
    return { kind: 'hole', line };
  });
}
