import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { MAX_CHUNKS, TAG_SIZE } from './layout.js';
import { type NativeGcm, tryLoadNativeGcm } from './native-gcm.js';

/** Largest `chunkSize` a {@link ChunkCipher} accepts (the format's limit is far below). */
export const MAX_CIPHER_CHUNK_SIZE = 2 ** 30;

const KEY_SIZE = 32;
const NONCE_SIZE = 12;

/**
 * AES-256-GCM over a batch of consecutive sealed-file v1 body chunks
 * (`docs/spec/sealed-file-v1.md`, "Body"): chunk `j` of a batch has index `firstIndex + j`,
 * nonce {@link nonceFor}, no AAD, and is stored as ciphertext followed by its 16-byte tag.
 *
 * Guarantees: every implementation produces byte-identical output; `open` writes a chunk's
 * plaintext only where the chunk authenticates, and leaves `dst` zero from the first chunk that
 * does not (including when the key, index or final flag is wrong). Bad arguments throw a
 * TypeError (`ERR_INVALID_ARG_TYPE`) or RangeError (`ERR_OUT_OF_RANGE`); the async methods
 * reject with them instead. `src` and `dst` must not overlap, and must not be touched while an
 * async call is running.
 */
export interface ChunkCipher {
  /** `native` (the `sealtrain_native` addon) or `node` (`node:crypto`, one cipher per chunk). */
  readonly name: 'native' | 'node';
  /**
   * Seals `n = ceil(src.length / chunkSize)` chunks (one empty chunk when `src` is empty) into
   * `dst`, which must be exactly `src.length + 16·n` bytes. The batch's last chunk gets the final
   * flag iff `finalIsLast`.
   */
  seal(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): void;
  /**
   * Opens sealed chunks (`chunkSize + 16` bytes each, the last one 16 bytes or more) into `dst`,
   * which must be exactly `src.length − 16·n` bytes. Returns -1 when every chunk authenticates,
   * else the batch-relative index of the first that does not.
   */
  open(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): number;
  /** {@link ChunkCipher.seal}, off the main thread where the implementation can. */
  sealAsync(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): Promise<void>;
  /** {@link ChunkCipher.open}, off the main thread where the implementation can. */
  openAsync(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): Promise<number>;
}

const codeError = <E extends Error>(error: E, code: string): E => Object.assign(error, { code });
const rangeError = (message: string): RangeError => codeError(new RangeError(message), 'ERR_OUT_OF_RANGE');
const typeError = (name: string, expected: string): TypeError =>
  codeError(new TypeError(`The "${name}" argument must be ${expected}`), 'ERR_INVALID_ARG_TYPE');

function checkInteger(value: unknown, name: string, max: number, min = 0): number {
  if (typeof value !== 'number') throw typeError(name, 'a number');
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`The "${name}" argument must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The 12-byte nonce of chunk `index`: `u88(index) || flag`, flag 0x01 for the file's final chunk. */
export function nonceFor(index: number, final: boolean): Buffer {
  checkInteger(index, 'index', MAX_CHUNKS - 1);
  const nonce = Buffer.alloc(NONCE_SIZE);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = final ? 0x01 : 0x00;
  return nonce;
}

type Op = 'seal' | 'open';

/** Checks a batch like the addon does (same order, classes and codes); returns its chunk count. */
function checkBatch(
  op: Op,
  key: unknown,
  src: unknown,
  dst: unknown,
  chunkSize: unknown,
  first: unknown,
  final: unknown,
): number {
  for (const [name, value] of [
    ['key', key],
    ['src', src],
    ['dst', dst],
  ] as const) {
    if (!(value instanceof Uint8Array)) throw typeError(name, 'a Uint8Array or Buffer');
  }
  const k = key as Uint8Array;
  const s = src as Uint8Array;
  const d = dst as Uint8Array;
  const size = checkInteger(chunkSize, 'chunkSize', MAX_CIPHER_CHUNK_SIZE, 1);
  const firstIndex = checkInteger(first, 'firstIndex', MAX_CHUNKS - 1);
  if (typeof final !== 'boolean') throw typeError('finalIsLast', 'a boolean');
  if (k.length !== KEY_SIZE) throw rangeError('The "key" argument must be 32 bytes');
  const n = op === 'seal' ? Math.max(1, Math.ceil(s.length / size)) : openCount(s.length, size);
  const want = op === 'seal' ? s.length + n * TAG_SIZE : s.length - n * TAG_SIZE;
  if (d.length !== want) {
    throw rangeError(`dst must be ${want} bytes for ${s.length} src bytes in ${n} chunks, got ${d.length}`);
  }
  if (firstIndex + n > MAX_CHUNKS) {
    throw rangeError(`Chunk indices ${firstIndex} to ${firstIndex + n - 1} exceed the limit of 2^32 chunks`);
  }
  if (overlaps(s, d)) throw rangeError('src and dst must not overlap');
  return n;
}

function openCount(length: number, size: number): number {
  const stride = size + TAG_SIZE;
  const n = Math.ceil(length / stride);
  if (length < TAG_SIZE || length - (n - 1) * stride < TAG_SIZE) {
    throw rangeError(
      `src of ${length} bytes is not a run of sealed chunks of chunkSize + 16 = ${stride} bytes whose last chunk is at least 16 bytes`,
    );
  }
  return n;
}

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === 0 || b.length === 0 || a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

function nodeSeal(
  key: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  size: number,
  first: number,
  final: boolean,
): void {
  const n = checkBatch('seal', key, src, dst, size, first, final);
  for (let j = 0; j < n; j++) {
    const last = j === n - 1;
    const plain = src.subarray(j * size, last ? src.length : (j + 1) * size);
    const at = j * (size + TAG_SIZE);
    const cipher = createCipheriv('aes-256-gcm', key, nonceFor(first + j, last && final), {
      authTagLength: TAG_SIZE,
    });
    dst.set(cipher.update(plain), at);
    cipher.final();
    dst.set(cipher.getAuthTag(), at + plain.length);
  }
}

function nodeOpen(
  key: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  size: number,
  first: number,
  final: boolean,
): number {
  const n = checkBatch('open', key, src, dst, size, first, final);
  const stride = size + TAG_SIZE;
  for (let j = 0; j < n; j++) {
    const last = j === n - 1;
    const sealed = src.subarray(j * stride, last ? src.length : (j + 1) * stride);
    const len = sealed.length - TAG_SIZE;
    const decipher = createDecipheriv('aes-256-gcm', key, nonceFor(first + j, last && final), {
      authTagLength: TAG_SIZE,
    });
    decipher.setAuthTag(sealed.subarray(len));
    const plain = decipher.update(sealed.subarray(0, len));
    try {
      decipher.final();
    } catch {
      plain.fill(0);
      dst.fill(0, j * size);
      return j;
    }
    dst.set(plain, j * size);
    plain.fill(0);
  }
  return -1;
}

/** The `node:crypto` implementation: one cipher per chunk. The reference, and the fallback. */
export const nodeChunkCipher: ChunkCipher = Object.freeze({
  name: 'node',
  seal: nodeSeal,
  open: nodeOpen,
  sealAsync: async (...args: Parameters<typeof nodeSeal>) => nodeSeal(...args),
  openAsync: async (...args: Parameters<typeof nodeOpen>) => nodeOpen(...args),
});

/** The addon implementation: one OpenSSL context per batch, async calls on the libuv threadpool. */
export function nativeChunkCipher(gcm: NativeGcm): ChunkCipher {
  const cipher: ChunkCipher = {
    name: 'native',
    seal: (...args) => gcm.sealChunks(...args),
    open: (...args) => gcm.openChunks(...args),
    sealAsync: (...args) =>
      new Promise<void>((resolve, reject) => {
        gcm.sealChunksAsync(...args, (err) => (err ? reject(err) : resolve()));
      }),
    openAsync: (...args) =>
      new Promise<number>((resolve, reject) => {
        gcm.openChunksAsync(...args, (err, failed) => {
          if (err) reject(err);
          else if (typeof failed === 'number') resolve(failed);
          else reject(new SealtrainError('ERR_INTERNAL', 'The native AES-GCM addon returned no result.'));
        });
      }),
  };
  return Object.freeze(cipher);
}

/** The native cipher when the addon loads, else {@link nodeChunkCipher}. */
export function loadChunkCipher(): ChunkCipher {
  const gcm = tryLoadNativeGcm();
  return gcm === undefined ? nodeChunkCipher : nativeChunkCipher(gcm);
}
