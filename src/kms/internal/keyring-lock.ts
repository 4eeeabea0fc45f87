import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromFsError, hasSystemCode, SealtrainError } from '../../errors/index.js';

/** How long to wait for a live lock before reporting `ERR_KMS_KEYRING_LOCKED`. */
const WAIT_MS = 2000;
const POLL_MS = 20;
/** A lock file without a readable pid (its writer died before writing it) is stale after this. */
const UNREADABLE_STALE_MS = 1000;

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
    const match = /^([1-9][0-9]{0,9})\n$/.exec(text);
    const pid = match?.[1] === undefined ? undefined : Number(match[1]);
    return { ino: info.ino, text, pid, ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read the lock', path);
  }
}

function isStale(holder: Holder): boolean {
  return holder.pid === undefined ? holder.ageMs > UNREADABLE_STALE_MS : !isAlive(holder.pid);
}

/** Creates `path` exclusively holding our pid; false when it exists. */
async function tryCreate(path: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (hasSystemCode(error, 'EEXIST')) return false;
    throw fromFsError(error, 'create the lock', path);
  }
  try {
    await handle.writeFile(`${process.pid}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes a stale lock. Stealers take a second exclusive file first and re-check that the lock is
 * still the same dead one, so two processes cannot both replace it and a live lock is never removed.
 */
async function steal(path: string, stale: Holder): Promise<void> {
  const guard = `${path}.steal`;
  if (!(await tryCreate(guard))) {
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

function lockedError(path: string, holder: Holder): SealtrainError {
  const by =
    holder.pid === undefined ? 'another sealtrain process' : `another sealtrain process (pid ${holder.pid})`;
  return new SealtrainError(
    'ERR_KMS_KEYRING_LOCKED',
    `The keyring is locked by ${by} through ${path}; retry when it is done, or remove that file if no sealtrain process is running.`,
    { details: { path, ...(holder.pid === undefined ? {} : { pid: holder.pid }) } },
  );
}

/** Takes the lock file at `path`, waiting briefly for a live holder and taking over a dead one. */
async function acquire(path: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await tryCreate(path)) return;
    const holder = await inspect(path);
    if (holder === undefined) continue;
    if (isStale(holder)) {
      await steal(path, holder);
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(path, holder);
    await sleep(POLL_MS);
  }
}

/** Removes our lock file, unless it is no longer ours. */
async function release(path: string): Promise<void> {
  const holder = await inspect(path).catch(() => undefined);
  if (holder?.pid === process.pid) await unlink(path).catch(() => {});
}

/**
 * Runs `fn` holding the exclusive lock file `path` (created with `O_EXCL`, holding our pid).
 * A lock whose process is gone is taken over; a live one is waited for briefly, then
 * `ERR_KMS_KEYRING_LOCKED` names the lock file.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await acquire(path);
  try {
    return await fn();
  } finally {
    await release(path);
  }
}
