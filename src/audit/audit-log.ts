import type { KeyObject } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fromFsError, hasSystemCode, SealtrainError } from '../errors/index.js';
import { type FileLockOptions, syncDir, withFileLock } from '../store/index.js';
import type { AuditEvent, AuditSink } from './audit-event.js';
import { appendEntry, assertAuditEvent, type ChainState, GENESIS } from './chain.js';
import {
  type AuditPaths,
  appendDurable,
  auditPaths,
  countLines,
  type Repair,
  readTail,
  repairTornLine,
  type Tail,
} from './internal/log-files.js';
import { parseEntryLine } from './internal/parse-log.js';
import { headProblem } from './internal/shape.js';
import { loadOrCreateSigningKey } from './internal/signing-key.js';
import { headLine, signHead } from './signed-head.js';

/** Options for {@link AuditLog.open}. */
export interface AuditLogOptions {
  /** Sign a head after every this many entries (1 … 1 000 000); default 100. */
  readonly headInterval?: number;
  /** The time source for entries and heads; default `() => new Date()`. */
  readonly clock?: () => Date;
}

/** What the writer knows about `audit.jsonl` after its last look. */
interface Known {
  readonly size: number;
  readonly ino: number;
  readonly state: ChainState;
}

const RECOVER_ACTOR = 'sealtrain';

/** How long an append waits for a live holder of `audit.lock` before giving up. */
const APPEND_WAIT_MS = 10_000;

/** The cross-process append lock: a live holder is waited for 10 s, then `ERR_IO_FAILED`. */
const APPEND_LOCK: FileLockOptions = {
  timeoutMs: APPEND_WAIT_MS,
  onTimeout: (path, pid) => {
    const by = pid === undefined ? 'another process' : `process ${pid}`;
    return new SealtrainError(
      'ERR_IO_FAILED',
      `Cannot append to the audit log: ${path} has been held by ${by} for more than ${APPEND_WAIT_MS / 1000} s; remove it if no sealtrain process is running.`,
      { details: { path, ...(pid === undefined ? {} : { pid }) } },
    );
  },
};

/**
 * The append side of the audit log in one folder (`docs/spec/audit-log-v1.md`). Satisfies
 * {@link AuditSink}: when `record` resolves the entry is fsynced. Calls are queued within the
 * process and serialised across processes by the lock file `audit.lock`.
 */
export class AuditLog implements AuditSink {
  /** The audit folder. */
  readonly dir: string;
  /** The public key that verifies this log's heads (SPKI PEM), to export and pin. */
  readonly publicKeyPem: string;
  /** Hex SHA-256 of the public key's DER form, as in every head. */
  readonly keyId: string;
  readonly #paths: AuditPaths;
  readonly #key: KeyObject;
  readonly #interval: number;
  readonly #clock: () => Date;
  #queue: Promise<unknown> = Promise.resolve();
  #known: Known | undefined;
  readonly #batch: Array<{ event: AuditEvent; resolve: () => void; reject: (e: unknown) => void }> = [];
  #closing: Promise<void> | undefined;

  private constructor(
    paths: AuditPaths,
    key: { privateKey: KeyObject; publicKeyPem: string; keyId: string },
    options: AuditLogOptions,
  ) {
    this.dir = paths.dir;
    this.#paths = paths;
    this.#key = key.privateKey;
    this.publicKeyPem = key.publicKeyPem;
    this.keyId = key.keyId;
    this.#interval = options.headInterval ?? 100;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Opens (creating when missing: folder 0700, Ed25519 key pair, empty log) the audit log in
   * `dir`, repairing a torn last line left by a crash and recording the repair.
   *
   * @throws {SealtrainError} `ERR_AUDIT_SIGNING_KEY` naming the key file when it is unreadable or
   *   malformed; `ERR_AUDIT_VERIFY_FAILED` when the last line is damaged; `ERR_IO_*` naming files.
   */
  static async open(dir: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const interval = options.headInterval ?? 100;
    if (!Number.isInteger(interval) || interval < 1 || interval > 1_000_000) {
      throw new SealtrainError(
        'ERR_INTERNAL',
        `The audit head interval must be an integer from 1 to 1000000, not ${interval}.`,
      );
    }
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw fromFsError(error, 'create the audit folder', dir);
    });
    const paths = auditPaths(dir);
    return withFileLock(
      paths.lock,
      async () => {
        const key = await loadOrCreateSigningKey(paths);
        await createIfMissing(paths.log);
        const log = new AuditLog(paths, key, options);
        await log.#currentState();
        await log.#repairHeads();
        return log;
      },
      APPEND_LOCK,
    );
  }

  /**
   * Appends one entry for `event` and, when one is due, a signed head. Resolves once both are
   * fsynced. An event with members beyond {@link AuditEvent} is refused and nothing is written.
   */
  record(event: AuditEvent): Promise<void> {
    if (this.#closing) {
      return Promise.reject(new SealtrainError('ERR_INTERNAL', `The audit log in ${this.dir} is closed.`));
    }
    try {
      assertAuditEvent(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#batch.push({ event, resolve, reject });
      if (this.#batch.length === 1) this.#locked(() => this.#flush()).catch(() => {});
    });
  }

  /**
   * Group commit: appends every event recorded since the last flush in one write and one fsync,
   * under one hold of the lock, then resolves them all (or rejects them all). Concurrent callers
   * (a broker under load) share the cost of durability instead of queueing an fsync each.
   */
  async #flush(): Promise<void> {
    const batch = this.#batch.splice(0);
    try {
      let state = await this.#currentState();
      const lines: string[] = [];
      const heads: ChainState[] = [];
      for (const { event } of batch) {
        const appended = appendEntry(state, event, { clock: this.#clock });
        lines.push(`${appended.line}\n`);
        state = appended.state;
        if (state.next % this.#interval === 0) heads.push(state);
      }
      const text = lines.join('');
      const known = this.#known;
      this.#known = undefined;
      await appendDurable(this.#paths.log, text);
      if (known) this.#known = { ...known, size: known.size + Buffer.byteLength(text), state };
      for (const head of heads) await this.#writeHead(head);
      for (const b of batch) b.resolve();
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  /** Waits for pending records, then signs a head unless the newest head already covers the log. */
  close(): Promise<void> {
    this.#closing ??= this.#locked(async () => {
      const state = await this.#currentState();
      if (state.next > 0 && (await this.#lastHeadSeq()) < state.next - 1) await this.#writeHead(state);
    });
    return this.#closing;
  }

  /** Runs `fn` after everything queued before it, holding the cross-process lock. */
  #locked(fn: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => withFileLock(this.#paths.lock, fn, APPEND_LOCK));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The chain state on disk now, repairing a torn last line (and recording that) first. */
  async #currentState(): Promise<ChainState> {
    const known = this.#known;
    if (known) {
      const info = await stat(this.#paths.log).catch((error: unknown) => {
        if (hasSystemCode(error, 'ENOENT')) return undefined;
        throw fromFsError(error, 'read', this.#paths.log);
      });
      if (info?.size === known.size && info.ino === known.ino) return known.state;
    }
    let tail = await readTail(this.#paths.log);
    let repair: Repair | undefined;
    if (tail.torn.length > 0 && !tail.tooLong) {
      repair = await repairTornLine(this.#paths.log, tail);
      tail = await readTail(this.#paths.log);
    }
    const state = await this.#stateAfter(tail);
    this.#known = { size: tail.size, ino: tail.ino, state };
    if (!repair) return state;
    const details = { reason: repair.reason, line: repair.line, bytes: repair.bytes, sha256: repair.sha256 };
    return this.#append(state, { actor: RECOVER_ACTOR, action: 'audit.recover', outcome: 'ok', details });
  }

  /** The state after the last line of `tail`, which must be a valid entry. */
  async #stateAfter(tail: Tail): Promise<ChainState> {
    if (tail.size === 0) return GENESIS;
    const parsed = tail.lastLine === undefined || tail.tooLong ? undefined : parseEntryLine(tail.lastLine, 0);
    if (parsed && 'entry' in parsed) return { next: parsed.entry.seq + 1, head: parsed.entry.hash };
    const line = await countLines(this.#paths.log);
    const why = parsed && 'problem' in parsed ? `it is ${parsed.problem.kind}` : 'it is too long or torn';
    throw new SealtrainError(
      'ERR_AUDIT_VERIFY_FAILED',
      `Cannot append to ${this.#paths.log}: its last line (${line}) is damaged (${why}); run \`sealtrain audit verify\`, then move ${this.dir} aside to start a new log.`,
      { details: { path: this.#paths.log, line } },
    );
  }

  /** Appends the entry for `event` after `state`, and a head when one is due. */
  async #append(state: ChainState, event: AuditEvent): Promise<ChainState> {
    const { line, state: next } = appendEntry(state, event, { clock: this.#clock });
    const known = this.#known;
    this.#known = undefined;
    await appendDurable(this.#paths.log, `${line}\n`);
    if (known) this.#known = { ...known, size: known.size + Buffer.byteLength(line) + 1, state: next };
    if (next.next % this.#interval === 0) await this.#writeHead(next);
    return next;
  }

  async #writeHead(state: ChainState): Promise<void> {
    await this.#repairHeads();
    const head = signHead(state, this.#key, { clock: this.#clock });
    await appendDurable(this.#paths.heads, `${headLine(head)}\n`);
  }

  /** Heads are re-derivable, so a torn head line is repaired without an entry. */
  async #repairHeads(): Promise<void> {
    const tail = await readTail(this.#paths.heads);
    if (tail.torn.length > 0 && !tail.tooLong) await repairTornLine(this.#paths.heads, tail);
  }

  /** The `seq` of the newest well-formed head, or −1. */
  async #lastHeadSeq(): Promise<number> {
    const { lastLine } = await readTail(this.#paths.heads);
    let value: unknown;
    try {
      value = lastLine === undefined ? undefined : JSON.parse(lastLine);
    } catch {
      return -1;
    }
    return headProblem(value) === undefined ? (value as { seq: number }).seq : -1;
  }
}

/** Creates an empty file (mode 0600) if there is none, making its name durable. */
async function createIfMissing(path: string): Promise<void> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.close();
  } catch (error) {
    if (hasSystemCode(error, 'EEXIST')) return;
    throw fromFsError(error, 'create', path);
  }
  await syncDir(dirname(path));
}
