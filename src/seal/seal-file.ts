import type { WrappedKey } from '../kms/index.js';
import { BodyDigest } from './internal/body-digest.js';
import { engineOptions } from './internal/context.js';
import { sealBody } from './internal/engine.js';
import { openInput, type SealIo } from './internal/files.js';
import { type ByteSink, streamSink } from './internal/io.js';
import { bodyOffset } from './internal/layout.js';
import { openOutput, type StorageOptions } from './internal/locations.js';
import { prepareSeal, type SealParams, type SealPlan } from './internal/prepare.js';
import { type AuditContext, recordSealEvent } from './internal/recipients.js';

/** Options for {@link sealFile}. */
export interface SealOptions extends SealParams {
  /** Replace an existing output. */
  readonly overwrite?: boolean;
  readonly onProgress?: (bytes: number) => void;
  readonly audit?: AuditContext;
  /** Streams used for `-` (default process.stdin / process.stdout). */
  readonly stdio?: SealIo;
  /** How `az://` input and output are reached. */
  readonly storage?: StorageOptions;
}

/** What a seal produced. */
export interface SealResult {
  readonly path: string;
  readonly plaintextLength: number;
  readonly chunkCount: number;
  readonly chunkSize: number;
  readonly recipients: readonly WrappedKey[];
  /** Body digest of the sealed file (spec: "Body digest"); unchanged by rewrap. */
  readonly bodyDigest: string;
  /** Which chunk cipher ran: `native` (OpenSSL via the addon) or `node` (node:crypto). */
  readonly engine: string;
}

/**
 * Seals `input` (a path, an `az://` blob, or `-` for stdin) into `output` (a path, an `az://`
 * blob, or `-` for stdout). A file or blob output appears only once complete (a blob's blocks
 * upload while sealing; the header block is committed first in the list, last in time); an
 * existing one is refused unless `overwrite` is set.
 */
export async function sealFile(input: string, output: string, options: SealOptions): Promise<SealResult> {
  const name = output === '-' ? 'standard output' : output;
  let plan: SealPlan | undefined;
  try {
    plan = await prepareSeal(options, name);
    const result = await writeSealed(input, output, options, plan, name);
    await recordSealEvent(options.audit, 'seal', {
      path: output,
      sha256: result.bodyDigest,
      recipients: plan.recipients,
    });
    return result;
  } catch (error) {
    await recordSealEvent(options.audit, 'seal', { path: output, recipients: plan?.recipients ?? [], error });
    throw error;
  } finally {
    plan?.wipe();
  }
}

async function writeSealed(
  input: string,
  output: string,
  options: SealOptions,
  plan: SealPlan,
  name: string,
): Promise<SealResult> {
  const src = await openInput(input, options.stdio, 0, options.storage);
  const hash = new BodyDigest();
  const extra = { bodyDigest: hash, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  const opts = engineOptions(plan.payloadKey, plan.chunkSize, name, extra);
  const start = bodyOffset(plan.slotSize);
  const done = (r: { plaintextLength: number; chunkCount: number }): SealResult => ({
    path: output,
    ...r,
    chunkSize: plan.chunkSize,
    recipients: plan.recipients,
    bodyDigest: hash.hex(),
    engine: opts.cipher.name,
  });
  try {
    if (output === '-') {
      const sink = streamSink(options.stdio?.stdout ?? process.stdout, name);
      await sink.write(plan.header(null), 0);
      return done(await sealBody(src.source, sink, start, opts));
    }
    const file = await openOutput(output, options.overwrite ?? false, options.storage);
    try {
      const sink: ByteSink = { write: (buf, pos) => file.write(buf, pos) };
      const r = await sealBody(src.source, sink, start, opts);
      await file.write(plan.header(r.plaintextLength), 0);
      await file.commit();
      return done(r);
    } catch (error) {
      await file.abort();
      throw error;
    }
  } finally {
    await src.close();
  }
}
