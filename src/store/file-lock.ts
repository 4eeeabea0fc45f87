import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromFsError, hasSystemCode } from '../errors/index.js';

/** Options for {@link withFileLock}. */
export interface FileLockOptions {
  /** How long to wait for a live holder before giving up with {@link FileLockOptions.onTimeout}. */
  readonly timeoutMs: number;
  /**
   * Builds the error thrown once `timeoutMs` has passed. `holderPid` is the pid the lock file
   * names, or `undefined` when it names none.
   */
  readonly onTimeout: (path: string, holderPid: number | undefined) => Error;
  /**
   * Write only `<pid>\n` into the lock file instead of `<pid> <16 hex digits>\n`. For lock files
   * whose readers (older releases, tools) expect the pid alone; the default is safer because
   * release can tell our lock from a later one of the same process by its text.
   */
  readonly pidOnly?: boolean;
}

/** A lock file without a readable pid (its writer died before writing it) is stale after this. */
const UNREADABLE_STALE_MS = 1000;
/** Either lock text: `<pid>\n` or `<pid> <16 hex digits>\n`. */
const LOCK_TEXT = /^([1-9][0-9]{0,9})(?: [0-9a-f]{16})?\n$/;

/** What a lock file says about its holder. */
interface Holder {
  readonly ino: number;
  readonly text: string;
  readonly pid: number | undefined;
  readonly ageMs: number;
}

/** True when process `pid` exists (it may belong to another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasSystemCode(error, 'ESRCH');
  }
}

/** Reads a lock file; `undefined` when it vanished meanwhile. */
async function inspect(path: string): Promise<Holder | undefined> {
  try {
    const [info, text] = await Promise.all([stat(path), readFile(path, 'utf8')]);
    const pid = LOCK_TEXT.exec(text)?.[1];
    return {
      ino: info.ino,
      text,
      pid: pid === undefined ? undefined : Number(pid),
      ageMs: Date.now() - info.mtimeMs,
    };
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read the lock', path);
  }
}

function isStale(holder: Holder): boolean {
  return holder.pid === undefined ? holder.ageMs > UNREADABLE_STALE_MS : !isAlive(holder.pid);
}

/** Creates `path` exclusively holding `text`; its inode number, or `undefined` when it exists. */
async function tryCreate(path: string, text: string): Promise<number | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (hasSystemCode(error, 'EEXIST')) return undefined;
    throw fromFsError(error, 'create the lock', path);
  }
  try {
    await handle.writeFile(text);
    return (await handle.stat()).ino;
  } catch (error) {
    // An empty lock would block everyone until it ages out; it is still ours to remove.
    await unlink(path).catch(() => {});
    throw fromFsError(error, 'write the lock', path);
  } finally {
    await handle.close();
  }
}

/**
 * Removes a stale lock. Stealers take a second exclusive file first and re-check that the lock is
 * still the same dead one, so two processes cannot both replace it and a live lock is never removed.
 */
async function steal(path: string, stale: Holder, text: string): Promise<void> {
  const guard = `${path}.steal`;
  if ((await tryCreate(guard, text)) === undefined) {
    const holder = await inspect(guard);
    if (holder && isStale(holder)) await unlink(guard).catch(() => {});
    return;
  }
  try {
    const again = await inspect(path);
    if (again && again.ino === stale.ino && again.text === stale.text && isStale(again)) await unlink(path);
  } finally {
    await unlink(guard).catch(() => {});
  }
}

/** Takes the lock file at `path`, waiting for a live holder and taking over a dead one; its inode. */
async function acquire(path: string, text: string, options: FileLockOptions): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const ino = await tryCreate(path, text);
    if (ino !== undefined) return ino;
    const holder = await inspect(path);
    if (holder === undefined) continue;
    if (isStale(holder)) {
      await steal(path, holder, text);
      continue;
    }
    if (Date.now() >= deadline) throw options.onTimeout(path, holder.pid);
    // Jitter keeps waiters from polling in lockstep.
    await sleep(1 + Math.floor(Math.random() * 4));
  }
}

/**
 * Runs `fn` holding the exclusive lock file `path`, created with `O_EXCL` and holding our pid
 * (followed by a random tag unless `pidOnly`). A lock whose process is gone, or one that never
 * got its pid written and is over a second old, is taken over through a `<path>.steal` side
 * lock. A live one is waited for up to `timeoutMs`, then the error from `onTimeout` is thrown.
 * Afterwards the lock is removed only while it is still the file we created with our text.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions,
): Promise<T> {
  const text =
    options.pidOnly === true ? `${process.pid}\n` : `${process.pid} ${randomBytes(8).toString('hex')}\n`;
  const ino = await acquire(path, text, options);
  try {
    return await fn();
  } finally {
    const holder = await inspect(path).catch(() => undefined);
    if (holder?.ino === ino && holder.text === text) await unlink(path).catch(() => {});
  }
}
