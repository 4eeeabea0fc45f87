import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromFsError, hasSystemCode, SealtrainError } from '../../errors/index.js';

/** How long to wait for a live holder before giving up. */
const WAIT_MS = 10_000;
/** A lock without a readable pid (its writer died before writing it) is stale after this. */
const UNREADABLE_STALE_MS = 1000;
const LOCK_TEXT = /^([1-9][0-9]{0,9}) [0-9a-f]{16}\n$/;

interface Holder {
  readonly ino: number;
  readonly text: string;
  readonly pid: number | undefined;
  readonly ageMs: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasSystemCode(error, 'ESRCH');
  }
}

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

/** Creates `path` exclusively holding `text`; false when it exists. */
async function tryCreate(path: string, text: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (hasSystemCode(error, 'EEXIST')) return false;
    throw fromFsError(error, 'create the lock', path);
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return true;
}

/** Removes a stale lock; a second exclusive file keeps two takers from both replacing it. */
async function steal(path: string, stale: Holder): Promise<void> {
  const guard = `${path}.steal`;
  if (!(await tryCreate(guard, lockText()))) {
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

function lockText(): string {
  return `${process.pid} ${randomBytes(8).toString('hex')}\n`;
}

function busyError(path: string, holder: Holder): SealtrainError {
  const by = holder.pid === undefined ? 'another process' : `process ${holder.pid}`;
  return new SealtrainError(
    'ERR_IO_FAILED',
    `Cannot append to the audit log: ${path} has been held by ${by} for more than ${WAIT_MS / 1000} s; remove it if no sealtrain process is running.`,
    { details: { path, ...(holder.pid === undefined ? {} : { pid: holder.pid }) } },
  );
}

async function acquire(path: string, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await tryCreate(path, text)) return;
    const holder = await inspect(path);
    if (holder === undefined) continue;
    if (isStale(holder)) {
      await steal(path, holder);
      continue;
    }
    if (Date.now() >= deadline) throw busyError(path, holder);
    await sleep(1 + Math.floor(Math.random() * 4));
  }
}

/**
 * Runs `fn` holding the lock file `path`, created with `O_EXCL` and holding `<pid> <random>`. A
 * lock whose process is gone is taken over; a live one is waited for up to 10 s, then
 * `ERR_IO_FAILED` names the lock file. Only our own lock (same random text) is removed after.
 */
export async function withAppendLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const text = lockText();
  await acquire(path, text);
  try {
    return await fn();
  } finally {
    const holder = await inspect(path).catch(() => undefined);
    if (holder?.text === text) await unlink(path).catch(() => {});
  }
}
