import { constants as bufferConstants } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../audit/index.js';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { BackgroundSha256, type NativeSha256, tryLoadNativeSha256 } from '../internal/background-sha256.js';
import { openRegular, readFileInto } from '../store/index.js';
import { checkMaxBytes } from './internal/idx-header.js';

/** The first 8 bytes of every tensor file: `\x89STTENS\n` (`docs/spec/tensor-file-v1.md`). */
export const TENSOR_FILE_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x53, 0x54, 0x54, 0x45, 0x4e, 0x53, 0x0a);

/** The format version this module writes and reads. */
export const TENSOR_FILE_VERSION = 1;

/** The default limit of {@link readTensorFileFromPath}: 2 GiB. */
export const DEFAULT_MAX_TENSOR_FILE_BYTES = 2 * 1024 ** 3;

const PREAMBLE_BYTES = 16;
const ALIGN = 64;
const CHECKSUM_BYTES = 32;
const MAX_HEADER_BYTES = 1 << 20;
const MAX_TRAILER_BYTES = 1 << 16;
const MAX_DATA_BYTES = 2 ** 50;
const ELEMENT_BYTES = { float32: 4, float64: 8, int32: 4, uint8: 1 } as const;
const ARRAY_TYPES = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array };
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** An element type: IEEE 754 floats, two's-complement `int32`, or `uint8`; little-endian on disk. */
export type TensorDtype = keyof typeof ELEMENT_BYTES;

/** The typed array that holds each {@link TensorDtype}. */
export interface TensorArrays {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

/** The values of one tensor, row-major, in host byte order. */
export type TensorData = TensorArrays[TensorDtype];

/** The split a tensor file holds. */
export type TensorSplit = 'train' | 'validation' | 'test';

/** A JSON value, for free-form metadata. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };

/** One tensor as declared before writing: `shape[0]` is the row count, the same for every tensor. */
export interface TensorDeclaration {
  /** `[a-z][a-z0-9_]{0,63}`: `features`, `labels`, or another name. */
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
}

/** What a {@link TensorFileWriter} needs up front: everything in the header but the layout. */
export interface TensorFileDescription {
  /** In file order; put the largest first (see {@link TensorFileWriter.writeRows}). */
  readonly tensors: readonly TensorDeclaration[];
  readonly split: TensorSplit;
  /** Feature column names after transforms, one per `features` value in a row. */
  readonly columns: readonly string[];
  /** The label column; exactly when there is a `labels` tensor. */
  readonly labelColumn?: string;
  /** Label names in index order, for an integer `labels` tensor. */
  readonly classes?: readonly string[];
  /** Free metadata for the producer; never secrets. */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** A tensor's entry in the header: its declaration and where its bytes are. */
export interface TensorEntry extends TensorDeclaration {
  readonly offset: number;
  readonly byteLength: number;
}

/** The header of a tensor file. */
export interface TensorFileHeader extends Omit<TensorFileDescription, 'tensors'> {
  readonly version: 1;
  readonly tensors: readonly TensorEntry[];
  readonly rowOrder: 'split-order';
}

/** One tensor read from a file. */
export interface Tensor {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A verified tensor file. */
export interface TensorFile {
  readonly header: TensorFileHeader;
  /** The tensors by name, in file order. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** {@link tensorFileDigest} of the file. */
  readonly sha256: string;
}

/** What {@link TensorFileWriter.finish} reports. */
export interface TensorFileSummary {
  /** Bytes written. */
  readonly bytes: number;
  /** {@link tensorFileDigest} of the bytes written. */
  readonly sha256: string;
  /** Each tensor's SHA-256 (hex), as in the trailer. */
  readonly tensors: readonly { readonly name: string; readonly sha256: string }[];
}

/**
 * Where a {@link TensorFileWriter} sends bytes: called in file order, one call at a time (the
 * writer awaits each). Every chunk is a fresh array the sink may keep.
 */
export type ByteSink = (chunk: Uint8Array) => Promise<void>;

/** Options for {@link TensorFileWriter}. */
export interface TensorFileWriterOptions {
  /** Names the output in messages; default `output`. */
  readonly source?: string;
}

/** Options for {@link readTensorFile}. */
export interface ReadTensorFileOptions {
  /** Names the file in messages; default `in memory`. */
  readonly source?: string;
  /**
   * The digests a {@link TensorFileHasher} took of these very bytes while they arrived: used in
   * place of hashing them again (each is still compared with the trailer and the checksum; a
   * tensor's, unless `authenticated`).
   */
  readonly hashed?: TensorFileHasher;
  /**
   * The bytes were authenticated as a whole before they got here: opened from a sealed file, every
   * chunk checked by AES-GCM in order, the last one as last. Each tensor's digest in the trailer is
   * then not taken again (whoever could write a wrong one could as well write a right one over
   * other data); the checksum still is, from the whole-file digest a run needs for its lineage.
   */
  readonly authenticated?: boolean;
  /**
   * The SHA-256 (hex) of these bytes, already known to be right: a sealed split whose stored
   * bytes matched the digest its owner signed in the lineage manifest, then opened by AES-GCM,
   * holds exactly the plaintext the owner hashed. No digest is taken and neither the tensors'
   * nor the checksum are compared (the owner wrote them); every structural check still runs.
   * Only with `authenticated`.
   */
  readonly verifiedSha256?: string;
}

/**
 * Hashes a tensor file while it arrives, front to back, into the buffer that will hold it whole:
 * each {@link TensorFileHasher.advance} hashes the bytes that became final since the last, so
 * that hashing overlaps the reading or decryption still under way. The whole-file digest (and
 * the checksum's) and each tensor's (unless `tensors: false`) are streams of their own on the
 * thread pool with the native addon ({@link BackgroundSha256}): the passes run on all cores, and
 * this thread stays free to hand out the next pieces. Once {@link TensorFileHasher.finish} has settled,
 * {@link readTensorFile} checks these digests instead of hashing the file again. Neither throws:
 * a header it cannot read, or a hash that failed, leaves the hashing to `readTensorFile`, which
 * reports any problem. A caller that feeds a hasher calls `finish()` or `dispose()`.
 */
export class TensorFileHasher {
  readonly bytes: Uint8Array;
  readonly #file: BackgroundSha256;
  #checked: Promise<Buffer> | undefined;
  /** Bytes [0, #fed) were hashed into #file. */
  #fed = 0;
  #tensorsFed = 0;
  /** Per tensor: its range and hash; `null` once the header turned out unreadable. */
  #tensors: { start: number; end: number; hash: BackgroundSha256 }[] | null | undefined;
  /** The addon every stream uses; undefined: `node:crypto` on this thread. */
  readonly #native: NativeSha256 | undefined;

  /**
   * `bytes`: the buffer the file arrives in, at its final size; it must not change once fed.
   * `native`: the addon to hash with (default: loaded when it can be). `tensors: false` takes the
   * whole-file digest and the checksum's only, for bytes `readTensorFile` is told are
   * `authenticated`.
   */
  constructor(bytes: Uint8Array, options: { native?: NativeSha256 | undefined; tensors?: boolean } = {}) {
    this.bytes = bytes;
    this.#native = 'native' in options ? options.native : tryLoadNativeSha256();
    this.#file = new BackgroundSha256({ native: this.#native });
    if (options.tensors === false) this.#tensors = [];
  }

  /** Bytes [0, `end`) are final: hashes what is new. */
  advance(end: number): void {
    if (this.#disposed || this.#finishing) return;
    const n = this.bytes.length;
    const to = Math.min(end, n);
    if (to <= this.#fed) return;
    // Each digest is a stream of its own on the thread pool, started here at once (when the
    // previous piece is done): this thread only hands out the pieces. The checksum covers
    // everything before its own 32 bytes; the file's digest covers it all.
    const split = n - CHECKSUM_BYTES;
    if (this.#fed < split) {
      this.#file.update(this.bytes.subarray(this.#fed, Math.min(to, split)));
      if (to >= split) {
        this.#checked = this.#file.digestSoFar();
        this.#checked.catch(() => {}); // reported by finish(), if it is called
      }
    }
    if (to > split) this.#file.update(this.bytes.subarray(Math.max(this.#fed, split), to));
    this.#readHeader(to);
    if (this.#tensors) {
      const from = Math.max(this.#tensorsFed, this.#fed);
      for (const t of this.#tensors) {
        const a = Math.max(from, t.start);
        const b = Math.min(to, t.end);
        if (a < b) t.hash.update(this.bytes.subarray(a, b));
      }
      this.#tensorsFed = to;
    }
    this.#fed = to;
  }

  #readHeader(to: number): void {
    if (this.#tensors !== undefined || to < PREAMBLE_BYTES) return;
    const headerEnd = PREAMBLE_BYTES + u32(this.bytes, 12);
    if (to < headerEnd) return;
    try {
      const header = parseHead(this.bytes.subarray(0, headerEnd), 'in memory', this.bytes.length);
      this.#tensors = header.tensors.map((t) => ({
        start: t.offset,
        end: t.offset + t.byteLength,
        hash: new BackgroundSha256({ native: this.#native }),
      }));
      this.#tensorsFed = headerEnd;
    } catch {
      this.#tensors = null;
    }
  }

  #done: { checked: Buffer; file: string; tensors: string[] } | undefined;
  #disposed = false;
  #finishing: Promise<void> | undefined;

  /**
   * Waits for the hashing still under way; then, if every byte of `bytes` was fed,
   * {@link TensorFileHasher.digests} has the digests. If not (or after a dispose), the pieces not
   * yet hashed are dropped instead. Never rejects: a hash that failed leaves the digests
   * undefined (and `readTensorFile` hashes the file itself). Feeding stops here.
   */
  finish(): Promise<void> {
    this.#finishing ??= (async () => {
      const tensors = this.#tensors;
      const checked = this.#checked;
      if (this.#disposed || this.#fed !== this.bytes.length || !tensors || !checked) {
        this.#disposeStreams();
        return;
      }
      try {
        const [c, f, ts] = await Promise.all([
          checked,
          this.#file.digest(),
          Promise.all(tensors.map((t) => t.hash.digest())),
        ]);
        if (!this.#disposed)
          this.#done = { checked: c, file: f.toString('hex'), tensors: ts.map((t) => t.toString('hex')) };
      } catch {
        this.#disposeStreams();
      }
    })();
    return this.#finishing;
  }

  /**
   * Finalizes every hash not yet finalized, so that no hash state keeps the last bytes it was fed
   * (up to a block of plaintext each) after a failed read; later calls and digests are none. The
   * pieces not yet hashed are dropped, and each stream is cleansed once its piece in flight is.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#done) this.#disposeStreams();
  }

  /** Drops what the streams have not hashed and cleanses them (a spent stream is left as it is). */
  #disposeStreams(): void {
    this.#file.dispose();
    for (const t of this.#tensors ?? []) t.hash.dispose();
  }

  /**
   * The digests once every byte of `bytes` (this hasher's own buffer) was hashed and
   * {@link TensorFileHasher.finish} settled, else undefined.
   */
  digests(bytes: Uint8Array): { checked: Buffer; file: string; tensors: string[] } | undefined {
    const same =
      bytes.buffer === this.bytes.buffer &&
      bytes.byteOffset === this.bytes.byteOffset &&
      bytes.length === this.bytes.length;
    return this.#disposed || !same ? undefined : this.#done;
  }
}

/** Options for {@link readTensorFileFromPath}. */
export interface ReadTensorFileFromPathOptions {
  /** Refuse larger files; default {@link DEFAULT_MAX_TENSOR_FILE_BYTES}. */
  readonly maxBytes?: number;
}

const text = z.string().min(1).max(1024);
const MAX_DIMENSION = 2 ** 31 - 1;
const dimension = z.number().int().min(0).max(MAX_DIMENSION);
const headerSchema = z.strictObject({
  version: z.literal(1),
  tensors: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be 1 to 64 of a-z 0-9 _, starting with a letter'),
        dtype: z.enum(['float32', 'float64', 'int32', 'uint8']),
        shape: z.array(dimension).min(1).max(8),
        offset: z.number().int().min(0).max(MAX_DATA_BYTES),
        byteLength: z.number().int().min(0).max(MAX_DATA_BYTES),
      }),
    )
    .min(1)
    .max(64),
  rowOrder: z.literal('split-order'),
  split: z.enum(['train', 'validation', 'test']),
  columns: z.array(text),
  labelColumn: text.optional(),
  classes: z.array(text).min(1).optional(),
  metadata: z.record(z.string(), z.json()).optional(),
});
const trailerSchema = z.strictObject({
  tensors: z.array(z.strictObject({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

type Action = 'read' | 'write';

function malformed(action: Action, source: string, problem: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_DATA_MALFORMED', `Cannot ${action} tensor file ${source}: ${problem}.`, {
    details: { path: source, reason },
  });
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const u32 = (bytes: Uint8Array, at: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);

/** Bytes of a tensor, or `undefined` beyond 2^50 (computed one dimension at a time). */
function tensorBytes(dtype: TensorDtype, shape: readonly number[]): number | undefined {
  let bytes: number = ELEMENT_BYTES[dtype];
  for (const d of shape) {
    bytes *= d;
    if (bytes > MAX_DATA_BYTES) return undefined;
  }
  return bytes;
}

/** Values per row: the product of the dimensions after the first. */
const rowElements = (shape: readonly number[]): number => shape.slice(1).reduce((a, b) => a * b, 1);

/** Every rule of the header beyond its JSON shape, as `field: problem` sentences. */
function headerProblems(h: TensorFileHeader, headerLength: number): string[] {
  const problems: string[] = [];
  const rows = h.tensors[0]?.shape[0];
  const names = new Set<string>();
  let at = alignUp(PREAMBLE_BYTES + headerLength);
  h.tensors.forEach((t, i) => {
    const field = `tensors.${i}`;
    if (names.has(t.name)) problems.push(`${field}.name: "${t.name}" appears twice`);
    names.add(t.name);
    if (t.shape.slice(1).some((d) => d === 0)) problems.push(`${field}.shape: only the row count may be 0`);
    if (t.shape[0] !== rows) problems.push(`${field}.shape.0: ${t.shape[0]} rows, but tensors.0 has ${rows}`);
    const bytes = tensorBytes(t.dtype, t.shape);
    if (bytes === undefined) problems.push(`${field}.shape: needs more than 2^50 bytes`);
    else if (t.byteLength !== bytes)
      problems.push(`${field}.byteLength: is ${t.byteLength}, the shape needs ${bytes}`);
    if (t.offset !== at) problems.push(`${field}.offset: is ${t.offset}, the layout puts it at ${at}`);
    at = alignUp(at + (bytes ?? 0));
  });
  if (at > MAX_DATA_BYTES) problems.push('tensors: the data needs more than 2^50 bytes');
  const features = h.tensors.find((t) => t.name === 'features');
  if (features && rowElements(features.shape) !== h.columns.length)
    problems.push(
      `columns: ${h.columns.length} names, but features has ${rowElements(features.shape)} values a row`,
    );
  const labels = h.tensors.find((t) => t.name === 'labels');
  if ((labels === undefined) !== (h.labelColumn === undefined))
    problems.push(`labelColumn: must be present exactly when there is a labels tensor`);
  if (h.classes !== undefined && labels?.dtype !== 'int32' && labels?.dtype !== 'uint8')
    problems.push('classes: only an integer labels tensor (int32, uint8) has classes');
  for (const key of ['columns', 'classes'] as const) {
    const seen = new Set<string>();
    const dup = (h[key] ?? []).find((c) => seen.size === seen.add(c).size);
    if (dup !== undefined) problems.push(`${key}: "${dup}" appears twice`);
  }
  return problems;
}

/** The end of the data region: where the trailer starts. */
function dataEnd(h: TensorFileHeader): number {
  const last = h.tensors[h.tensors.length - 1];
  return last === undefined ? 0 : alignUp(last.offset + last.byteLength);
}

/** Parses and checks header text (UTF-8 bytes) against every rule of the spec. */
function parseHeaderText(bytes: Uint8Array, action: Action, source: string): TensorFileHeader {
  const bad = (problem: string) => malformed(action, source, problem, 'bad-header');
  if (bytes.length < 2 || bytes.length > MAX_HEADER_BYTES)
    throw bad(`the header has ${bytes.length} bytes, outside 2 … ${MAX_HEADER_BYTES}`);
  let value: unknown;
  let canonical = false;
  try {
    const raw = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(raw);
    canonical = canonicalJson(value) === raw;
  } catch {
    throw bad('the header is not UTF-8 JSON');
  }
  if (!canonical) throw bad('the header is not canonical JSON (members sorted, no whitespace)');
  const result = headerSchema.safeParse(value);
  const problems = result.success
    ? headerProblems(result.data as TensorFileHeader, bytes.length)
    : result.error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
  if (problems.length > 0) throw bad(`the header is invalid: ${problems.join('; ')}`);
  // The parsed JSON, not zod's copy: zod rebuilds objects by assignment, which turns a member
  // named `__proto__` (allowed in metadata) into a prototype and drops it.
  return value as TensorFileHeader;
}

/**
 * Checks the preamble and header at the start of `bytes` against a file of `fileSize` bytes,
 * before any data is read: magic, version, flags, header, and that the declared layout fits.
 */
function parseHead(bytes: Uint8Array, source: string, fileSize: number): TensorFileHeader {
  const fail = (problem: string, reason: string) => malformed('read', source, problem, reason);
  const magic = TENSOR_FILE_MAGIC.subarray(0, Math.min(bytes.length, 8));
  if (magic.some((b, i) => bytes[i] !== b))
    throw fail('it does not start with the tensor file magic', 'bad-magic');
  if (fileSize < PREAMBLE_BYTES)
    throw fail(`it has ${fileSize} bytes, fewer than the 16-byte preamble`, 'truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, PREAMBLE_BYTES);
  const version = view.getUint16(8, true);
  if (version !== TENSOR_FILE_VERSION)
    throw fail(`it has format version ${version}; this sealtrain reads version 1`, 'unsupported-version');
  if (view.getUint16(10, true) !== 0) throw fail('the reserved flags are not 0', 'bad-flags');
  const headerLength = view.getUint32(12, true);
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES)
    throw fail(`the header length ${headerLength} is outside 2 … ${MAX_HEADER_BYTES}`, 'bad-header');
  if (PREAMBLE_BYTES + headerLength > fileSize)
    throw fail(`the ${headerLength}-byte header does not fit in the file's ${fileSize} bytes`, 'truncated');
  const header = parseHeaderText(
    bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength),
    'read',
    source,
  );
  const least = dataEnd(header) + 4 + 2 + CHECKSUM_BYTES;
  if (fileSize < least)
    throw fail(
      `the header declares at least ${least} bytes of data and trailer, the file has ${fileSize}`,
      'truncated',
    );
  return header;
}

/** Throws unless every byte between the header, the tensors and the trailer is zero. */
function checkPadding(
  bytes: Uint8Array,
  header: TensorFileHeader,
  headerLength: number,
  source: string,
): void {
  let from = PREAMBLE_BYTES + headerLength;
  for (const region of [...header.tensors, { offset: dataEnd(header), byteLength: 0 }]) {
    if (bytes.subarray(from, region.offset).some((b) => b !== 0))
      throw malformed(
        'read',
        source,
        `the padding before byte ${region.offset} is not zero`,
        'nonzero-padding',
      );
    from = region.offset + region.byteLength;
  }
}

/** Checks the trailer and every hash (taken here, or as `hashed` took them); returns the whole-file digest. */
function checkHashes(
  bytes: Uint8Array,
  header: TensorFileHeader,
  source: string,
  { hashed, authenticated = false, verifiedSha256 }: ReadTensorFileOptions,
): string {
  const fail = (problem: string, reason: string) => malformed('read', source, problem, reason);
  const start = dataEnd(header);
  const length = u32(bytes, start);
  if (length < 2 || length > MAX_TRAILER_BYTES)
    throw fail(`the trailer length ${length} is outside 2 … ${MAX_TRAILER_BYTES}`, 'bad-trailer');
  const end = start + 4 + length;
  const expected = end + CHECKSUM_BYTES;
  if (bytes.length < expected)
    throw fail(
      `the file is truncated: the trailer says ${expected} bytes, found ${bytes.length}`,
      'truncated',
    );
  if (bytes.length > expected)
    throw fail(
      `${bytes.length - expected} trailing bytes after the checksum (expected ${expected})`,
      'trailing-bytes',
    );
  let trailer: z.infer<typeof trailerSchema> | undefined;
  try {
    const raw = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(start + 4, end),
    );
    const value: unknown = JSON.parse(raw);
    const parsed = trailerSchema.safeParse(value);
    if (parsed.success && canonicalJson(value) === raw) trailer = parsed.data;
  } catch {}
  const names = header.tensors.map((t) => t.name);
  if (trailer === undefined || trailer.tensors.map((t) => t.name).join('/') !== names.join('/'))
    throw fail(`the trailer is not canonical JSON listing the tensors ${names.join(', ')}`, 'bad-trailer');
  if (verifiedSha256 !== undefined) return verifiedSha256;
  const taken = hashed?.digests(bytes);
  // Bytes authenticated as a whole: each tensor's own digest is not taken again.
  const damaged = (authenticated ? [] : header.tensors)
    .filter((t, i) => {
      const digest =
        taken?.tensors[i] ??
        createHash('sha256')
          .update(bytes.subarray(t.offset, t.offset + t.byteLength))
          .digest('hex');
      return digest !== trailer.tensors[i]?.sha256;
    })
    .map((t) => t.name);
  if (damaged.length > 0)
    throw fail(`the SHA-256 of tensor ${damaged.join(', ')} does not match`, 'tensor-checksum');
  if (taken) {
    if (hex(taken.checked) !== hex(bytes.subarray(end)))
      throw fail('the file checksum does not match', 'checksum');
    return taken.file;
  }
  const hash = createHash('sha256').update(bytes.subarray(0, end));
  if (hex(hash.copy().digest()) !== hex(bytes.subarray(end)))
    throw fail('the file checksum does not match', 'checksum');
  return hash.update(bytes.subarray(end)).digest('hex');
}

/** A typed array over `length` elements of `buffer` from `byteOffset`. */
function arrayOf(
  dtype: TensorDtype,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float64':
      return new Float64Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, length);
  }
}

/** The tensor's values: a view of `bytes` when the host is little-endian and they are aligned. */
function tensorData(bytes: Uint8Array, t: TensorEntry): TensorData {
  const size = ELEMENT_BYTES[t.dtype];
  const count = t.byteLength / size;
  if (LITTLE_ENDIAN && (bytes.byteOffset + t.offset) % size === 0)
    return arrayOf(t.dtype, bytes.buffer, bytes.byteOffset + t.offset, count);
  const copy = bytes.slice(t.offset, t.offset + t.byteLength);
  if (!LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return arrayOf(t.dtype, copy.buffer, 0, count);
}

/**
 * Reads a tensor file held in memory and verifies all of it (magic, version, header, layout,
 * padding, length, each tensor's SHA-256 unless `authenticated`, and the checksum unless
 * `verifiedSha256`) before returning any tensor.
 *
 * @returns The header and the tensors. On a little-endian host the arrays view `bytes` where they
 *   are aligned (changing `bytes` changes them); they are copies otherwise.
 * @throws {SealtrainError} `ERR_DATA_MALFORMED` naming the source and the problem, with
 *   `details.reason` (`bad-magic`, `unsupported-version`, `bad-header`, `truncated`, `checksum`…).
 */
export function readTensorFile(bytes: Uint8Array, options: ReadTensorFileOptions = {}): TensorFile {
  const source = options.source ?? 'in memory';
  const header = parseHead(bytes, source, bytes.length);
  const headerLength = u32(bytes, 12);
  checkPadding(bytes, header, headerLength, source);
  if (options.verifiedSha256 !== undefined && options.authenticated !== true)
    throw new TypeError('readTensorFile: verifiedSha256 is only for authenticated bytes.');
  const sha256 = checkHashes(bytes, header, source, options);
  const tensors = new Map<string, Tensor>();
  for (const t of header.tensors)
    tensors.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, data: tensorData(bytes, t) });
  return { header, tensors, sha256 };
}

/**
 * Reads and verifies the tensor file at `path` (see {@link readTensorFile}). The preamble and
 * header are checked against the file size before the file is read whole.
 *
 * @throws {SealtrainError} `ERR_DATA_MALFORMED` for a malformed file or one larger than
 *   `maxBytes` (reason `too-large`); `ERR_IO_NOT_FOUND` or `ERR_IO_FAILED` naming the file.
 */
export async function readTensorFileFromPath(
  path: string,
  options: ReadTensorFileFromPathOptions = {},
): Promise<TensorFile> {
  const maxBytes = checkMaxBytes(options.maxBytes ?? DEFAULT_MAX_TENSOR_FILE_BYTES);
  const { handle, size } = await openRegular(path, 'read tensor file');
  try {
    const head = new Uint8Array(Math.min(size, PREAMBLE_BYTES + MAX_HEADER_BYTES));
    await readFileInto(handle, head, path);
    parseHead(head, path, size);
    const limit = Math.min(maxBytes, bufferConstants.MAX_LENGTH);
    if (size > limit)
      throw malformed(
        'read',
        path,
        `it has ${size} bytes, more than the limit of ${limit} (maxBytes)`,
        'too-large',
      );
    const bytes = new Uint8Array(size);
    await readFileInto(handle, bytes, path);
    return readTensorFile(bytes, { source: path });
  } catch (error) {
    throw fromFsError(error, 'read tensor file', path);
  } finally {
    await handle.close();
  }
}

/** SHA-256 (hex) of a whole tensor file, checksum included: what lineage manifests record. No checks. */
export function tensorFileDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A copy of `data` as little-endian bytes. */
function littleEndianBytes(data: TensorData): Uint8Array {
  const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const size = data.BYTES_PER_ELEMENT;
  if (!LITTLE_ENDIAN) for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  return out;
}

/** The header for `description`, laid out: offsets follow from the header's own length. */
function layOut(
  description: TensorFileDescription,
  source: string,
): { header: TensorFileHeader; bytes: Uint8Array } {
  const { tensors, split, columns, labelColumn, classes, metadata } = description;
  let start = alignUp(PREAMBLE_BYTES);
  for (;;) {
    let at = start;
    const entries = tensors.map(({ name, dtype, shape }) => {
      const byteLength = shape.reduce((a, b) => a * b, ELEMENT_BYTES[dtype]);
      const entry = { name, dtype, shape: [...shape], offset: at, byteLength };
      at = alignUp(at + byteLength);
      return entry;
    });
    const header = { version: 1, tensors: entries, rowOrder: 'split-order', split, columns: [...columns] };
    const text = canonicalJson({ ...header, labelColumn, classes, metadata });
    const bytes = new TextEncoder().encode(text);
    if (bytes.length > MAX_HEADER_BYTES)
      throw malformed(
        'write',
        source,
        `the header would have ${bytes.length} bytes, more than 1 MiB`,
        'bad-header',
      );
    if (alignUp(PREAMBLE_BYTES + bytes.length) === start)
      return { header: parseHeaderText(bytes, 'write', source), bytes };
    start = alignUp(PREAMBLE_BYTES + bytes.length);
  }
}

/**
 * Writes one tensor file (`docs/spec/tensor-file-v1.md`) front to back into a {@link ByteSink},
 * never seeking, so the sink can be a file or a sealing stream. Every shape is declared up front;
 * {@link TensorFileWriter.writeRows} appends rows; {@link TensorFileWriter.finish} writes the
 * trailer and checks that exactly the declared rows arrived. Calls are queued in call order. After
 * any error the writer refuses further calls; the sink holds a partial file to discard.
 */
export class TensorFileWriter {
  /** The header the file starts with, layout included. */
  readonly header: TensorFileHeader;
  readonly #sink: ByteSink;
  readonly #source: string;
  readonly #head: Uint8Array;
  readonly #elements: number[];
  readonly #written: number[];
  readonly #pending: Uint8Array[][];
  readonly #hashes: Hash[];
  readonly #fileHash = createHash('sha256');
  #position = 0;
  #current = -1;
  #queue: Promise<unknown> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #finished = false;

  /**
   * Checks `description` and lays out the header; nothing is written before the first call.
   *
   * @throws {SealtrainError} `ERR_DATA_MALFORMED` (reason `bad-header`) naming every field that
   *   breaks the spec: a bad name, shape, column count, or a header over 1 MiB.
   */
  constructor(description: TensorFileDescription, sink: ByteSink, options: TensorFileWriterOptions = {}) {
    this.#source = options.source ?? 'output';
    const { header, bytes } = layOut(description, this.#source);
    this.header = header;
    this.#sink = sink;
    const first = header.tensors[0]?.offset ?? 0;
    this.#head = new Uint8Array(first);
    this.#head.set(TENSOR_FILE_MAGIC);
    const view = new DataView(this.#head.buffer);
    view.setUint16(8, TENSOR_FILE_VERSION, true);
    view.setUint32(12, bytes.length, true);
    this.#head.set(bytes, PREAMBLE_BYTES);
    this.#elements = header.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1));
    this.#written = header.tensors.map(() => 0);
    this.#pending = header.tensors.map(() => []);
    this.#hashes = header.tensors.map(() => createHash('sha256'));
  }

  /**
   * Appends whole rows (row-major, `data.length` a multiple of the values per row) to the named
   * tensor. Tensors are stored one after another in header order: rows for a later tensor are
   * kept in memory until the earlier ones are complete, so declare the largest tensor first.
   * `data` is copied before the returned promise resolves: the caller may then fill it again.
   *
   * @throws {SealtrainError} `ERR_INTERNAL` for an unknown tensor, a typed array of the wrong
   *   type, partial rows or more rows than declared; the sink's own errors unchanged.
   */
  writeRows(name: string, data: TensorData): Promise<void> {
    return this.#run(() => this.#writeRows(name, data));
  }

  /**
   * Writes the padding, the trailer and the checksum; resolves once the sink took the last byte.
   *
   * @throws {SealtrainError} `ERR_INTERNAL` naming each tensor with fewer rows than declared.
   */
  finish(): Promise<TensorFileSummary> {
    return this.#run(() => this.#finish());
  }

  #run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      if (this.#failure) throw this.#misuse('an earlier call failed', this.#failure.error);
      if (this.#finished) throw this.#misuse('it is already finished');
      return operation();
    });
    this.#queue = result.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return result;
  }

  #misuse(problem: string, cause?: unknown): SealtrainError {
    return new SealtrainError('ERR_INTERNAL', `Cannot write tensor file ${this.#source}: ${problem}.`, {
      details: { path: this.#source },
      ...(cause === undefined ? {} : { cause }),
    });
  }

  async #writeRows(name: string, data: TensorData): Promise<void> {
    const index = this.header.tensors.findIndex((t) => t.name === name);
    const entry = this.header.tensors[index];
    if (entry === undefined) throw this.#misuse(`it declares no tensor "${name}"`);
    if (!(data instanceof ARRAY_TYPES[entry.dtype]))
      throw this.#misuse(`tensor "${name}" holds ${entry.dtype}, not a ${data.constructor.name}`);
    const perRow = rowElements(entry.shape);
    const rows = (this.#written[index] ?? 0) / perRow;
    if (data.length % perRow !== 0)
      throw this.#misuse(`${data.length} values are not whole rows of ${perRow}`);
    if (rows + data.length / perRow > (entry.shape[0] ?? 0))
      throw this.#misuse(
        `tensor "${name}" has ${entry.shape[0]} rows; this call would make it ${rows + data.length / perRow}`,
      );
    this.#written[index] = (this.#written[index] ?? 0) + data.length;
    await this.#start();
    const bytes = littleEndianBytes(data);
    if (index === this.#current) await this.#emit(bytes, index);
    else this.#pending[index]?.push(bytes);
    await this.#advance();
  }

  async #finish(): Promise<TensorFileSummary> {
    await this.#start();
    await this.#advance();
    const short = this.header.tensors.flatMap((t, i) => {
      const rows = (this.#written[i] ?? 0) / rowElements(t.shape);
      return rows === t.shape[0] ? [] : [`tensor "${t.name}" has ${rows} of ${t.shape[0]} rows`];
    });
    if (short.length > 0) throw this.#misuse(short.join('; '));
    const tensors = this.header.tensors.map((t, i) => ({
      name: t.name,
      sha256: this.#hashes[i]?.digest('hex') ?? '',
    }));
    const text = new TextEncoder().encode(canonicalJson({ tensors }));
    const tail = new Uint8Array(4 + text.length + CHECKSUM_BYTES);
    new DataView(tail.buffer).setUint32(0, text.length, true);
    tail.set(text, 4);
    this.#fileHash.update(tail.subarray(0, 4 + text.length));
    tail.set(this.#fileHash.copy().digest(), 4 + text.length);
    this.#fileHash.update(tail.subarray(4 + text.length));
    this.#finished = true;
    await this.#sink(tail);
    this.#position += tail.length;
    return { bytes: this.#position, sha256: this.#fileHash.digest('hex'), tensors };
  }

  async #start(): Promise<void> {
    if (this.#current >= 0) return;
    this.#current = 0;
    await this.#emit(this.#head);
  }

  /** Moves past every complete tensor: padding, then the next tensor's rows held in memory. */
  async #advance(): Promise<void> {
    const count = this.header.tensors.length;
    while (this.#current < count && this.#written[this.#current] === this.#elements[this.#current]) {
      this.#current += 1;
      const next = this.header.tensors[this.#current]?.offset ?? dataEnd(this.header);
      await this.#emit(new Uint8Array(next - this.#position));
      for (const chunk of this.#pending[this.#current]?.splice(0) ?? [])
        await this.#emit(chunk, this.#current);
    }
  }

  async #emit(chunk: Uint8Array, tensor?: number): Promise<void> {
    if (chunk.length === 0) return;
    this.#fileHash.update(chunk);
    if (tensor !== undefined) this.#hashes[tensor]?.update(chunk);
    this.#position += chunk.length;
    await this.#sink(chunk);
  }
}
