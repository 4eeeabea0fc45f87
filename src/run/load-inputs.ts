import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readTensorFile, TensorFileHasher, type TensorFileHeader } from '../data/tensor-file.js';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { zeroSoon } from '../internal/zero-soon.js';
import type { KeyProvider } from '../kms/index.js';
import { MAGIC, unsealFileToMemory } from '../seal/index.js';
import { openRegular, type ProgressWatch, readWholeFile } from '../store/index.js';
import type { Dataset } from '../train/index.js';
import type { RunConfig } from './run-config.js';

/** The split files a run reads. */
export interface RunInputs {
  readonly train?: string;
  readonly validation?: string;
  readonly test?: string;
  /** The prepare folder's signed lineage manifest, when there is one. */
  readonly lineage?: string;
  /** Exec mode's other files. */
  readonly files: readonly string[];
}

/** One split in memory. */
export interface LoadedSplit {
  readonly path: string;
  readonly dataset: Dataset;
  readonly header: TensorFileHeader;
  /** SHA-256 of the tensor file (the plaintext, as the lineage manifest's tensor digest). */
  readonly sha256: string;
  readonly sealed: boolean;
  /** Overwrites the plaintext (the file's bytes, which the dataset views); later calls do nothing. */
  wipe(): void;
  /**
   * The same, off this thread where it can ({@link zeroSoon}: on the thread pool with the native
   * addon, else a few MiB per turn of the event loop), so that what this thread does meanwhile
   * (sealing and writing the model) goes on. A {@link LoadedSplit.wipe} call on the way finishes
   * the job at once.
   */
  wipeSoon(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

async function splitFile(dir: string, name: string): Promise<string | undefined> {
  for (const file of [`${name}.tensor.sealed`, `${name}.tensor`])
    if (await exists(join(dir, file))) return join(dir, file);
  return undefined;
}

/** The inputs a config names: `data.dir`'s split files, or the explicit paths. */
export async function resolveInputs(config: RunConfig): Promise<RunInputs> {
  const d = config.data;
  const fromDir = async (name: 'train' | 'validation' | 'test') =>
    d[name] ?? (d.dir !== undefined ? await splitFile(d.dir, name) : undefined);
  const inputs: RunInputs = {
    ...(await optional('train', await fromDir('train'))),
    ...(await optional('validation', await fromDir('validation'))),
    ...(await optional('test', await fromDir('test'))),
    ...(d.dir !== undefined && (await exists(join(d.dir, 'lineage.json')))
      ? { lineage: join(d.dir, 'lineage.json') }
      : {}),
    files: d.files ?? [],
  };
  if (d.dir !== undefined && inputs.train === undefined && inputs.files.length === 0)
    throw new SealtrainError(
      'ERR_IO_NOT_FOUND',
      `${d.dir} (data.dir) has no train.tensor or train.tensor.sealed: is it a sealtrain prepare output?`,
      { details: { path: d.dir } },
    );
  return inputs;
}

async function optional(key: string, path: string | undefined): Promise<Record<string, string>> {
  return path === undefined ? {} : { [key]: path };
}

/**
 * Whether a file starts with the sealed-file magic. Only a regular file is an input: a named pipe,
 * a device or a folder is refused at once (a pipe without a writer would otherwise hang the run,
 * and the bytes peeked here would be gone from one with a writer).
 */
export async function isSealed(path: string): Promise<boolean> {
  const { handle } = await openRegular(path, 'read');
  try {
    const head = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === MAGIC.length && head.equals(Buffer.from(MAGIC));
  } catch (error) {
    throw fromFsError(error, 'read', path);
  } finally {
    await handle.close();
  }
}

/** Providers, or their promise: a file is read while its keys are still being released. */
export type ProvidersSoon = readonly KeyProvider[] | PromiseLike<readonly KeyProvider[]>;

/** Options for {@link readInput}. */
export interface ReadInputOptions {
  /** Told whether the file is sealed, it gives the watch of the buffer being filled (a hasher's), if any. */
  readonly watchFor?: (sealed: boolean) => ProgressWatch | undefined;
  /** Batches of a sealed file decrypted at once (`unsealFileToMemory`'s `concurrency`). */
  readonly concurrency?: number;
  /** For a sealed file: told the SHA-256 of its stored bytes (`unsealFileToMemory`'s `onStoredSha256`). */
  readonly onStoredSha256?: (sha256: string) => void;
}

/**
 * Reads a file into memory, opening it with `providers` when it is sealed. The plaintext exists
 * only in the returned buffer: the caller wipes it. A sealed file is read ahead while `providers`
 * are still on their way and decrypted batch by batch once they are there (`unsealFileToMemory`):
 * its plaintext is returned only after every chunk authenticated, and is zeroed on any failure.
 */
export async function readInput(
  path: string,
  providers: ProvidersSoon,
  options: ReadInputOptions = {},
): Promise<{ bytes: Buffer; sealed: boolean }> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(
      'readInput: the third argument is an options object ({ watchFor, concurrency, onStoredSha256 }).',
    );
  const sealed = await isSealed(path);
  const watch = options.watchFor?.(sealed);
  const w = watch ? { watch } : {};
  if (sealed)
    return {
      bytes: await unsealFileToMemory(path, {
        providers,
        ...w,
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.onStoredSha256 ? { onStoredSha256: options.onStoredSha256 } : {}),
      }),
      sealed,
    };
  return { bytes: await readWholeFile(path, w), sealed };
}

/** What the data owner's signed lineage manifest lists for a sealed split. */
export interface SignedSealedSplit {
  /** SHA-256 (hex) of the sealed file as stored. */
  readonly sha256: string;
  /** SHA-256 (hex) of its plaintext, the tensor file. */
  readonly plaintextSha256: string;
}

/** Options for {@link loadSplit}. */
export interface LoadSplitOptions {
  /**
   * For a sealed split, its entry in the lineage manifest whose signature was checked: its stored
   * bytes are then hashed as they are read, and when they are the ones signed, its plaintext is
   * not hashed (see below).
   */
  readonly signed?: SignedSealedSplit;
}

/**
 * Loads one split's tensor file (sealed or not) as a {@link Dataset}: `features` float32 and
 * `labels` int32 (classes) or float32 (targets), checked by the tensor-file reader.
 */
export async function loadSplit(
  path: string,
  providers: ProvidersSoon,
  options: LoadSplitOptions = {},
): Promise<LoadedSplit> {
  // The file is hashed as its bytes become final (read, or decrypted and authenticated), while
  // the rest is still being read or decrypted on the thread pool: not in a second pass. The
  // digests (whole file, checksum, each tensor) are themselves taken on the thread pool.
  // A sealed file's plaintext is authenticated chunk by chunk as it decrypts: its tensors' own
  // digests are not taken again (see readTensorFile's `authenticated`), only the file's.
  // A sealed file its owner signed is hashed as stored instead, while it is read and the keys
  // are still on their way: stored as signed, it holds exactly the plaintext the owner hashed.
  const { signed } = options;
  let hasher: TensorFileHasher | undefined;
  let stored: string | undefined;
  const watchFor = (sealed: boolean): ProgressWatch | undefined =>
    sealed && signed
      ? undefined
      : (buffer) => {
          const h = new TensorFileHasher(buffer, { tensors: !sealed });
          hasher = h;
          return (end) => h.advance(end);
        };
  // One lane decrypts (about 4.5 GB/s with AES-NI) ahead of the plaintext's SHA-256 stream that
  // follows it (about 1.8 GB/s, one core): more lanes would only take cores from that stream.
  // A split its owner signed is hashed as stored instead, ahead of the decryption, and nothing
  // follows it: two lanes then (188 MB ready about 10 ms sooner on two cores; bench/ in the README).
  const read = readInput(path, providers, {
    watchFor,
    concurrency: signed ? 2 : 1,
    ...(signed
      ? {
          onStoredSha256: (sha256: string) => {
            stored = sha256;
          },
        }
      : {}),
  });
  const { bytes, sealed } = await read.catch((error: unknown) => {
    hasher?.dispose();
    throw error;
  });
  const verified = sealed && signed !== undefined && stored === signed.sha256;
  if (sealed && signed && !verified) {
    // Stored otherwise than signed (rewrapped since, say): its plaintext is hashed after all, for
    // the lineage check to compare with the signed plaintext digest.
    hasher = new TensorFileHasher(bytes, { tensors: false });
    hasher.advance(bytes.length);
  }
  let wiped = false;
  let zeroed = false; // bytes are all zeros already
  const wipe = () => {
    if (wiped) return;
    wiped = true;
    if (!zeroed) bytes.fill(0);
    // A tensor is a view of `bytes` (wiped above) unless the reader had to copy it.
    for (const t of [dataset.features, dataset.labels]) if (t.buffer !== bytes.buffer) t.fill(0);
  };
  const wipeSoon = async () => {
    if (!wiped) {
      await zeroSoon(bytes, { zeroed: () => wiped });
      zeroed = true;
    }
    wipe();
  };
  let dataset: Dataset = { features: new Float32Array(0), labels: new Int32Array(0), rows: 0 };
  try {
    await hasher?.finish(); // the digests, taken on the thread pool
    const file = readTensorFile(bytes, {
      source: path,
      authenticated: sealed,
      ...(verified ? { verifiedSha256: signed.plaintextSha256 } : hasher ? { hashed: hasher } : {}),
    });
    const features = file.tensors.get('features');
    const labels = file.tensors.get('labels');
    if (features?.dtype !== 'float32' || !labels || (labels.dtype !== 'int32' && labels.dtype !== 'float32'))
      throw new SealtrainError(
        'ERR_TRAIN_DATA_INVALID',
        `${path} needs a float32 features tensor and an int32 or float32 labels tensor.`,
        { details: { path } },
      );
    // Views of `bytes` (no copy of what may be gigabytes): wiping one wipes the other.
    dataset = {
      features: features.data as Float32Array,
      labels: labels.data as Int32Array | Float32Array,
      rows: features.shape[0] ?? 0,
    };
    return { path, dataset, header: file.header, sha256: file.sha256, sealed, wipe, wipeSoon };
  } catch (error) {
    wipe();
    throw error;
  } finally {
    hasher?.dispose();
  }
}
