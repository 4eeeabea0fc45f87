import { open } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../errors/index.js';

/** The size of each read {@link readWholeFile} hands to the thread pool. */
const PIECE_BYTES = 16 * 1024 * 1024;

/**
 * Reads a local file into one buffer, in 16 MiB pieces read side by side on the thread pool:
 * several times faster than `fs.readFile` (which reads 512 KiB at a time, one after another) for
 * the files a run loads, hundreds of MiB of tensors. The file is read at the size it had when it
 * was opened; one that shrinks meanwhile is an error.
 *
 * @throws {SealtrainError} the file-system error as `fromFsError` names it (`ERR_IO_NOT_FOUND`, …),
 *   or `ERR_IO_CHANGED` when the file ends early.
 */
export async function readWholeFile(path: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fromFsError(error, 'open', path);
  }
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.allocUnsafe(size);
    const pieces: Promise<void>[] = [];
    for (let from = 0; from < size; from += PIECE_BYTES) {
      const end = Math.min(size, from + PIECE_BYTES);
      pieces.push(
        (async () => {
          for (let done = from; done < end; ) {
            const { bytesRead } = await handle.read(bytes, done, end - done, done);
            if (bytesRead === 0)
              throw new SealtrainError(
                'ERR_IO_CHANGED',
                `${path} became shorter while it was read (${size} bytes when opened): read it again once nothing writes to it.`,
                { details: { path } },
              );
            done += bytesRead;
          }
        })(),
      );
    }
    const settled = await Promise.allSettled(pieces);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      bytes.fill(0);
      throw fromFsError(failed.reason, 'read', path);
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
