import { stat } from 'node:fs/promises';
import { fromFsError } from '../../errors/index.js';
import type { IdxArray } from '../decode-idx.js';
import { readIdx } from '../read-idx.js';
import type { RawRecord, RecordSource } from '../records.js';
import { type InputName, sourceError } from './source-input.js';

/** Options for {@link readIdxRecords}. */
export interface ReadIdxRecordsOptions {
  /** An IDX file of one label per image (shape N), read into a `label` column. */
  readonly labels?: string;
  /** Passed to `readIdx` for each file: the most bytes its data may take; default 2 GiB. */
  readonly maxBytes?: number;
}

/**
 * Opens an IDX images file (shape N×d or N×d1×d2…, plain or gzip) as a {@link RecordSource}:
 * one row per image, with columns `pixel_0` … `pixel_{k-1}` (k = d1×d2…, row-major) holding
 * numbers, and a `label` column when `labels` names an IDX labels file. Both files are read
 * whole at open (through `readIdx`, which checks every size first); `bytesRead()` then counts
 * the share of the input the rows yielded so far stand for.
 *
 * @throws SealtrainError `ERR_DATA_MALFORMED` when a file is not well-formed IDX, the images
 *   file has one dimension, the labels file has more than one, or their counts differ (the
 *   message names both files and both counts); `ERR_IO_NOT_FOUND` when a file is missing.
 */
export async function readIdxRecords(
  path: string,
  options: ReadIdxRecordsOptions = {},
): Promise<RecordSource> {
  const input: InputName = { path, kind: 'IDX' };
  const idxOptions = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  const images = await readIdx(path, idxOptions);
  const [count = 0, ...rest] = images.shape;
  if (rest.length === 0) {
    throw sourceError(
      input,
      `it has one dimension (${count} values), so it holds labels, not images; pass it as the labels file`,
      { reason: 'not-images', dimensions: 1 },
    );
  }
  const width = rest.reduce((a, b) => a * b, 1);
  const labels =
    options.labels === undefined ? undefined : await readLabels(options.labels, idxOptions, count, path);
  const totalBytes =
    (await fileSize(path)) + (options.labels === undefined ? 0 : await fileSize(options.labels));
  const columns = Array.from({ length: width }, (_, i) => `pixel_${i}`);
  if (labels !== undefined) columns.push('label');
  let done = 0;
  return {
    format: 'idx',
    path,
    columns,
    totalBytes,
    bytesRead: () => Math.round((totalBytes * done) / count),
    async *rows(): AsyncGenerator<RawRecord> {
      for (done = 0; done < count; ) {
        const values: number[] = Array.from(images.data.subarray(done * width, (done + 1) * width));
        if (labels !== undefined) values.push(labels.data[done] ?? 0);
        done++;
        yield { row: done, values };
      }
    },
  };
}

/** Reads a labels file and checks it has one dimension of `count`. */
async function readLabels(
  path: string,
  options: { maxBytes?: number },
  count: number,
  imagesPath: string,
): Promise<IdxArray> {
  const input: InputName = { path, kind: 'IDX' };
  const labels = await readIdx(path, options);
  if (labels.shape.length !== 1) {
    throw sourceError(
      input,
      `a labels file must have one dimension, but it has shape ${labels.shape.join('×')}`,
      {
        reason: 'not-labels',
        dimensions: labels.shape.length,
      },
    );
  }
  const [labelCount = 0] = labels.shape;
  if (labelCount !== count) {
    throw sourceError(
      input,
      `it has ${labelCount} labels but the images file ${imagesPath} has ${count} images; the counts must match`,
      { reason: 'count-mismatch', labels: labelCount, images: count, imagesPath },
    );
  }
  return labels;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    throw fromFsError(error, 'read IDX file', path);
  }
}
