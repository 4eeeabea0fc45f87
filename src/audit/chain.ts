import { SealtrainError } from '../errors/index.js';
import type { AuditEvent } from './audit-event.js';
import { contentHash } from './internal/digest.js';
import { eventProblem, isEntryTime, LIMITS } from './internal/shape.js';

/** One line of `audit.jsonl`: the event plus its place in the chain (see the spec). */
export interface AuditEntry extends AuditEvent {
  /** Format version, always 1. */
  readonly v: 1;
  /** Position in the log: 0 for the first entry, then +1 per entry. */
  readonly seq: number;
  /** UTC time of recording, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
  readonly time: string;
  /** Hex SHA-256 `hash` of the previous entry; {@link ZERO_HASH} for the first. */
  readonly prev: string;
  /** Hex SHA-256 of the canonical JSON of this entry without `hash`. */
  readonly hash: string;
}

/** Where the chain stands: the `seq` the next entry gets and the hash it links to. */
export interface ChainState {
  /** The next entry's `seq` (the number of entries so far). */
  readonly next: number;
  /** The newest entry's hash, or {@link ZERO_HASH} for an empty log. */
  readonly head: string;
}

/** What {@link appendEntry} produced. */
export interface AppendResult {
  /** The new entry. */
  readonly entry: AuditEntry;
  /** Its line in `audit.jsonl`, without the newline. */
  readonly line: string;
  /** The chain after it. */
  readonly state: ChainState;
}

/** Options for {@link appendEntry}. */
export interface AppendEntryOptions {
  /** The time source; default `() => new Date()`. */
  readonly clock?: () => Date;
}

/** The `prev` of the first entry: 64 zeros. */
export const ZERO_HASH = '0'.repeat(64);

/** The state of an empty log. */
export const GENESIS: ChainState = Object.freeze({ next: 0, head: ZERO_HASH });

/** The hash rule: hex SHA-256 of the canonical JSON of `entry` without its `hash` member. */
export function hashEntry(entry: Omit<AuditEntry, 'hash'> & { readonly hash?: string }): string {
  return contentHash(entry as unknown as Readonly<Record<string, unknown>>);
}

/** Serialises `entry` as the writer does: members in spec order, no whitespace. */
export function entryLine(entry: AuditEntry): string {
  const { key, file, details } = entry;
  return JSON.stringify({
    v: entry.v,
    seq: entry.seq,
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    outcome: entry.outcome,
    key: key && { uri: key.uri, version: key.version },
    file: file && { path: file.path, sha256: file.sha256 },
    code: entry.code,
    details: details && sortedCopy(details),
    prev: entry.prev,
    hash: entry.hash,
  });
}

/**
 * Builds the entry that follows `state` for `event`. Only the members of {@link AuditEvent} are
 * copied; an event with any other member, or outside the spec's limits, is refused.
 *
 * @throws {SealtrainError} `ERR_INTERNAL` naming the offending member (never its value).
 */
export function appendEntry(
  state: ChainState,
  event: AuditEvent,
  options: AppendEntryOptions = {},
): AppendResult {
  assertAuditEvent(event);
  const time = (options.clock ?? (() => new Date()))().toISOString();
  if (!isEntryTime(time))
    throw new SealtrainError('ERR_INTERNAL', `The audit clock gave an unusable time ${time}.`);
  if (!Number.isSafeInteger(state.next) || state.next < 0) {
    throw new SealtrainError('ERR_INTERNAL', `The audit chain cannot continue after seq ${state.next - 1}.`);
  }
  const body = { v: 1 as const, seq: state.next, time, ...copyEvent(event), prev: state.head };
  const entry: AuditEntry = { ...body, hash: hashEntry(body) };
  const line = entryLine(entry);
  if (Buffer.byteLength(line) + 1 > LIMITS.lineBytes) {
    throw new SealtrainError(
      'ERR_INTERNAL',
      `Refusing to record an audit event of ${line.length} characters: too large.`,
    );
  }
  return { entry, line, state: { next: state.next + 1, head: entry.hash } };
}

/**
 * Throws unless `event` is a valid {@link AuditEvent}: no members beyond its shape, primitive
 * `details` values, lengths within the spec's limits.
 *
 * @throws {SealtrainError} `ERR_INTERNAL` naming the offending member (never its value).
 */
export function assertAuditEvent(event: unknown): asserts event is AuditEvent {
  const problem = eventProblem(event);
  if (problem !== undefined) {
    throw new SealtrainError('ERR_INTERNAL', `Refusing to record an audit event: ${problem}.`);
  }
}

/** The event's own members, without `undefined` ones, `details` sorted. */
function copyEvent(event: AuditEvent): AuditEvent {
  const { key, file, code, details } = event;
  return {
    actor: event.actor,
    action: event.action,
    outcome: event.outcome,
    ...(key
      ? { key: key.version === undefined ? { uri: key.uri } : { uri: key.uri, version: key.version } }
      : {}),
    ...(file ? { file: { path: file.path, sha256: file.sha256 } } : {}),
    ...(code === undefined ? {} : { code }),
    ...(details ? { details: sortedCopy(details) } : {}),
  };
}

function sortedCopy<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((name) => [name, record[name] as T]),
  );
}
