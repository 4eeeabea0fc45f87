/**
 * Training data on disk: a strict reader for IDX files (the MNIST format, plain or gzip) that
 * checks every size against the header and a byte limit before it allocates, and a loader for
 * Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it.
 *
 * @module
 */

export { type DecodeIdxOptions, decodeIdx, type IdxArray, type IdxOptions } from './decode-idx.js';
export type { IdxData, IdxDataTypes, IdxDtype } from './internal/idx-header.js';
export { DEFAULT_MAX_IDX_BYTES } from './internal/idx-header.js';
export {
  FASHION_MNIST_DIR,
  FASHION_MNIST_PIXELS,
  type FashionMnist,
  type LoadFashionMnistOptions,
  loadFashionMnist,
} from './load-fashion-mnist.js';
export { readIdx } from './read-idx.js';
