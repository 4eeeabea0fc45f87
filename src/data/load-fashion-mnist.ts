import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hasSystemCode, SealtrainError } from '../errors/index.js';
import type { IdxArray } from './decode-idx.js';
import { readIdx } from './read-idx.js';

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Pixels per Fashion-MNIST image (28 × 28). */
export const FASHION_MNIST_PIXELS = 784;

/** Options for {@link loadFashionMnist}. */
export interface LoadFashionMnistOptions {
  /** The folder with the four IDX files, gzip-compressed or not; default {@link FASHION_MNIST_DIR}. */
  readonly dir?: string;
}

/** One split of Fashion-MNIST, ready for training. */
export interface FashionMnist {
  /** `rows` × 784 pixels, row-major, scaled from 0..255 to [0, 1]. */
  readonly images: Float32Array;
  /** `rows` class labels, 0..9. */
  readonly labels: Int32Array;
  /** The number of examples: 60,000 for `train`, 10,000 for `test`. */
  readonly rows: number;
}

const INSTALL_HINT = 'install it with `apt-get install dataset-fashion-mnist` or pass its folder as `dir`';

/**
 * Loads the `train` or `test` split of Fashion-MNIST from its IDX files
 * (`train-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`, …). Checks that the images are
 * 28 × 28 bytes, that there are as many labels as images, and that every label is 0..9.
 *
 * @throws SealtrainError `ERR_IO_NOT_FOUND` when the folder or a file is missing (the message
 *   says how to install the Debian package); `ERR_DATA_MALFORMED` when a file is malformed or
 *   the files do not agree.
 */
export async function loadFashionMnist(
  split: 'train' | 'test',
  options: LoadFashionMnistOptions = {},
): Promise<FashionMnist> {
  const dir = options.dir ?? FASHION_MNIST_DIR;
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = await findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = await findFile(dir, `${prefix}-labels-idx1-ubyte`);
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  const rows = checkImages(images, imagesPath);
  const labelData = checkLabels(labels, labelsPath);
  if (labelData.length !== rows) {
    throw new SealtrainError(
      'ERR_DATA_MALFORMED',
      `Cannot load the Fashion-MNIST ${split} split from ${dir}: ${imagesPath} has ${rows} images but ` +
        `${labelsPath} has ${labelData.length} labels.`,
      { details: { path: dir, images: rows, labels: labelData.length } },
    );
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images.data[i] ?? 0) / 255;
  return { images: pixels, labels: Int32Array.from(labelData), rows };
}

/** `name.gz` in `dir`, else `name`; a clear error when the folder or both files are missing. */
async function findFile(dir: string, name: string): Promise<string> {
  if (!(await exists(dir))) {
    throw new SealtrainError(
      'ERR_IO_NOT_FOUND',
      `Cannot load Fashion-MNIST: no folder ${dir}; ${INSTALL_HINT}.`,
      {
        details: { path: dir },
      },
    );
  }
  const gz = join(dir, `${name}.gz`);
  if (await exists(gz)) return gz;
  const plain = join(dir, name);
  if (await exists(plain)) return plain;
  throw new SealtrainError(
    'ERR_IO_NOT_FOUND',
    `Cannot load Fashion-MNIST: no file ${gz} (or ${plain}); ${INSTALL_HINT}.`,
    {
      details: { path: gz },
    },
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT') || hasSystemCode(error, 'ENOTDIR')) return false;
    throw error;
  }
}

function checkImages(images: IdxArray, path: string): number {
  const [rows = 0, height, width, ...rest] = images.shape;
  if (images.dtype !== 'uint8' || height !== 28 || width !== 28 || rest.length > 0) {
    throw new SealtrainError(
      'ERR_DATA_MALFORMED',
      `Cannot load Fashion-MNIST images from ${path}: expected uint8 N×28×28, found ${images.dtype} ${images.shape.join('×')}.`,
      { details: { path } },
    );
  }
  return rows;
}

function checkLabels(labels: IdxArray, path: string): Uint8Array {
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new SealtrainError(
      'ERR_DATA_MALFORMED',
      `Cannot load Fashion-MNIST labels from ${path}: expected uint8 N, found ${labels.dtype} ${labels.shape.join('×')}.`,
      { details: { path } },
    );
  }
  const bad = labels.data.findIndex((label) => label > 9);
  if (bad >= 0) {
    throw new SealtrainError(
      'ERR_DATA_MALFORMED',
      `Cannot load Fashion-MNIST labels from ${path}: label ${bad} is ${labels.data[bad]}, not a class 0..9.`,
      { details: { path, row: bad } },
    );
  }
  return labels.data;
}
