import type { Readable } from 'node:stream';

/** User metadata kept with an artifact: lower-case identifier keys, printable ASCII values. */
export type ArtifactMetadata = Readonly<Record<string, string>>;

/** Options for {@link ArtifactStore.put}. */
export interface PutOptions {
  /**
   * Conditional create: succeed only when nothing is at the path yet. When two writers race, exactly
   * one wins; the other fails with `ERR_IO_EXISTS` and changes nothing.
   */
  readonly ifNoneMatch?: boolean;
  /** Stored with the artifact and returned by {@link ArtifactStore.stat}. */
  readonly metadata?: ArtifactMetadata;
}

/** What {@link ArtifactStore.put} wrote. */
export interface PutResult {
  /** An opaque version tag that changes whenever the artifact is replaced. */
  readonly etag: string;
  /** Bytes stored. */
  readonly size: number;
}

/** What {@link ArtifactStore.stat} found. */
export interface ArtifactStat {
  readonly size: number;
  readonly etag: string;
  readonly metadata: ArtifactMetadata;
}

/**
 * A positional writer for one artifact, from {@link ArtifactStore.create}. Each byte is written
 * once; writes may come in any order (a sealed file's header is written last, at offset 0) and the
 * written ranges must cover the artifact with no gap. Nothing is visible until `commit` resolves.
 * The writer copies what it keeps, so callers may reuse their buffers.
 */
export interface ArtifactWriter {
  write(buf: Uint8Array, position: number): Promise<void>;
  /** Makes the artifact visible (with the create's metadata and condition) and returns its tag. */
  commit(): Promise<PutResult>;
  /** Discards everything written; nothing becomes visible. */
  abort(): Promise<void>;
}

/**
 * Where sealed artifacts live: a local folder or a blob container. Paths are relative,
 * `/`-separated, with no empty, `.` or `..` segment and no NUL; a store never reads or writes
 * outside its root.
 *
 * Guarantees every backend keeps:
 * - `put` is all or nothing: until it resolves, readers see the previous artifact or none, never
 *   a partial one, and a failed or killed `put` leaves nothing visible.
 * - `put` with `ifNoneMatch` is an atomic create: of concurrent writers exactly one succeeds.
 * - `getRange` reads only the bytes asked for (random access without a download).
 * - A missing artifact is `ERR_IO_NOT_FOUND` (except `stat`, which returns `undefined`); errors
 *   name the artifact by its full location (a file path or `az://` URI), never a credential.
 */
export interface ArtifactStore {
  /** Stores `source` at `path` (streamed: a `Readable` is never held in memory whole). */
  put(path: string, source: Readable | Uint8Array, options?: PutOptions): Promise<PutResult>;
  /**
   * Opens a positional writer for `path`. With `ifNoneMatch` an existing artifact is refused here,
   * before any byte is sent, and again atomically at commit.
   */
  create(path: string, options?: PutOptions): Promise<ArtifactWriter>;
  /** Streams the artifact at `path`. */
  get(path: string): Promise<Readable>;
  /**
   * Reads `length` bytes at `offset`. The range must lie inside the artifact, otherwise
   * `ERR_USAGE_INVALID`; a `length` of 0 gives an empty buffer.
   */
  getRange(path: string, offset: number, length: number): Promise<Buffer>;
  /** Size, version tag and metadata, or `undefined` when nothing is at `path`. */
  stat(path: string): Promise<ArtifactStat | undefined>;
  /** The paths that start with `prefix` (a plain string prefix), sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Removes the artifact at `path`; `ERR_IO_NOT_FOUND` when there is none. */
  delete(path: string): Promise<void>;
}
