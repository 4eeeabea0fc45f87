import { SealtrainError } from '../../errors/index.js';

/** The element types an IDX file can hold, named after the JavaScript typed array they become. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array that holds each {@link IdxDtype}. */
export interface IdxDataTypes {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}

/** The elements of an IDX array, in host byte order. */
export type IdxData = IdxDataTypes[IdxDtype];

/** The IDX type byte of each element type, its size in bytes and its typed array. */
export const IDX_TYPES: ReadonlyMap<number, { readonly dtype: IdxDtype; readonly size: number }> = new Map([
  [0x08, { dtype: 'uint8', size: 1 }],
  [0x09, { dtype: 'int8', size: 1 }],
  [0x0b, { dtype: 'int16', size: 2 }],
  [0x0c, { dtype: 'int32', size: 4 }],
  [0x0d, { dtype: 'float32', size: 4 }],
  [0x0e, { dtype: 'float64', size: 8 }],
]);

/** The default limit on the bytes of an IDX array's data: 2 GiB. */
export const DEFAULT_MAX_IDX_BYTES = 2 * 1024 * 1024 * 1024;

/** The largest header: 4 bytes of magic and 255 dimensions of 4 bytes. */
export const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

/** What an IDX header says. */
export interface IdxHeader {
  readonly dtype: IdxDtype;
  /** Bytes per element. */
  readonly size: number;
  readonly shape: number[];
  /** Bytes of the header: 4 + 4 × dimensions. */
  readonly headerBytes: number;
  /** Bytes of the data that follow the header. */
  readonly dataBytes: number;
}

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

/** A {@link SealtrainError} `ERR_DATA_MALFORMED` about `source` (a file path or a name). */
export function malformed(
  source: string,
  problem: string,
  details: Record<string, string | number> = {},
  cause?: unknown,
): SealtrainError {
  return new SealtrainError('ERR_DATA_MALFORMED', `Cannot read IDX file ${source}: ${problem}.`, {
    details: { path: source, ...details },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Throws `ERR_USAGE_INVALID` unless `maxBytes` is a positive safe integer; returns it. */
export function checkMaxBytes(maxBytes: number | undefined): number {
  const limit = maxBytes ?? DEFAULT_MAX_IDX_BYTES;
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new SealtrainError('ERR_USAGE_INVALID', `maxBytes must be a positive whole number, not ${limit}.`, {
      details: { field: 'maxBytes' },
    });
  }
  return limit;
}

/**
 * Parses the header at the start of `bytes` (which may hold more than the header). Checks the
 * magic bytes, the type byte, the number of dimensions, each dimension, and that the data size
 * fits `maxBytes`; it computes that size one dimension at a time, so it never overflows.
 */
export function parseIdxHeader(bytes: Uint8Array, source: string, maxBytes: number): IdxHeader {
  if (bytes.length < 4) {
    throw malformed(source, `the file has ${bytes.length} bytes, fewer than the 4-byte IDX header`, {
      reason: 'truncated',
      actualBytes: bytes.length,
    });
  }
  const [m0 = 0, m1 = 0, typeByte = 0, ndims = 0] = bytes;
  if (m0 !== 0 || m1 !== 0) {
    throw malformed(
      source,
      `it does not start with the IDX magic bytes 00 00 (found ${hex(m0)} ${hex(m1)})`,
      {
        reason: 'bad-magic',
      },
    );
  }
  const type = IDX_TYPES.get(typeByte);
  if (type === undefined) {
    const known = [...IDX_TYPES.keys()].map(hex).join(', ');
    throw malformed(source, `unknown data type ${hex(typeByte)} (known: ${known})`, {
      reason: 'unknown-dtype',
    });
  }
  if (ndims === 0) throw malformed(source, 'the header declares no dimensions', { reason: 'no-dimensions' });
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw malformed(
      source,
      `the header is cut short: ${ndims} dimensions need ${headerBytes} bytes, the file has ${bytes.length}`,
      { reason: 'truncated', expectedBytes: headerBytes, actualBytes: bytes.length },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const shape: number[] = [];
  let dataBytes = type.size;
  for (let i = 0; i < ndims; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    if (dim === 0) {
      throw malformed(source, `dimension ${i + 1} of ${ndims} is 0`, { reason: 'zero-dimension' });
    }
    shape.push(dim);
    dataBytes *= dim;
    if (dataBytes > maxBytes) {
      throw malformed(
        source,
        `its dimensions (${shape.join('×')}${i + 1 < ndims ? '×…' : ''} ${type.dtype}) need more than ` +
          `${maxBytes} bytes, the limit (maxBytes)`,
        { reason: 'too-large', limit: maxBytes },
      );
    }
  }
  return { dtype: type.dtype, size: type.size, shape, headerBytes, dataBytes };
}

/**
 * Throws unless the file holds exactly the header and its data: `actualBytes` is the whole
 * length (after gunzip for a gzip file).
 */
export function checkIdxLength(header: IdxHeader, actualBytes: number, source: string): void {
  const expectedBytes = header.headerBytes + header.dataBytes;
  if (actualBytes === expectedBytes) return;
  const what = `${header.shape.join('×')} ${header.dtype} values after a ${header.headerBytes}-byte header`;
  const problem =
    actualBytes < expectedBytes
      ? `the data is truncated: expected ${expectedBytes} bytes (${what}), found ${actualBytes}`
      : `${actualBytes - expectedBytes} trailing bytes after the data: expected ${expectedBytes} bytes (${what}), found ${actualBytes}`;
  throw malformed(source, problem, {
    reason: actualBytes < expectedBytes ? 'truncated' : 'trailing-bytes',
    expectedBytes,
    actualBytes,
  });
}

/**
 * Turns big-endian elements into a typed array in host byte order, in place: `buffer` holds
 * exactly the data and becomes the typed array's buffer.
 */
export function toHostOrder(dtype: IdxDtype, buffer: ArrayBuffer): IdxData {
  const view = new DataView(buffer);
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'int16': {
      const out = new Int16Array(buffer);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(buffer);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(buffer);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(buffer);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}
