import { createHash } from 'node:crypto';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  stat,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fromFsError, hasSystemCode, isSealtrainError, SealtrainError } from '../errors/index.js';
import type { ArtifactStat, ArtifactStore, ArtifactWriter, PutOptions, PutResult } from './artifact-store.js';
import { AtomicFile, writeFileAtomic } from './atomic-file.js';
import {
  checkMetadata,
  checkRange,
  checkStorePath,
  checkStorePrefix,
  rangeOutside,
} from './internal/store-path.js';
import { writeAll } from './internal/write-all.js';

/** The metadata sidecar of `file`: hidden, beside it. */
function metaPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.meta.json`);
}

/** A version tag from the file's identity, size and change time. */
function etagOf(info: { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  const h = createHash('sha256').update(`${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`);
  return `"${h.digest('hex').slice(0, 32)}"`;
}

/**
 * An {@link ArtifactStore} in a local folder, the default. Writes go through {@link AtomicFile}
 * (temp file, fsync, rename or hard link), so a crash leaves the old artifact or the new one;
 * conditional create uses the no-overwrite mode (a hard link, which fails if the name exists).
 * Metadata sits in a hidden sidecar written after the data. Names starting with `.` are reserved.
 */
export class LocalFolderStore implements ArtifactStore {
  /** The absolute root folder. */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The file for `path`, confined to the root. */
  #file(path: string): string {
    checkStorePath(path, { noDotSegments: true });
    const file = resolve(this.root, ...path.split('/'));
    if (!file.startsWith(this.root + sep))
      throw new SealtrainError('ERR_USAGE_INVALID', `The artifact path ${path} is outside ${this.root}.`, {
        details: { path },
      });
    return file;
  }

  /**
   * The file for `path`, checked on disk too: no folder on the way and not the file itself may be a
   * symbolic link that leads out of the root. (A link swapped in after the check is not caught:
   * the store trusts whoever else can write inside its root.)
   */
  async #confined(path: string): Promise<string> {
    const file = this.#file(path);
    const outside = (): SealtrainError =>
      new SealtrainError(
        'ERR_USAGE_INVALID',
        `The artifact path ${path} leads outside ${this.root} through a symbolic link.`,
        { details: { path } },
      );
    const root = await realpath(this.root).catch(() => this.root);
    for (let dir = dirname(file); dir.length >= this.root.length; dir = dirname(dir)) {
      let real: string;
      try {
        real = await realpath(dir);
      } catch (error) {
        if (hasSystemCode(error, 'ENOENT')) continue;
        throw fromFsError(error, 'read', dir);
      }
      if (real !== root && !real.startsWith(root + sep)) throw outside();
      break;
    }
    const info = await lstat(file).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      const target = await realpath(file).catch(() => '');
      if (!target.startsWith(root + sep)) throw outside();
    }
    return file;
  }

  async put(path: string, source: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const file = this.#file(path);
    return writeAll(await this.create(path, options), source, (error) => fromFsError(error, 'write', file));
  }

  async create(path: string, options: PutOptions = {}): Promise<ArtifactWriter> {
    const file = await this.#confined(path);
    const metadata = checkMetadata(options.metadata);
    try {
      await mkdir(dirname(file), { recursive: true });
    } catch (error) {
      throw fromFsError(error, 'write', file);
    }
    const out = await AtomicFile.create(file, { overwrite: options.ifNoneMatch !== true }).catch(
      exists(file),
    );
    return {
      write: (buf, position) => out.write(buf, position),
      abort: () => out.abort(),
      commit: async () => {
        await out.commit().catch(exists(file));
        await this.#writeMeta(file, metadata);
        const info = await this.stat(path);
        return { etag: info?.etag ?? '', size: info?.size ?? 0 };
      },
    };
  }

  async #writeMeta(file: string, metadata: Record<string, string>): Promise<void> {
    const sidecar = metaPath(file);
    if (Object.keys(metadata).length > 0) {
      await writeFileAtomic(sidecar, JSON.stringify(metadata), { overwrite: true });
      return;
    }
    await unlink(sidecar).catch((error: unknown) => {
      if (!hasSystemCode(error, 'ENOENT')) throw fromFsError(error, 'write', sidecar);
    });
  }

  async get(path: string): Promise<Readable> {
    const file = await this.#confined(path);
    const handle = await openRead(file);
    return handle.createReadStream();
  }

  async getRange(path: string, offset: number, length: number): Promise<Buffer> {
    const file = await this.#confined(path);
    checkRange(offset, length, file);
    const handle = await openRead(file);
    try {
      const { size } = await handle.stat();
      if (offset + length > size) throw rangeOutside(offset, length, file);
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw rangeOutside(offset, length, file);
        done += bytesRead;
      }
      return out;
    } catch (error) {
      throw fromFsError(error, 'read', file);
    } finally {
      await handle.close();
    }
  }

  async stat(path: string): Promise<ArtifactStat | undefined> {
    const file = await this.#confined(path);
    let info: Awaited<ReturnType<typeof statBig>>;
    try {
      info = await statBig(file);
    } catch (error) {
      if (hasSystemCode(error, 'ENOENT') || hasSystemCode(error, 'ENOTDIR')) return undefined;
      throw fromFsError(error, 'read', file);
    }
    if (!info.isFile()) return undefined;
    return { size: Number(info.size), etag: etagOf(info), metadata: await readMeta(file) };
  }

  async list(prefix = ''): Promise<string[]> {
    checkStorePrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const start = cut < 0 ? '' : prefix.slice(0, cut);
    const found: string[] = [];
    await walk(this.root, start, found);
    return found.filter((p) => p.startsWith(prefix)).sort();
  }

  async delete(path: string): Promise<void> {
    const file = await this.#confined(path);
    try {
      await unlink(file);
    } catch (error) {
      throw fromFsError(error, 'delete', file);
    }
    await unlink(metaPath(file)).catch(() => {});
  }
}

/** Restates a refused create in the store's words (the file layer suggests a CLI flag). */
function exists(file: string): (error: unknown) => never {
  return (error) => {
    if (isSealtrainError(error, 'ERR_IO_EXISTS'))
      throw new SealtrainError('ERR_IO_EXISTS', `Cannot write ${file}: it already exists.`, {
        cause: error,
        details: { path: file },
      });
    throw error;
  };
}

function statBig(file: string) {
  return stat(file, { bigint: true });
}

async function openRead(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw fromFsError(error, 'read', file);
  }
}

async function readMeta(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(metaPath(file), 'utf8')) as Record<string, string>;
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return {};
    throw fromFsError(error, 'read', metaPath(file));
  }
}

/** Collects the visible files under `root/rel` as `/`-separated paths. */
async function walk(root: string, rel: string, found: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(rel === '' ? root : join(root, ...rel.split('/')), { withFileTypes: true });
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT') || hasSystemCode(error, 'ENOTDIR')) return;
    throw fromFsError(error, 'list', join(root, rel));
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) await walk(root, child, found);
    else if (entry.isFile()) found.push(child);
  }
}
