import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AuditSink, readAuditEntries, verifyAuditLog } from '../audit/index.js';
import { fromFsError, isSealtrainError, SealtrainError } from '../errors/index.js';
import { BackgroundSha256 } from '../internal/background-sha256.js';
import type { KeyProvider } from '../kms/index.js';
import { sealBuffer, unsealBuffer } from '../seal/index.js';
import { writeFileAtomic } from '../store/index.js';
import { type CheckpointContents, decodeCheckpoint, encodeCheckpoint } from './checkpoint-file.js';

/** Content types in the sealed header (no secrets: the header is plaintext). */
export const CONTENT_TYPES = {
  checkpoint: 'application/vnd.sealtrain.checkpoint',
  model: 'application/vnd.sealtrain.model',
} as const;

/** Where a run seals to and records in. */
export interface SealTarget {
  readonly key: string;
  readonly providers: readonly KeyProvider[];
  readonly audit: { readonly sink: AuditSink; readonly actor: string };
}

/**
 * Encodes, seals for `target.key` and writes a checkpoint or model atomically, wiping the
 * plaintext; records `run.checkpoint` (with its counter: rollback protection) or `run.model`.
 * Returns the SHA-256 of the sealed file.
 *
 * The weights are encoded before the first `await`: once the call returns its promise, the caller
 * may go on changing them (training continues while the copy is sealed and written). `after`, when
 * given, is awaited between sealing and writing, so that files and audit records keep an order (a
 * model after the checkpoint still in flight); if it rejects, nothing is written.
 */
export async function writeSealedCheckpoint(
  path: string,
  contents: CheckpointContents,
  target: SealTarget,
  after?: Promise<unknown>,
): Promise<string> {
  const plain = encodeCheckpoint(contents);
  after?.catch(() => {}); // awaited below, once sealed: a rejection meanwhile is not unhandled
  let sealed: Buffer;
  try {
    sealed = await sealBuffer(plain, {
      recipients: [target.key],
      providers: target.providers,
      meta: { content_type: CONTENT_TYPES[contents.header.kind] },
    });
  } finally {
    plain.fill(0);
  }
  // The sealed bytes are hashed on the thread pool while this waits for `after` and writes them
  // (nothing changes them meanwhile).
  const hashing = new BackgroundSha256();
  hashing.update(sealed);
  const digest = hashing.digest();
  digest.catch(() => {}); // awaited below, once written
  await after;
  await writeFileAtomic(path, sealed, { mode: 0o600, overwrite: true });
  const sha256 = (await digest).toString('hex');
  const h = contents.header;
  await target.audit.sink.record({
    actor: target.audit.actor,
    action: h.kind === 'model' ? 'run.model' : 'run.checkpoint',
    outcome: 'ok',
    key: { uri: target.key },
    file: { path, sha256 },
    details: { run_id: h.run_id, counter: h.counter, epoch: h.epoch, step: h.step },
  });
  return sha256;
}

/** A checkpoint or model opened in memory, with the SHA-256 of its sealed file. */
export interface OpenedCheckpoint extends CheckpointContents {
  readonly sha256: string;
}

async function readSealed(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw fromFsError(error, 'read', path);
  }
}

/** Opens sealed checkpoint or model bytes in memory and decodes them, wiping the plaintext. */
async function openSealed(
  sealed: Buffer,
  path: string,
  providers: readonly KeyProvider[],
): Promise<OpenedCheckpoint> {
  const sha256 = createHash('sha256').update(sealed).digest('hex');
  const plain = await unsealBuffer(sealed, { providers, name: path });
  try {
    return { ...decodeCheckpoint(plain, path), sha256 };
  } finally {
    plain.fill(0);
  }
}

/** Opens a sealed checkpoint or model in memory and decodes it. */
export async function readSealedCheckpoint(
  path: string,
  providers: readonly KeyProvider[],
): Promise<OpenedCheckpoint> {
  return openSealed(await readSealed(path), path, providers);
}

/** The run's `run.checkpoint` or `run.model` entries in a verified audit log. */
async function recorded(auditDir: string, action: 'run.checkpoint' | 'run.model', runId: string) {
  const report = await verifyAuditLog(auditDir);
  if (!report.ok)
    throw new SealtrainError(
      'ERR_AUDIT_VERIFY_FAILED',
      `The audit log in ${auditDir} does not verify, and checkpoints are checked against it: run \`sealtrain audit verify\` to see why.`,
      { details: { path: auditDir } },
    );
  return (await readAuditEntries(auditDir, { action })).filter(
    (e) => e.outcome === 'ok' && e.details?.run_id === runId && typeof e.details.counter === 'number',
  );
}

/** The highest checkpoint counter the (verified) audit log records for `runId` (0 when none). */
export async function newestRecordedCounter(auditDir: string, runId: string): Promise<number> {
  let max = 0;
  for (const e of await recorded(auditDir, 'run.checkpoint', runId))
    max = Math.max(max, e.details?.counter as number);
  return max;
}

/** The checkpoint a resume continues from, and what it passed over. */
export interface ResumePoint {
  readonly path: string;
  readonly checkpoint: OpenedCheckpoint;
  /** The newest counter the audit log records for the run (new checkpoints go above it). */
  readonly newestRecorded: number;
  /** Checkpoint files the audit log does not record (a crash before the record, or a forgery). */
  readonly ignored: readonly string[];
}

/**
 * Picks the checkpoint to resume from, checked against the audit log, which must verify: the
 * newest file the log records (run, counter and SHA-256 of the sealed file; anyone can seal for a
 * public key, so an unrecorded file is never opened: it is passed over and that is recorded). If
 * the log records a newer checkpoint than that file (a rollback), it is refused unless
 * `allowRollback`, which is recorded.
 */
export async function pickResumePoint(
  candidates: readonly { readonly path: string }[],
  o: { auditDir: string; runId: string; allowRollback: boolean; providers: readonly KeyProvider[] },
  audit: SealTarget['audit'],
): Promise<ResumePoint> {
  const entries = await recorded(o.auditDir, 'run.checkpoint', o.runId);
  const newestRecorded = Math.max(0, ...entries.map((e) => e.details?.counter as number));
  const ignored: string[] = [];
  for (const { path } of candidates) {
    const sealed = await readSealed(path);
    const sha256 = createHash('sha256').update(sealed).digest('hex');
    const entry = entries.find((e) => e.file?.sha256 === sha256);
    if (!entry) {
      ignored.push(path);
      await audit.sink.record({
        actor: audit.actor,
        action: 'run.checkpoint.ignored',
        outcome: 'ok',
        file: { path, sha256 },
        details: { run_id: o.runId, reason: 'not recorded' },
      });
      continue;
    }
    const checkpoint = await openSealed(sealed, path, o.providers);
    if (checkpoint.header.counter !== entry.details?.counter)
      throw new SealtrainError(
        'ERR_RUN_CHECKPOINT_INVALID',
        `${path} does not hold the counter the audit log records for it.`,
        {
          details: { path },
        },
      );
    await checkRollback({ ...o, path, counter: checkpoint.header.counter, newest: newestRecorded }, audit);
    return { path, checkpoint, newestRecorded, ignored };
  }
  throw new SealtrainError(
    'ERR_RUN_STATE',
    `--resume found no checkpoint of run ${o.runId} that the audit log in ${o.auditDir} records${ignored.length ? ` (${ignored.length} unrecorded file(s) passed over)` : ''}. Resume with the home folder the run used.`,
    { details: { run_id: o.runId } },
  );
}

async function checkRollback(
  o: { runId: string; path: string; counter: number; newest: number; allowRollback: boolean },
  audit: SealTarget['audit'],
): Promise<void> {
  if (o.counter >= o.newest) return;
  const details = { run_id: o.runId, counter: o.counter, newest_recorded: o.newest };
  await audit.sink.record({
    actor: audit.actor,
    action: 'run.rollback',
    outcome: o.allowRollback ? 'ok' : 'error',
    ...(o.allowRollback ? {} : { code: 'ERR_RUN_ROLLBACK' }),
    details,
  });
  if (!o.allowRollback)
    throw new SealtrainError(
      'ERR_RUN_ROLLBACK',
      `${o.path} is checkpoint ${o.counter}, but the audit log records checkpoint ${o.newest} for run ${o.runId}: resuming would roll training back. Restore the newest checkpoint, or pass --allow-rollback.`,
      { details: { path: o.path, ...details } },
    );
}

/**
 * Whether a model file is the one its run recorded (`run.model` in this home's audit log):
 * `recorded`, `unrecorded` (the log has no model of that run: only the seal vouches for it), or
 * `ERR_RUN_CHECKPOINT_INVALID` when the log records another file for that run.
 */
export async function checkRecordedModel(
  auditDir: string,
  runId: string,
  sha256: string,
  path: string,
): Promise<'recorded' | 'unrecorded'> {
  const entries = await recorded(auditDir, 'run.model', runId).catch((error: unknown) => {
    if (isSealtrainError(error, 'ERR_AUDIT_LOG_NOT_FOUND')) return [];
    throw error;
  });
  if (entries.length === 0) return 'unrecorded';
  if (entries.some((e) => e.file?.sha256 === sha256)) return 'recorded';
  throw new SealtrainError(
    'ERR_RUN_CHECKPOINT_INVALID',
    `${path} is not the model run ${runId} recorded in the audit log in ${auditDir} (its SHA-256 differs).`,
    { details: { path, run_id: runId } },
  );
}
