import { constants as bufferConstants } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { fromFsError, hasSystemCode } from '../errors/index.js';
import { openRegular } from '../store/index.js';
import { decodeIdx, type IdxArray, type IdxOptions, idxArray } from './decode-idx.js';
import {
  checkIdxLength,
  checkMaxBytes,
  MAX_IDX_HEADER_BYTES,
  malformed,
  parseIdxHeader,
} from './internal/idx-header.js';

const gunzipAsync = promisify(gunzip);

/**
 * Reads an IDX file (the MNIST format), plain or gzip-compressed (recognised by its first bytes
 * `1f 8b`, not by its name). A plain file's size is checked against its header before the data
 * is read; a gzip file is decompressed to at most `maxBytes` plus the header.
 *
 * @param path - The file.
 * @throws SealtrainError `ERR_DATA_MALFORMED` when the file is not a well-formed IDX file or is
 *   larger than `maxBytes` (the message names the file and the problem); `ERR_IO_NOT_FOUND`
 *   or `ERR_IO_FAILED` when it cannot be read.
 */
export async function readIdx(path: string, options: IdxOptions = {}): Promise<IdxArray> {
  const maxBytes = checkMaxBytes(options.maxBytes);
  const { handle, size } = await openRegular(path, 'read IDX file');
  try {
    const head = Buffer.alloc(Math.min(size, MAX_IDX_HEADER_BYTES));
    await readAt(handle, head, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) return await readGzip(handle, { size, path, maxBytes });
    const header = parseIdxHeader(head, path, maxBytes);
    checkIdxLength(header, size, path);
    const data = new ArrayBuffer(header.dataBytes);
    const read = await readAt(handle, new Uint8Array(data), header.headerBytes);
    checkIdxLength(header, header.headerBytes + read, path);
    return idxArray(header, data);
  } catch (error) {
    throw fromFsError(error, 'read IDX file', path);
  } finally {
    await handle.close();
  }
}

/** Decompresses a whole gzip file, never to more than the limit, and decodes it. */
async function readGzip(
  handle: FileHandle,
  { size, path, maxBytes }: { size: number; path: string; maxBytes: number },
): Promise<IdxArray> {
  const outputLimit = Math.min(maxBytes + MAX_IDX_HEADER_BYTES, bufferConstants.MAX_LENGTH);
  // Deflate never grows data by more than a few bytes per 16 KiB block.
  const inputLimit = outputLimit + Math.ceil(outputLimit / 1000) + 65_536;
  if (size > inputLimit) {
    throw malformed(
      path,
      `the gzip file has ${size} bytes, more than its data may have (maxBytes ${maxBytes})`,
      {
        reason: 'too-large',
        limit: maxBytes,
      },
    );
  }
  const compressed = Buffer.alloc(size);
  const read = await readAt(handle, compressed, 0);
  let bytes: Buffer;
  try {
    bytes = await gunzipAsync(compressed.subarray(0, read), { maxOutputLength: outputLimit });
  } catch (error) {
    if (hasSystemCode(error, 'ERR_BUFFER_TOO_LARGE')) {
      throw malformed(
        path,
        `it decompresses to more than ${outputLimit} bytes, the limit (maxBytes ${maxBytes} plus the header)`,
        { reason: 'too-large', limit: maxBytes },
        error,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw malformed(path, `the gzip stream is corrupt (${reason})`, { reason: 'bad-gzip' }, error);
  }
  return decodeIdx(bytes, { maxBytes, source: path });
}

/**
 * Reads into `target` from `position` until it is full or the file ends; returns the bytes read
 * (fewer than asked when the file shrank while it was read).
 */
async function readAt(handle: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(1 << 30, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
