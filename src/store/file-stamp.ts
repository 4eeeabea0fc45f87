import { open } from 'node:fs/promises';
import { fromFsError, hasSystemCode } from '../errors/index.js';

/**
 * Identity of a file's current version (inode, size, modification time in ns), or `undefined`
 * when it does not exist. Readers of state that other processes replace atomically (the keyring,
 * the broker state) compare stamps to know when to re-read. Other errors name the file.
 */
export async function fileStamp(path: string): Promise<string | undefined> {
  try {
    const handle = await open(path, 'r');
    try {
      const s = await handle.stat({ bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read', path);
  }
}
