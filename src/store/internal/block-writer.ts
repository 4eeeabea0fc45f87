import { randomBytes } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { ArtifactWriter, PutResult } from '../artifact-store.js';

/** Azure's limit on the blocks of one block blob. */
export const MAX_BLOCKS = 50_000;

/** A block id: a per-writer random prefix and the block's index, base64 (one length for all). */
export function blockId(prefix: string, index: number): string {
  return Buffer.from(`${prefix}-${String(index).padStart(6, '0')}`).toString('base64');
}

/** A fresh per-writer block id prefix. */
export function blockPrefix(): string {
  return randomBytes(12).toString('hex');
}

/** What a {@link BlockWriter} needs from a block blob. */
export interface BlockTarget {
  /** The blob's `az://` URI, for messages. */
  readonly uri: string;
  stage(id: string, data: Buffer): Promise<void>;
  commit(ids: readonly string[]): Promise<PutResult>;
}

interface Block {
  readonly offset: number;
  readonly length: number;
  readonly id: string;
}

/**
 * An {@link ArtifactWriter} over a block blob. Contiguous writes fill a block buffer of
 * `blockSize`; a full buffer, or a write elsewhere, stages the buffer as a block. Up to
 * `concurrency` blocks upload at once and `write` waits when that many are in flight. `commit`
 * orders the blocks by offset, checks they cover the artifact without gap or overlap, and commits
 * the list: until then the service shows nothing, and uncommitted blocks expire on their own.
 * Block ids carry a random per-writer prefix, so two writers racing on one blob never mix blocks.
 */
export class BlockWriter implements ArtifactWriter {
  readonly #target: BlockTarget;
  readonly #blockSize: number;
  readonly #concurrency: number;
  readonly #prefix = blockPrefix();
  readonly #blocks: Block[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #buf: Buffer | undefined;
  #bufStart = 0;
  #bufFill = 0;
  #failure: unknown;
  #tail: Promise<void> = Promise.resolve();
  #state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(target: BlockTarget, blockSize: number, concurrency: number) {
    this.#target = target;
    this.#blockSize = blockSize;
    this.#concurrency = concurrency;
  }

  /** Writes run one at a time, in call order: concurrent callers would otherwise share the buffer. */
  write(data: Uint8Array, position: number): Promise<void> {
    const next = this.#tail.then(() => this.#write(data, position));
    this.#tail = next.catch(() => {});
    return next;
  }

  async #write(data: Uint8Array, position: number): Promise<void> {
    this.#checkOpen();
    let src = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let pos = position;
    while (src.length > 0) {
      if (this.#state !== 'open') return; // aborted meanwhile: stage nothing more
      if (this.#buf === undefined || pos !== this.#bufStart + this.#bufFill) {
        await this.#flush();
        this.#buf = Buffer.allocUnsafe(this.#blockSize);
        this.#bufStart = pos;
        this.#bufFill = 0;
      }
      const n = src.copy(this.#buf, this.#bufFill);
      this.#bufFill += n;
      pos += n;
      src = src.subarray(n);
      if (this.#bufFill === this.#blockSize) await this.#flush();
    }
  }

  async commit(): Promise<PutResult> {
    await this.#tail;
    this.#checkOpen();
    try {
      await this.#flush();
      await this.#drain();
      if (this.#failure !== undefined) throw this.#failure;
      const ordered = [...this.#blocks].sort((a, b) => a.offset - b.offset);
      let next = 0;
      for (const b of ordered) {
        if (b.offset !== next)
          throw this.#internal(`bytes ${Math.min(next, b.offset)}+ are missing or doubled`);
        next += b.length;
      }
      const result = await this.#target.commit(ordered.map((b) => b.id));
      this.#state = 'committed';
      return { etag: result.etag, size: next };
    } catch (error) {
      this.#state = 'aborted';
      throw error;
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#tail;
    this.#buf = undefined;
    await this.#drain();
  }

  #checkOpen(): void {
    if (this.#state !== 'open')
      throw new SealtrainError(
        'ERR_INTERNAL',
        `The upload to ${this.#target.uri} is already ${this.#state}.`,
      );
    if (this.#failure !== undefined) throw this.#failure;
  }

  #internal(why: string): SealtrainError {
    return new SealtrainError('ERR_INTERNAL', `Cannot commit ${this.#target.uri}: ${why}.`, {
      details: { uri: this.#target.uri },
    });
  }

  /** Stages the block buffer (if it holds anything), waiting first while the pipeline is full. */
  async #flush(): Promise<void> {
    const buf = this.#buf;
    if (buf === undefined || this.#bufFill === 0) return;
    this.#buf = undefined;
    if (this.#blocks.length >= MAX_BLOCKS)
      throw new SealtrainError(
        'ERR_IO_FAILED',
        `Cannot write ${this.#target.uri}: a block blob holds at most ${MAX_BLOCKS} blocks; use a larger block size.`,
        { details: { uri: this.#target.uri, block_size: this.#blockSize } },
      );
    while (this.#inFlight.size >= this.#concurrency) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const id = blockId(this.#prefix, this.#blocks.length);
    this.#blocks.push({ offset: this.#bufStart, length: this.#bufFill, id });
    const staged = this.#target.stage(id, buf.subarray(0, this.#bufFill)).then(
      () => {
        this.#inFlight.delete(staged);
      },
      (error: unknown) => {
        this.#inFlight.delete(staged);
        this.#failure ??= error;
      },
    );
    this.#inFlight.add(staged);
  }

  async #drain(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
