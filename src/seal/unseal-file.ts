import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { BodyDigest } from './internal/body-digest.js';
import { engineOptions } from './internal/context.js';
import { openBody } from './internal/engine.js';
import { type OpenedInput, openInput, readExactly, type SealIo } from './internal/files.js';
import { type ByteSink, streamSink } from './internal/io.js';
import {
  bodyGeometry,
  bodyOffset,
  PREAMBLE_SIZE,
  parsePreamble,
  sealedBodyLength,
} from './internal/layout.js';
import { isAzUri, openOutput, type StorageOptions } from './internal/locations.js';
import { type OpenedHeader, openHeader, wipeOpened } from './internal/open-header.js';
import { type AuditContext, recordSealEvent, unwrapWith } from './internal/recipients.js';

/** Options for {@link unsealFile}. */
export interface UnsealOptions {
  /** Providers whose keys may open the file. */
  readonly providers: readonly KeyProvider[];
  /** Only try these key URIs (`local:alice` or `local:alice/2`). */
  readonly keys?: readonly string[];
  readonly overwrite?: boolean;
  readonly onProgress?: (bytes: number) => void;
  readonly audit?: AuditContext;
  readonly stdio?: SealIo;
  /** How `az://` input and output are reached. */
  readonly storage?: StorageOptions;
}

/** What an unseal produced. */
export interface UnsealResult {
  readonly path: string;
  readonly plaintextLength: number;
  readonly chunkCount: number;
  readonly openedWith: { readonly uri: string; readonly version: string };
  readonly bodyDigest: string;
  readonly engine: string;
}

/**
 * Opens a sealed file's header from `src`: reads the preamble and both slots and unwraps the DEK.
 * Also checks the body size against the header when the input is a file.
 */
export async function openSealedInput(
  src: OpenedInput,
  providers: readonly KeyProvider[],
  keys?: readonly string[],
): Promise<OpenedHeader> {
  const head = await readExactly(src.source, PREAMBLE_SIZE);
  const preamble = parsePreamble(head, src.name);
  const slots = await readExactly(src.source, 2 * preamble.slotSize);
  const opened = await openHeader(Buffer.concat([head, slots]), src.name, unwrapWith(providers, keys));
  if (src.size !== undefined) {
    try {
      checkBodySize(opened, src.size - bodyOffset(preamble.slotSize), src.name);
    } catch (error) {
      wipeOpened(opened);
      throw error;
    }
  }
  return opened;
}

/** Checks a sealed body's length against its header: truncated, or modified. */
export function checkBodySize(opened: OpenedHeader, bodyLength: number, name: string): void {
  const expected = opened.envelope.length;
  if (expected !== null && bodyLength !== sealedBodyLength(expected, opened.core.chunk_size)) {
    if (bodyLength < sealedBodyLength(expected, opened.core.chunk_size)) {
      throw new SealtrainError(
        'ERR_SEAL_TRUNCATED',
        `${name} is truncated: it is shorter than its header says.`,
        {
          details: { path: name },
        },
      );
    }
    throw new SealtrainError(
      'ERR_SEAL_DECRYPT_FAILED',
      `Cannot decrypt ${name}: the file was modified or damaged.`,
      {
        details: { path: name },
      },
    );
  }
  bodyGeometry(bodyLength, opened.core.chunk_size, name);
}

/**
 * Unseals `input` (a path, an `az://` blob or `-`) to `output` (a path or `-`; plaintext is never
 * written to Blob Storage). A file output appears only after every chunk authenticated; to a
 * stream, each chunk is released once it authenticates and a failure at the end is reported by
 * the thrown error (check the exit status).
 */
export async function unsealFile(
  input: string,
  output: string,
  options: UnsealOptions,
): Promise<UnsealResult> {
  if (isAzUri(output))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `Refusing to write plaintext to Blob Storage (${output}): unseal to a local file or to standard output.`,
      { details: { output } },
    );
  const src = await openInput(input, options.stdio, 0, options.storage);
  let opened: OpenedHeader | undefined;
  try {
    opened = await openSealedInput(src, options.providers, options.keys);
    const hash = new BodyDigest();
    const extra = { bodyDigest: hash, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
    const opts = engineOptions(opened.payloadKey, opened.core.chunk_size, src.name, extra);
    let r: { plaintextLength: number; chunkCount: number };
    if (output === '-') {
      r = await openBody(
        src.source,
        streamSink(options.stdio?.stdout ?? process.stdout, 'standard output'),
        opts,
      );
    } else {
      const file = await openOutput(output, options.overwrite ?? false, options.storage);
      try {
        const sink: ByteSink = { write: (buf, pos) => file.write(buf, pos) };
        r = await openBody(src.source, sink, opts);
        await file.commit();
      } catch (error) {
        await file.abort();
        throw error;
      }
    }
    const { uri, version } = opened.openedWith;
    const result = {
      path: output,
      ...r,
      openedWith: { uri, version },
      bodyDigest: hash.hex(),
      engine: opts.cipher.name,
    };
    await recordSealEvent(options.audit, 'unseal', {
      path: input,
      sha256: result.bodyDigest,
      recipients: [opened.openedWith],
    });
    return result;
  } catch (error) {
    await recordSealEvent(options.audit, 'unseal', {
      path: input,
      recipients: opened ? [opened.openedWith] : [],
      error,
    });
    throw error;
  } finally {
    if (opened) wipeOpened(opened);
    await src.close();
  }
}
