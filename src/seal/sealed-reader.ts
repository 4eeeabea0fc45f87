import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { chunkCipher } from './internal/context.js';
import { type OpenedInput, openInput } from './internal/files.js';
import { type BodyGeometry, bodyGeometry, bodyOffset, TAG_SIZE } from './internal/layout.js';
import { type OpenedHeader, wipeOpened } from './internal/open-header.js';
import { openSealedInput } from './unseal-file.js';

/**
 * Random access to a sealed file: any chunk, or any byte range, decrypts without reading the
 * chunks before it. Each chunk read is authenticated. Call {@link SealedReader.close} to wipe keys.
 */
export class SealedReader {
  readonly path: string;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly plaintextLength: number;
  readonly #src: OpenedInput;
  readonly #opened: OpenedHeader;
  readonly #geometry: BodyGeometry;

  private constructor(path: string, src: OpenedInput, opened: OpenedHeader, geometry: BodyGeometry) {
    this.path = path;
    this.#src = src;
    this.#opened = opened;
    this.#geometry = geometry;
    this.chunkSize = opened.core.chunk_size;
    this.chunkCount = geometry.chunkCount;
    this.plaintextLength = geometry.plaintextLength;
  }

  /** Opens `path`'s header with one of `providers`' keys. */
  static async open(
    path: string,
    options: { providers: readonly KeyProvider[]; keys?: readonly string[] },
  ): Promise<SealedReader> {
    const src = await openInput(path);
    try {
      const opened = await openSealedInput(src, options.providers, options.keys);
      const size = src.size ?? 0;
      const geometry = bodyGeometry(
        size - bodyOffset(opened.preamble.slotSize),
        opened.core.chunk_size,
        path,
      );
      return new SealedReader(path, src, opened, geometry);
    } catch (error) {
      await src.close();
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
    const sealed = Buffer.alloc(size);
    const pos = bodyOffset(this.#opened.preamble.slotSize) + index * stride;
    await this.#src.handle?.read(sealed, 0, size, pos);
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
    await this.#src.close();
  }
}
