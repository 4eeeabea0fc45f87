import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fromFsError, SealtrainError } from '../../errors/index.js';
import { registerSetAside, registerTempDir, syncDir } from '../../store/index.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Refuses an output that exists, unless `overwrite` and it is a previous output (a folder with a
 * `lineage.json`) or an empty folder: `--force` never deletes a folder of other files.
 */
export async function assertReplaceable(out: string, overwrite: boolean): Promise<void> {
  const target = resolve(out);
  if (!(await exists(target))) return;
  if (!overwrite) {
    throw new SealtrainError(
      'ERR_IO_EXISTS',
      `The output folder ${out} exists; pass --force to replace it.`,
      {
        details: { path: out },
      },
    );
  }
  const entries = await readdir(target).catch(() => undefined);
  if (entries === undefined || (entries.length > 0 && !entries.includes('lineage.json'))) {
    throw new SealtrainError(
      'ERR_IO_EXISTS',
      `${out} is not the output of an earlier prepare (no lineage.json); --force replaces only those. Choose another -o.`,
      { details: { path: out } },
    );
  }
}

/**
 * Runs `fill` on a fresh private folder beside `out` (mode 0700) and moves it to `out` only when
 * `fill` succeeds: the output folder appears complete or not at all. An existing `out` is refused
 * before any work unless `overwrite`, and then replaced only at the end. On failure, Ctrl-C or
 * SIGTERM the temp folder is removed.
 */
export async function writeOutputDir<T>(
  out: string,
  overwrite: boolean,
  fill: (dir: string) => Promise<T>,
): Promise<T> {
  const target = resolve(out);
  await assertReplaceable(out, overwrite);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true }).catch((e: unknown) => {
    throw fromFsError(e, 'create the folder', parent);
  });
  const tmp = join(parent, `.${basename(target)}.partial-${randomBytes(6).toString('hex')}`);
  const unregister = registerTempDir(tmp);
  try {
    await mkdir(tmp, { mode: 0o700 });
    const result = await fill(tmp);
    await syncDir(tmp);
    await assertReplaceable(out, overwrite);
    if (await exists(target)) {
      const old = join(parent, `.${basename(target)}.old-${randomBytes(6).toString('hex')}`);
      // A signal between the two renames puts the old folder back.
      const kept = registerSetAside(old, target);
      try {
        await rename(target, old);
        await rename(tmp, target).catch(async (e: unknown) => {
          await rename(old, target).catch(() => {});
          throw e;
        });
        await rm(old, { recursive: true, force: true });
      } finally {
        kept();
      }
    } else {
      await rename(tmp, target);
    }
    await syncDir(parent);
    return result;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  } finally {
    unregister();
  }
}
