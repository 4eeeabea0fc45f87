import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AuditSink, readAuditEntries } from '../audit/index.js';
import { fromFsError, SealtrainError } from '../errors/index.js';
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
 */
export async function writeSealedCheckpoint(
  path: string,
  contents: CheckpointContents,
  target: SealTarget,
): Promise<string> {
  const plain = encodeCheckpoint(contents);
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
  await writeFileAtomic(path, sealed, { mode: 0o600, overwrite: true });
  const sha256 = createHash('sha256').update(sealed).digest('hex');
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

/** Opens a sealed checkpoint or model in memory and decodes it. */
export async function readSealedCheckpoint(
  path: string,
  providers: readonly KeyProvider[],
): Promise<CheckpointContents> {
  let sealed: Buffer;
  try {
    sealed = await readFile(path);
  } catch (error) {
    throw fromFsError(error, 'read', path);
  }
  const plain = await unsealBuffer(sealed, { providers, name: path });
  try {
    return decodeCheckpoint(plain, path);
  } finally {
    plain.fill(0);
  }
}

/** The highest checkpoint counter the audit log records for `runId` (0 when none). */
export async function newestRecordedCounter(auditDir: string, runId: string): Promise<number> {
  const entries = await readAuditEntries(auditDir, { action: 'run.checkpoint' }).catch(() => []);
  let max = 0;
  for (const e of entries)
    if (e.outcome === 'ok' && e.details?.run_id === runId && typeof e.details.counter === 'number')
      max = Math.max(max, e.details.counter);
  return max;
}

/**
 * Refuses to resume from checkpoint `counter` when the audit log records a newer one for the run
 * (someone put an older checkpoint back), unless `allowRollback`, which is recorded.
 */
export async function checkRollback(
  o: { auditDir: string; runId: string; counter: number; allowRollback: boolean; path: string },
  audit: SealTarget['audit'],
): Promise<void> {
  const newest = await newestRecordedCounter(o.auditDir, o.runId);
  if (o.counter >= newest) return;
  const details = { run_id: o.runId, counter: o.counter, newest_recorded: newest };
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
      `${o.path} is checkpoint ${o.counter}, but the audit log records checkpoint ${newest} for run ${o.runId}: resuming would roll training back. Restore the newest checkpoint, or pass --allow-rollback.`,
      { details: { path: o.path, ...details } },
    );
}
