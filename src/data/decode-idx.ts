import {
  checkIdxLength,
  checkMaxBytes,
  type IdxDataTypes,
  type IdxDtype,
  type IdxHeader,
  parseIdxHeader,
  toHostOrder,
} from './internal/idx-header.js';

/**
 * An array read from an IDX file. `data` holds the elements in row-major order, in host byte
 * order, in the typed array named by `dtype`; `shape` lists the dimensions, outermost first.
 * Narrow on `dtype` to get the exact typed array.
 */
export type IdxArray = {
  [K in IdxDtype]: { readonly dtype: K; readonly shape: number[]; readonly data: IdxDataTypes[K] };
}[IdxDtype];

/** Options for {@link decodeIdx} and `readIdx`. */
export interface IdxOptions {
  /**
   * The most bytes the data may take (elements × element size), checked from the header before
   * anything is allocated. A gzip file may decompress to at most this plus the header. Default
   * 2 GiB.
   */
  readonly maxBytes?: number;
}

/** Options for {@link decodeIdx}. */
export interface DecodeIdxOptions extends IdxOptions {
  /** Names the bytes in error messages and `details.path`; default `'(buffer)'`. */
  readonly source?: string;
}

/**
 * Decodes an uncompressed IDX file held in memory: magic `00 00`, a type byte, a dimension
 * count, big-endian 32-bit dimensions, then big-endian elements. The bytes must hold exactly
 * the header and its data. The returned data is a copy in host byte order.
 *
 * @throws SealtrainError `ERR_DATA_MALFORMED` naming the source and what is wrong (bad magic,
 *   unknown type, no or zero dimensions, more than `maxBytes`, truncated or trailing bytes with
 *   the expected and actual byte counts).
 */
export function decodeIdx(bytes: Uint8Array, options: DecodeIdxOptions = {}): IdxArray {
  const maxBytes = checkMaxBytes(options.maxBytes);
  const source = options.source ?? '(buffer)';
  const header = parseIdxHeader(bytes, source, maxBytes);
  checkIdxLength(header, bytes.length, source);
  // A copy into a buffer of its own (a Node Buffer's `slice` would share, and may be pooled).
  const data = new ArrayBuffer(header.dataBytes);
  new Uint8Array(data).set(bytes.subarray(header.headerBytes));
  return idxArray(header, data);
}

/** The array for `header` whose big-endian data is exactly `data`; converts it in place. */
export function idxArray(header: IdxHeader, data: ArrayBuffer): IdxArray {
  return { dtype: header.dtype, shape: header.shape, data: toHostOrder(header.dtype, data) } as IdxArray;
}
