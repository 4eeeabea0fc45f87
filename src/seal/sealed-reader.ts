import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { chunkCipher } from './internal/context.js';
import type { OpenedInput } from './internal/files.js';
import { type BodyGeometry, bodyGeometry, bodyOffset, TAG_SIZE } from './internal/layout.js';
import { openRandomAccess, type RandomAccessSource, type StorageOptions } from './internal/locations.js';
import { type OpenedHeader, wipeOpened } from './internal/open-header.js';

export type { RandomAccessSource };

import { openSealedInput } from './unseal-file.js';

/** A sequential view of a random-access source, for the header parser. */
function sequential(source: RandomAccessSource): OpenedInput {
  let position = 0;
  return {
    name: source.name,
    size: source.size,
    source: {
      async read(buf: Buffer): Promise<number> {
        const length = Math.min(buf.length, source.size - position);
        if (length <= 0) return 0;
        const bytes = await source.read(position, length);
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(buf, 0, 0, length);
        position += length;
        return length;
      },
    },
    close: async () => {
      await source.close?.();
    },
  };
}

/**
 * Random access to a sealed file: any chunk, or any byte range, decrypts without reading the
 * chunks before it. Each chunk read is authenticated. Call {@link SealedReader.close} to wipe keys.
 */
export class SealedReader {
  readonly path: string;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly plaintextLength: number;
  readonly #src: RandomAccessSource;
  readonly #opened: OpenedHeader;
  readonly #geometry: BodyGeometry;

  private constructor(path: string, src: RandomAccessSource, opened: OpenedHeader, geometry: BodyGeometry) {
    this.path = path;
    this.#src = src;
    this.#opened = opened;
    this.#geometry = geometry;
    this.chunkSize = opened.core.chunk_size;
    this.chunkCount = geometry.chunkCount;
    this.plaintextLength = geometry.plaintextLength;
  }

  /**
   * Opens the header of `location` (a path, or an `az://` blob read with ranged GETs) with one of
   * `providers`' keys.
   */
  static async open(
    location: string,
    options: { providers: readonly KeyProvider[]; keys?: readonly string[]; storage?: StorageOptions },
  ): Promise<SealedReader> {
    return SealedReader.fromSource(await openRandomAccess(location, options.storage), options);
  }

  /**
   * Opens a sealed artifact read through `source` (for a blob: ranged GETs), so one chunk of a
   * remote file decrypts without downloading the rest. Closes `source` on failure.
   */
  static async fromSource(
    source: RandomAccessSource,
    options: { providers: readonly KeyProvider[]; keys?: readonly string[] },
  ): Promise<SealedReader> {
    try {
      const opened = await openSealedInput(sequential(source), options.providers, options.keys);
      const geometry = bodyGeometry(
        source.size - bodyOffset(opened.preamble.slotSize),
        opened.core.chunk_size,
        source.name,
      );
      return new SealedReader(source.name, source, opened, geometry);
    } catch (error) {
      await source.close?.();
      throw error;
    }
  }

  /** Decrypts chunk `index` (0-based). */
  async readChunk(index: number): Promise<Buffer> {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `Chunk ${index} is outside ${this.path} (0 to ${this.chunkCount - 1}).`,
      );
    }
    const stride = this.chunkSize + TAG_SIZE;
    const last = index === this.chunkCount - 1;
    const size = last ? this.#geometry.lastChunkSize : stride;
    const pos = bodyOffset(this.#opened.preamble.slotSize) + index * stride;
    const bytes = await this.#src.read(pos, size);
    const sealed = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = Buffer.alloc(size - TAG_SIZE);
    const failed = chunkCipher().open(this.#opened.payloadKey, sealed, out, this.chunkSize, index, last);
    if (failed >= 0) {
      throw new SealtrainError(
        'ERR_SEAL_DECRYPT_FAILED',
        `Cannot decrypt ${this.path}: the file was modified or damaged.`,
        {
          details: { path: this.path },
        },
      );
    }
    return out;
  }

  /** Decrypts `length` plaintext bytes starting at `offset` (clamped to the end). */
  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.plaintextLength, offset + length);
    if (offset < 0 || offset > end)
      throw new SealtrainError('ERR_USAGE_INVALID', `Range ${offset}+${length} is outside ${this.path}.`);
    const parts: Buffer[] = [];
    for (let i = Math.floor(offset / this.chunkSize); i * this.chunkSize < end; i++) {
      const chunk = await this.readChunk(i);
      const from = Math.max(0, offset - i * this.chunkSize);
      parts.push(chunk.subarray(from, Math.min(chunk.length, end - i * this.chunkSize)));
    }
    return Buffer.concat(parts);
  }

  /** Wipes the keys and closes the file. */
  async close(): Promise<void> {
    wipeOpened(this.#opened);
    await this.#src.close?.();
  }
}
