import { isRecord } from '../../internal/json-shapes.js';
/**
 * Shape checks shared by the writer (refuse an event) and the verifier (report a malformed line).
 * Each check returns a sentence fragment naming the first offending member, or `undefined`. Values
 * are never echoed: an unexpected member may hold a secret.
 */

/** Limits from `docs/spec/audit-log-v1.md`. */
export const LIMITS = {
  lineBytes: 65_536,
  actor: 256,
  keyUri: 1024,
  keyVersion: 128,
  filePath: 4096,
  detailMembers: 32,
  detailValue: 4096,
} as const;

/** 64 lowercase hex digits: a SHA-256 in hex. */
export const HEX64 = /^[0-9a-f]{64}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ACTION = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const DETAIL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const SIG = /^[A-Za-z0-9+/]{86}==$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

type Problem = string | undefined;
type Obj = Readonly<Record<string, unknown>>;

const EVENT_MEMBERS = ['actor', 'action', 'outcome', 'key', 'file', 'code', 'details'] as const;
const ENTRY_MEMBERS = ['v', 'seq', 'time', ...EVENT_MEMBERS, 'prev', 'hash'] as const;
const HEAD_MEMBERS = ['v', 'seq', 'hash', 'time', 'count', 'sig', 'key_id'] as const;

const isObject: (value: unknown) => value is Obj = isRecord;

/** Unknown member names first (whatever their value), then required members. */
function members(obj: Obj, path: string, allowed: readonly string[], required: readonly string[]): Problem {
  const extra = Object.keys(obj).find((name) => !allowed.includes(name));
  if (extra !== undefined) return `${path}${JSON.stringify(extra)} is not an allowed member`;
  const missing = required.find((name) => obj[name] === undefined);
  return missing === undefined ? undefined : `${path}${missing} is missing`;
}

function text(value: unknown, path: string, max: number, pattern?: RegExp, controls = false): Problem {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    return `${path} must be a string of 1 to ${max} characters`;
  }
  if (pattern && !pattern.test(value)) return `${path} has characters or a form that is not allowed`;
  if (!controls && CONTROL.test(value)) return `${path} must not contain control characters`;
  return undefined;
}

function checkKey(value: unknown): Problem {
  if (!isObject(value)) return 'key must be an object';
  return (
    members(value, 'key.', ['uri', 'version'], ['uri']) ??
    text(value.uri, 'key.uri', LIMITS.keyUri) ??
    (value.version === undefined ? undefined : text(value.version, 'key.version', LIMITS.keyVersion))
  );
}

function checkFile(value: unknown): Problem {
  if (!isObject(value)) return 'file must be an object';
  return (
    members(value, 'file.', ['path', 'sha256'], ['path', 'sha256']) ??
    text(value.path, 'file.path', LIMITS.filePath, undefined, true) ??
    text(value.sha256, 'file.sha256', 64, HEX64)
  );
}

function checkDetails(value: unknown): Problem {
  if (!isObject(value)) return 'details must be an object';
  const names = Object.keys(value);
  if (names.length > LIMITS.detailMembers) return `details must have at most ${LIMITS.detailMembers} members`;
  for (const name of names) {
    if (!DETAIL_NAME.test(name)) return `details has a member name that is not allowed`;
    const v = value[name];
    const path = `details.${name}`;
    if (typeof v === 'string') {
      if (v.length > LIMITS.detailValue) return `${path} must be at most ${LIMITS.detailValue} characters`;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${path} must be a finite number`;
    } else if (typeof v !== 'boolean') {
      return `${path} must be a string, number or boolean`;
    }
  }
  return undefined;
}

/** The event members shared by events and entries (assumes member names were checked). */
function eventFields(obj: Obj): Problem {
  if (obj.outcome !== 'ok' && obj.outcome !== 'error') return 'outcome must be "ok" or "error"';
  return (
    text(obj.actor, 'actor', LIMITS.actor) ??
    text(obj.action, 'action', 128, ACTION) ??
    (obj.key === undefined ? undefined : checkKey(obj.key)) ??
    (obj.file === undefined ? undefined : checkFile(obj.file)) ??
    (obj.code === undefined ? undefined : text(obj.code, 'code', 64, CODE)) ??
    (obj.details === undefined ? undefined : checkDetails(obj.details))
  );
}

function seqProblem(value: unknown, path: string): Problem {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : `${path} must be an integer ≥ 0`;
}

/** Checks an event handed to `record`: known members only, each within its limits. */
export function eventProblem(value: unknown): Problem {
  if (!isObject(value)) return 'the event must be an object';
  return members(value, '', EVENT_MEMBERS, ['actor', 'action', 'outcome']) ?? eventFields(value);
}

/** Checks a parsed entry line against the entry table of the spec. */
export function entryProblem(value: unknown): Problem {
  if (!isObject(value)) return 'not a JSON object';
  return (
    members(value, '', ENTRY_MEMBERS, ['v', 'seq', 'time', 'actor', 'action', 'outcome', 'prev', 'hash']) ??
    (value.v === 1 ? undefined : 'v must be 1') ??
    seqProblem(value.seq, 'seq') ??
    text(value.time, 'time', 24, TIME) ??
    eventFields(value) ??
    text(value.prev, 'prev', 64, HEX64) ??
    text(value.hash, 'hash', 64, HEX64)
  );
}

/** Checks a parsed head line against the head table of the spec (not its signature). */
export function headProblem(value: unknown): Problem {
  if (!isObject(value)) return 'not a JSON object';
  return (
    members(value, '', HEAD_MEMBERS, HEAD_MEMBERS) ??
    (value.v === 1 ? undefined : 'v must be 1') ??
    seqProblem(value.seq, 'seq') ??
    text(value.hash, 'hash', 64, HEX64) ??
    text(value.time, 'time', 24, TIME) ??
    (value.count === (value.seq as number) + 1 ? undefined : 'count must be seq + 1') ??
    text(value.sig, 'sig', 88, SIG) ??
    text(value.key_id, 'key_id', 64, HEX64)
  );
}

/** True when `value` is a valid time for an entry or head (the clock's `toISOString`). */
export function isEntryTime(value: string): boolean {
  return TIME.test(value);
}
