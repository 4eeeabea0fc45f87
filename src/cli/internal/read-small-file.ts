import { readFile } from 'node:fs/promises';
import { type ErrorCode, fromFsError, SealtrainError } from '../../errors/index.js';

/**
 * Reads a small file a command names (a config, a policy, a token, a CA certificate) as text:
 * missing or unreadable is the usual I/O error naming it; larger than `maxBytes` is `code`, so a
 * wrong path to some large file is refused before it is parsed.
 */
export async function readSmallFile(
  path: string,
  what: string,
  options: { maxBytes: number; code: ErrorCode },
): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fromFsError(error, `read the ${what}`, path);
  }
  if (bytes.length > options.maxBytes)
    throw new SealtrainError(options.code, `The ${what} ${path} is over ${options.maxBytes} bytes.`, {
      details: { path },
    });
  return bytes.toString('utf8');
}
