import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { type FileHandle, link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fromFsError, SealtrainError } from '../errors/index.js';

/** Options for {@link AtomicFile.create} and {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Replace an existing file. Without it an existing target is refused with `ERR_IO_EXISTS`. */
  readonly overwrite?: boolean;
  /** File mode of the result; default 0o600 (sealtrain writes keys, logs and sealed data). */
  readonly mode?: number;
}

/**
 * Temp files not yet moved into place (with their open descriptor, if any), removed on
 * SIGINT/SIGTERM by {@link removePendingTempFiles}; `'dir'` marks a temp folder, and
 * `{ restore }` an old folder set aside that goes back to `restore` unless something took its place.
 */
type Pending = number | 'dir' | { readonly restore: string } | undefined;
const pending = new Map<string, Pending>();

/**
 * Removes every temp file an {@link AtomicFile} has not yet committed. The CLI calls this from
 * its signal handlers so an interrupted command leaves nothing partial behind. Synchronous on purpose.
 */
export function removePendingTempFiles(): void {
  for (const [path, fd] of pending) {
    if (typeof fd === 'object') {
      try {
        if (existsSync(fd.restore)) rmSync(path, { recursive: true, force: true });
        else renameSync(path, fd.restore);
      } catch {}
      continue;
    }
    if (fd === 'dir') {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {}
      continue;
    }
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {}
    try {
      unlinkSync(path);
    } catch {}
  }
  pending.clear();
}

/**
 * Adds a temp file that is not an {@link AtomicFile} (say, a finished file awaiting a check and a
 * rename) to those {@link removePendingTempFiles} removes. Returns the function that takes it off
 * again: call it once the file was renamed into place or deleted.
 */
export function registerTempFile(path: string): () => void {
  return register(path, undefined);
}

/** Puts `path` on the list with what to do on a signal; returns the function that takes it off. */
function register(path: string, what: Pending): () => void {
  pending.set(path, what);
  return () => {
    pending.delete(path);
  };
}

/**
 * Like {@link registerTempFile} for a temp folder, removed with everything in it. Returns the
 * function that takes it off again.
 */
export function registerTempDir(path: string): () => void {
  return register(path, 'dir');
}

/**
 * Registers `old`, a folder just moved aside from `target` so a new one can take its place. On a
 * signal it goes back to `target` if nothing is there yet, and is removed otherwise. Returns the
 * function that takes it off again.
 */
export function registerSetAside(old: string, target: string): () => void {
  return register(old, { restore: target });
}

/**
 * A file that appears at its path complete or not at all. Data goes to a temp file in the same
 * folder; {@link AtomicFile.commit} fsyncs it, moves it into place and fsyncs the folder, so a crash
 * or `kill -9` at any instant leaves either the old file or the new one, never a mix.
 */
export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  readonly handle: FileHandle;
  readonly #overwrite: boolean;
  #done = false;

  private constructor(path: string, tempPath: string, handle: FileHandle, overwrite: boolean) {
    this.path = path;
    this.tempPath = tempPath;
    this.handle = handle;
    this.#overwrite = overwrite;
  }

  /** Opens a temp file beside `path`. Refuses early when `path` exists and `overwrite` is off. */
  static async create(path: string, options: AtomicWriteOptions = {}): Promise<AtomicFile> {
    const overwrite = options.overwrite ?? false;
    if (!overwrite) await assertAbsent(path);
    const tempPath = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    // Registered before it exists: a signal while the open is under way removes it too.
    pending.set(tempPath, undefined);
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx', options.mode ?? 0o600);
    } catch (error) {
      pending.delete(tempPath);
      throw fromFsError(error, 'write', path);
    }
    pending.set(tempPath, handle.fd);
    return new AtomicFile(path, tempPath, handle, overwrite);
  }

  /** Writes all of `data` at `position` (or at the current offset). */
  async write(data: Uint8Array, position?: number): Promise<void> {
    try {
      let off = 0;
      while (off < data.length) {
        const pos = position === undefined ? null : position + off;
        const { bytesWritten } = await this.handle.write(data, off, data.length - off, pos);
        off += bytesWritten;
      }
    } catch (error) {
      throw fromFsError(error, 'write', this.path);
    }
  }

  /** Flushes, moves the temp file into place and makes the rename durable. */
  async commit(): Promise<void> {
    if (this.#done) throw new SealtrainError('ERR_INTERNAL', `AtomicFile for ${this.path} already finished.`);
    try {
      await this.handle.sync();
      await this.handle.close();
      // Still removed on a signal until it is gone from its temp name: after a link the target
      // is whole, and before the rename or link there is only the old target to keep.
      pending.set(this.tempPath, undefined);
      if (this.#overwrite) {
        await rename(this.tempPath, this.path);
      } else {
        await link(this.tempPath, this.path);
        await unlink(this.tempPath);
      }
      pending.delete(this.tempPath);
      this.#done = true;
      await syncDir(dirname(this.path));
    } catch (error) {
      await this.abort();
      throw fromFsError(error, 'write', this.path);
    }
  }

  /** Closes and removes the temp file; the target is untouched. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    pending.delete(this.tempPath);
    await this.handle.close().catch(() => {});
    await unlink(this.tempPath).catch(() => {});
  }
}

/** Writes `data` to `path` atomically (temp file, fsync, rename, fsync of the folder). */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const file = await AtomicFile.create(path, options);
  try {
    await file.write(typeof data === 'string' ? Buffer.from(data) : data);
  } catch (error) {
    await file.abort();
    throw error;
  }
  await file.commit();
}

/** Throws `ERR_IO_EXISTS` naming `path` when something is there. */
export async function assertAbsent(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
  } catch {
    return;
  }
  await handle.close();
  throw new SealtrainError(
    'ERR_IO_EXISTS',
    `Refusing to replace ${path}: it exists; pass --force to replace it.`,
    {
      details: { path },
    },
  );
}

/** fsyncs a folder so a rename inside it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
