import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/core-auth';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { SealtrainError } from '../errors/index.js';
import type { ArtifactStat, ArtifactStore, ArtifactWriter, PutOptions, PutResult } from './artifact-store.js';
import { formatAzUri, parseAzUri } from './internal/az-uri.js';
import { changedMeanwhile, fromBlobError } from './internal/blob-errors.js';
import { BlockWriter, blockId, blockPrefix } from './internal/block-writer.js';
import {
  checkMetadata,
  checkRange,
  checkStorePath,
  checkStorePrefix,
  rangeOutside,
} from './internal/store-path.js';
import { writeAll } from './internal/write-all.js';

/** Options for {@link BlobStore.open}. */
export interface BlobStoreOptions {
  /**
   * A storage connection string (Azurite, or an account key). Its account must be the URI's.
   * Without it, `credential` (default `DefaultAzureCredential`) is used.
   */
  readonly connectionString?: string;
  /** An Entra ID credential; default `new DefaultAzureCredential()`. */
  readonly credential?: TokenCredential;
  /** The blob endpoint; default `https://<account>.blob.core.windows.net`. */
  readonly endpoint?: string;
  /** Block size of streamed uploads in bytes; default 8 MiB. */
  readonly blockSize?: number;
  /** Blocks uploaded at once; default 4. */
  readonly concurrency?: number;
}

/** {@link PutOptions} for a blob, plus optimistic replacement. */
export interface BlobPutOptions extends PutOptions {
  /** Commit only if the blob still has this etag (`If-Match`); otherwise `ERR_IO_CHANGED`. */
  readonly ifMatch?: string;
}

/**
 * An {@link ArtifactStore} on an Azure Blob Storage container, addressed as
 * `az://account/container`; artifact paths are blob names inside it. Streamed uploads stage blocks
 * in parallel and commit the block list last, so a killed upload leaves no visible blob (staged
 * blocks are invisible and expire). Conditional create sends `If-None-Match: *`. `getRange` is one
 * ranged GET.
 */
export class BlobStore implements ArtifactStore {
  readonly account: string;
  readonly containerName: string;
  readonly #container: ContainerClient;
  readonly #blockSize: number;
  readonly #concurrency: number;

  private constructor(account: string, container: ContainerClient, options: BlobStoreOptions) {
    this.account = account;
    this.containerName = container.containerName;
    this.#container = container;
    this.#blockSize = checkCount(options.blockSize ?? 8 * 1024 * 1024, 'blockSize', 4000 * 1024 * 1024);
    this.#concurrency = checkCount(options.concurrency ?? 4, 'concurrency', 64);
  }

  /** Opens the container named by `uri` (`az://account/container`; a path part is refused). */
  static open(uri: string, options: BlobStoreOptions = {}): BlobStore {
    const parsed = parseAzUri(uri);
    if (parsed.path !== '')
      throw new SealtrainError('ERR_USAGE_INVALID', `Give a container URI, not a blob URI: ${uri}.`, {
        details: { uri },
      });
    const service = serviceClient(parsed.account, options);
    if (service.accountName !== parsed.account)
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `The connection string is for account ${service.accountName}, not ${parsed.account} in ${uri}.`,
        { details: { uri } },
      );
    return new BlobStore(parsed.account, service.getContainerClient(parsed.container), options);
  }

  /** The store of the container an `az://account/container/path` URI names, and the path in it. */
  static at(uri: string, options: BlobStoreOptions = {}): { store: BlobStore; path: string } {
    const { account, container, path } = parseAzUri(uri);
    return { store: BlobStore.open(formatAzUri(account, container, ''), options), path };
  }

  /** The `az://` URI of `path`. */
  uri(path: string): string {
    return formatAzUri(this.account, this.containerName, path);
  }

  #blob(path: string) {
    return this.#container.getBlockBlobClient(checkStorePath(path));
  }

  async put(path: string, source: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const uri = this.uri(path);
    return writeAll(await this.create(path, options), source, (error) => fromBlobError(error, 'write', uri));
  }

  async create(path: string, options: BlobPutOptions = {}): Promise<ArtifactWriter> {
    const blob = this.#blob(path);
    const uri = this.uri(path);
    const metadata = checkMetadata(options.metadata);
    if (options.ifNoneMatch && (await this.stat(path)) !== undefined)
      throw fromBlobError({ statusCode: 409, code: 'BlobAlreadyExists' }, 'write', uri);
    const conditions = options.ifNoneMatch
      ? { conditions: { ifNoneMatch: '*' } }
      : options.ifMatch !== undefined
        ? { conditions: { ifMatch: options.ifMatch } }
        : {};
    const changed = options.ifMatch !== undefined;
    return new BlockWriter(
      {
        uri,
        async stage(id, data) {
          try {
            await blob.stageBlock(id, data, data.length);
          } catch (error) {
            throw fromBlobError(error, 'write', uri);
          }
        },
        async commit(ids) {
          try {
            const res = await blob.commitBlockList([...ids], { metadata, ...conditions });
            return { etag: res.etag ?? '', size: 0 };
          } catch (error) {
            if (changed && (error as { statusCode?: unknown }).statusCode === 412)
              throw changedMeanwhile(uri, error, 'replace');
            throw fromBlobError(error, 'write', uri);
          }
        },
      },
      this.#blockSize,
      this.#concurrency,
    );
  }

  /**
   * Replaces the first `head.length` bytes of a blob whose first committed block is exactly that
   * long (what {@link BlobStore.create} produces for a sealed file: the header is its own block),
   * by staging one block and recommitting the list with `If-Match: etag`; the other blocks are not
   * re-sent. Keeps the blob's metadata and content headers. Returns `undefined`, changing nothing, when the blob's
   * blocks do not allow it (written by another tool); `ERR_IO_CHANGED` when the etag no longer matches.
   */
  async replaceHead(path: string, head: Uint8Array, etag: string): Promise<PutResult | undefined> {
    const blob = this.#blob(path);
    const uri = this.uri(path);
    const conditions = { ifMatch: etag };
    try {
      const props = await blob.getProperties({ conditions });
      const { committedBlocks = [] } = await blob.getBlockList('committed');
      const first = committedBlocks[0];
      const id = blockId(blockPrefix(), 0);
      if (
        first === undefined ||
        first.size !== head.byteLength ||
        committedBlocks.some((b) => b.name.length !== id.length)
      )
        return undefined;
      await blob.stageBlock(id, head, head.byteLength);
      const res = await blob.commitBlockList([id, ...committedBlocks.slice(1).map((b) => b.name)], {
        conditions,
        metadata: { ...props.metadata },
        blobHTTPHeaders: {
          ...(props.contentType ? { blobContentType: props.contentType } : {}),
          ...(props.contentEncoding ? { blobContentEncoding: props.contentEncoding } : {}),
          ...(props.contentLanguage ? { blobContentLanguage: props.contentLanguage } : {}),
          ...(props.contentDisposition ? { blobContentDisposition: props.contentDisposition } : {}),
          ...(props.cacheControl ? { blobCacheControl: props.cacheControl } : {}),
        },
      });
      return { etag: res.etag ?? '', size: props.contentLength ?? 0 };
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 412)
        throw changedMeanwhile(uri, error, 'replace');
      throw fromBlobError(error, 'write', uri);
    }
  }

  async get(path: string): Promise<Readable> {
    const blob = this.#blob(path);
    try {
      const res = await blob.download();
      const body = res.readableStreamBody;
      if (body === undefined) throw new Error('no response body');
      return body instanceof Readable ? body : Readable.from(body);
    } catch (error) {
      throw fromBlobError(error, 'read', this.uri(path));
    }
  }

  /**
   * {@inheritDoc ArtifactStore.getRange} With `ifMatch`, the read fails with `ERR_IO_CHANGED`
   * when the blob no longer has that etag, so a sequence of ranged reads sees one version.
   */
  async getRange(
    path: string,
    offset: number,
    length: number,
    options: { ifMatch?: string } = {},
  ): Promise<Buffer> {
    const blob = this.#blob(path);
    const uri = this.uri(path);
    checkRange(offset, length, uri);
    try {
      // A count of 0 means "to the end" to the service, so an empty range is checked with a HEAD.
      if (length === 0) {
        const { contentLength = 0 } = await blob.getProperties();
        if (offset > contentLength) throw rangeOutside(offset, length, uri);
        return Buffer.alloc(0);
      }
      const conditions = options.ifMatch === undefined ? {} : { conditions: { ifMatch: options.ifMatch } };
      const res = await blob.download(offset, length, conditions);
      const out = await readAll(res.readableStreamBody, length);
      if (out.length !== length) throw rangeOutside(offset, length, uri);
      return out;
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      if (status === 416) throw rangeOutside(offset, length, uri);
      if (status === 412 && options.ifMatch !== undefined) throw changedMeanwhile(uri, error, 'read');
      throw fromBlobError(error, 'read', uri);
    }
  }

  async stat(path: string): Promise<ArtifactStat | undefined> {
    const blob = this.#blob(path);
    try {
      const p = await blob.getProperties();
      return { size: p.contentLength ?? 0, etag: p.etag ?? '', metadata: { ...p.metadata } };
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw fromBlobError(error, 'read', this.uri(path));
    }
  }

  async list(prefix = ''): Promise<string[]> {
    checkStorePrefix(prefix);
    const names: string[] = [];
    try {
      for await (const item of this.#container.listBlobsFlat(prefix === '' ? {} : { prefix }))
        names.push(item.name);
    } catch (error) {
      throw fromBlobError(error, 'list', this.uri(prefix));
    }
    return names.sort();
  }

  async delete(path: string): Promise<void> {
    const blob = this.#blob(path);
    try {
      await blob.delete();
    } catch (error) {
      throw fromBlobError(error, 'delete', this.uri(path));
    }
  }
}

/** A whole number from 1 to `max` (Azure's block limit is 4000 MiB), or `ERR_USAGE_INVALID`. */
function checkCount(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${name} must be a whole number from 1 to ${max}, not ${value}.`,
      {
        details: { [name]: String(value) },
      },
    );
  return value;
}

/**
 * The Azure SDK loads (synchronously, from its CommonJS build) only when a blob store is opened,
 * so the CLI and every other user of `src/store` start without it.
 */
const load = createRequire(import.meta.url);

function serviceClient(account: string, options: BlobStoreOptions): BlobServiceClient {
  const { BlobServiceClient } = load('@azure/storage-blob') as typeof import('@azure/storage-blob');
  if (options.connectionString !== undefined) {
    try {
      return BlobServiceClient.fromConnectionString(options.connectionString);
    } catch (error) {
      throw new SealtrainError('ERR_USAGE_INVALID', 'The storage connection string is malformed.', {
        cause: error,
      });
    }
  }
  const endpoint = options.endpoint ?? `https://${account}.blob.core.windows.net`;
  return new BlobServiceClient(
    endpoint,
    options.credential ??
      new (load('@azure/identity') as typeof import('@azure/identity')).DefaultAzureCredential(),
  );
}

/** Reads a response body, at most `limit` bytes (a longer answer is a short-range error upstream). */
async function readAll(body: NodeJS.ReadableStream | undefined, limit: number): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    total += chunk.length;
    if (total > limit) break;
  }
  return Buffer.concat(parts);
}
