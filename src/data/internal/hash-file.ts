import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { openRegular } from '../../store/index.js';

/** SHA-256 (hex) and length of the first `size` bytes of an open file, read in 1 MiB steps. */
export async function hashFile(handle: FileHandle, size: number): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(Math.max(1, Math.min(size, 1 << 20)));
  let bytes = 0;
  while (bytes < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - bytes), bytes);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    bytes += bytesRead;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** SHA-256 (hex) and length of the file at `path`. */
export async function hashPath(path: string): Promise<{ sha256: string; bytes: number }> {
  const { handle, size } = await openRegular(path, 'read');
  try {
    return await hashFile(handle, size);
  } finally {
    await handle.close();
  }
}
