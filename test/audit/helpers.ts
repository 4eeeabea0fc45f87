import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AuditEntry,
  type AuditEvent,
  type AuditProblemKind,
  type AuditVerifyReport,
  appendEntry,
  type ChainState,
  entryLine,
  GENESIS,
  hashEntry,
  headLine,
  signHead,
} from '../../src/audit/index.js';

/** The key pair the in-memory logs are signed with. */
export const KEYS: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('ed25519');

/** A clock that starts at a fixed instant and advances one millisecond per call. */
export function steppingClock(start = Date.UTC(2026, 10, 23, 10, 0, 0)): () => Date {
  let now = start;
  return () => new Date(now++);
}

/** The n-th sample event. */
export function sampleEvent(n: number): AuditEvent {
  return n % 3 === 0
    ? {
        actor: 'alice@host',
        action: 'keys.rotate',
        outcome: 'ok',
        key: { uri: 'local:alice', version: String(n) },
      }
    : n % 3 === 1
      ? {
          actor: 'bob@host',
          action: 'unseal',
          outcome: 'error',
          code: 'ERR_SEAL_DECRYPT_FAILED',
          details: { n },
        }
      : {
          actor: 'carol@host',
          action: 'seal',
          outcome: 'ok',
          file: { path: `/d/${n}.sealed`, sha256: 'ab'.repeat(32) },
        };
}

/** An in-memory log built with the core: its lines, heads, and the state after it. */
export interface MemoryLog {
  lines: string[];
  heads: string[];
  state: ChainState;
}

/** Builds a log of `events` with a head every `interval` entries and one at the end. */
export function buildLog(events: readonly AuditEvent[], interval = 4, key = KEYS.privateKey): MemoryLog {
  const clock = steppingClock();
  const lines: string[] = [];
  const heads: string[] = [];
  let state = GENESIS;
  for (const event of events) {
    const result = appendEntry(state, event, { clock });
    lines.push(result.line);
    state = result.state;
    if (state.next % interval === 0) heads.push(headLine(signHead(state, key, { clock })));
  }
  if (state.next % interval !== 0 && state.next > 0) heads.push(headLine(signHead(state, key, { clock })));
  return { lines, heads, state };
}

/** `count` sample events. */
export function sampleEvents(count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => sampleEvent(i));
}

/** Parses an entry line. */
export function parse(line: string | undefined): AuditEntry {
  return JSON.parse(line ?? '') as AuditEntry;
}

/** Replaces members of an entry and re-serialises it; `rehash` recomputes its hash. */
export function editLine(line: string | undefined, changes: Partial<AuditEntry>, rehash = false): string {
  const edited = { ...parse(line), ...changes } as AuditEntry;
  return entryLine(rehash ? { ...edited, hash: hashEntry(edited) } : edited);
}

/** The kinds of the report's errors (not warnings), sorted and unique. */
export function errorKinds(report: AuditVerifyReport): AuditProblemKind[] {
  return [...new Set(report.problems.filter((p) => p.severity === 'error').map((p) => p.kind))].sort();
}

/** A temp folder, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-audit-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads a text file's lines (without the empty one after the final newline). */
export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Writes `lines` as a newline-terminated text file. */
export async function writeLines(path: string, lines: readonly string[]): Promise<void> {
  await writeFile(path, lines.map((l) => `${l}\n`).join(''));
}

export { rejectsWith } from '../helpers/rejects.js';
