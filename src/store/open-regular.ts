import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../errors/index.js';

/** Open flags for reading that never block: a named pipe without a writer opens at once. */
export const READ_NONBLOCK = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Opens `path` for reading, refusing anything but a regular file (a directory, a device, a named
 * pipe) without waiting on it. Errors name the file and say what could not be done (`action`);
 * with `folder: 'usage'` a folder is the caller's mistake (`ERR_USAGE_INVALID`), as for a command
 * that names one file.
 */
export async function openRegular(
  path: string,
  action: string,
  options: { readonly folder?: 'usage' } = {},
): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, READ_NONBLOCK);
  } catch (error) {
    throw fromFsError(error, action, path);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory() && options.folder === 'usage')
      throw new SealtrainError('ERR_USAGE_INVALID', `Cannot ${action} ${path}: it is a folder, not a file.`, {
        details: { path },
      });
    if (!info.isFile()) {
      throw new SealtrainError('ERR_IO_FAILED', `Cannot ${action} ${path}: it is not a regular file.`, {
        details: { path },
      });
    }
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw fromFsError(error, action, path);
  }
}
