import { createHash, webcrypto } from 'node:crypto';
import { TAG_SIZE } from './layout.js';

/** Plaintext bytes per batch, and per block of the body digest. */
export const BATCH_BYTES = 4 * 1024 * 1024;

/** Chunks per batch and per digest block for a chunk size. */
export const blockChunks = (chunkSize: number): number => Math.max(1, Math.floor(BATCH_BYTES / chunkSize));

/**
 * The body digest of a sealed file (spec: "Body digest"): SHA-256 over the SHA-256 of each block
 * of {@link blockChunks} sealed chunks, in order. Blocks are hashed on libuv's pool as they are
 * ready, so hashing runs beside encryption and I/O instead of serialising them on one thread.
 */
export class BodyDigest {
  readonly #leaves: Buffer[] = [];

  /** Hashes block `index` (its sealed bytes). The caller keeps `bytes` unchanged until this settles. */
  async add(index: number, bytes: Uint8Array): Promise<void> {
    this.#leaves[index] = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes));
  }

  /** The digest as hex, once every block has been added. */
  hex(): string {
    const h = createHash('sha256');
    for (const leaf of this.#leaves) h.update(leaf);
    return h.digest('hex');
  }
}

/** The body digest of a whole sealed body in memory (for checks and tools). */
export function bodyDigestOf(body: Uint8Array, chunkSize: number): string {
  const block = blockChunks(chunkSize) * (chunkSize + TAG_SIZE);
  const h = createHash('sha256');
  for (let at = 0; at < body.length || at === 0; at += block) {
    h.update(
      createHash('sha256')
        .update(body.subarray(at, at + block))
        .digest(),
    );
    if (body.length === 0) break;
  }
  return h.digest('hex');
}
