import { createHash, timingSafeEqual } from 'node:crypto';
import { endianness } from 'node:os';
import { SealtrainError } from '../errors/index.js';

/** The first 8 bytes of a checkpoint or model file (before sealing): `\x89STCKPT\n`. */
export const CHECKPOINT_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x53, 0x54, 0x43, 0x4b, 0x50, 0x54, 0x0a);
const MAX_HEADER_BYTES = 1 << 20;
const DIGEST_BYTES = 32;
const LITTLE_ENDIAN = endianness() === 'LE';
const ARRAY_NAMES = ['params', 'moment1', 'moment2'] as const;

/** What a checkpoint or model file holds besides its arrays. */
export interface CheckpointHeader {
  readonly version: 1;
  /** `checkpoint` (resume) or `model` (weights only). */
  readonly kind: 'checkpoint' | 'model';
  readonly run_id: string;
  /** Checkpoints: 1, 2, 3, … per run, recorded in the audit log (rollback protection). */
  readonly counter: number;
  /** The run config's `model` + `training` digest (see `RunConfig.trainingSha256`). */
  readonly training_sha256: string;
  /** The `model` section as given: rebuilds the network. */
  readonly model: Readonly<Record<string, unknown>>;
  readonly engine: string;
  readonly epoch: number;
  readonly position: number;
  readonly step: number;
  readonly seed: number;
  readonly created: string;
  /** Best validation loss so far and epochs since it improved (early stopping resumes too). */
  readonly best_validation_loss?: number | null;
  readonly epochs_without_improvement?: number;
  /** With `restore_best`: the epoch (1-based) whose weights the `best` array holds; in a model, the epoch restored. */
  readonly best_epoch?: number;
  /** A timed checkpoint mid-epoch: the epoch's running sums so far, so its metrics stay whole. */
  readonly partial_epoch?: EpochPartial;
  /** The last finished epoch's training loss and accuracy (for the model card). */
  readonly last_train?: { readonly loss: number; readonly accuracy: number | null };
  /** Class names in label order, feature column names (models). */
  readonly classes?: readonly string[];
  readonly columns?: readonly string[];
}

/** An epoch's running figures, summed over the steps so far. */
export interface EpochPartial {
  readonly loss_sum: number;
  readonly correct_sum: number;
  readonly samples: number;
  readonly seconds: number;
  readonly has_accuracy: boolean;
}

/** A decoded checkpoint or model. */
export interface CheckpointContents {
  readonly header: CheckpointHeader;
  readonly params: Float32Array;
  readonly moment1: Float32Array;
  readonly moment2: Float32Array;
  /** With `restore_best`: the weights at the best validation loss so far (checkpoints only). */
  readonly best?: Float32Array | undefined;
}

function malformed(source: string, what: string): SealtrainError {
  return new SealtrainError('ERR_RUN_CHECKPOINT_INVALID', `${source} is not a valid checkpoint: ${what}.`, {
    details: { path: source },
  });
}

/**
 * Encodes a checkpoint (docs/spec/checkpoint-v1.md): magic, header length (u32 LE), header JSON,
 * the three float32 arrays (little-endian, lengths in the header), SHA-256 of all that. The
 * result is plaintext: the caller seals it and wipes it.
 */
export function encodeCheckpoint(contents: CheckpointContents): Buffer {
  const named: [string, Float32Array][] = ARRAY_NAMES.map((n) => [n, contents[n]]);
  if (contents.best) named.push(['best', contents.best]);
  const arrays = named.map(([, a]) => a);
  const header = Buffer.from(
    JSON.stringify({
      ...contents.header,
      arrays: named.map(([name, a]) => ({ name, length: a.length })),
    }),
  );
  const body = arrays.reduce((n, a) => n + a.byteLength, 0);
  const out = Buffer.alloc(8 + 4 + header.length + body + DIGEST_BYTES);
  out.set(CHECKPOINT_MAGIC, 0);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  let at = 12 + header.length;
  for (const a of arrays) {
    // Little-endian float32: the host's own layout is copied as it is (a few MB in a millisecond).
    if (LITTLE_ENDIAN) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    else {
      const view = new DataView(out.buffer, out.byteOffset + at, a.byteLength);
      for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i] as number, true);
    }
    at += a.byteLength;
  }
  createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at);
  return out;
}

function checkHeader(h: Record<string, unknown>, source: string): CheckpointHeader {
  const whole = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (h.version !== 1) throw malformed(source, `version ${String(h.version)} is not 1`);
  if (h.kind !== 'checkpoint' && h.kind !== 'model')
    throw malformed(source, 'kind is not checkpoint or model');
  for (const f of ['counter', 'epoch', 'position', 'step', 'seed'] as const)
    if (!whole(h[f])) throw malformed(source, `${f} is not a whole number`);
  for (const f of ['run_id', 'training_sha256', 'engine', 'created'] as const)
    if (typeof h[f] !== 'string') throw malformed(source, `${f} is missing`);
  if (typeof h.model !== 'object' || h.model === null) throw malformed(source, 'model is missing');
  return h as unknown as CheckpointHeader;
}

/** Decodes and checks a checkpoint; `ERR_RUN_CHECKPOINT_INVALID` names `source` and the problem. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): CheckpointContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 + DIGEST_BYTES || !buf.subarray(0, 8).equals(CHECKPOINT_MAGIC))
    throw malformed(source, 'no checkpoint magic');
  const end = buf.length - DIGEST_BYTES;
  const digest = createHash('sha256').update(buf.subarray(0, end)).digest();
  if (!timingSafeEqual(digest, buf.subarray(end))) throw malformed(source, 'the checksum does not match');
  const headerLength = buf.readUInt32LE(8);
  if (headerLength > MAX_HEADER_BYTES || 12 + headerLength > end)
    throw malformed(source, 'bad header length');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(buf.subarray(12, 12 + headerLength).toString('utf8'));
  } catch {
    throw malformed(source, 'the header is not JSON');
  }
  const { arrays, ...rest } = raw as { arrays?: Array<{ name: string; length: number }> };
  const header = checkHeader(rest, source);
  const names = arrays?.length === 4 ? [...ARRAY_NAMES, 'best'] : ARRAY_NAMES;
  if (!Array.isArray(arrays) || arrays.length !== names.length || arrays.some((a, i) => a?.name !== names[i]))
    throw malformed(source, 'the array table is wrong');
  if (arrays.length === 4 && header.kind === 'model')
    throw malformed(source, 'a model carries no best weights');
  if (arrays.length === 4 && arrays[3]?.length !== arrays[0]?.length)
    throw malformed(source, 'the best weights are not as many as the parameters');
  let at = 12 + headerLength;
  const out: Float32Array[] = [];
  for (const a of arrays) {
    if (!Number.isSafeInteger(a.length) || a.length < 0 || at + a.length * 4 > end)
      throw malformed(source, `array ${a.name} does not fit`);
    const values = new Float32Array(a.length);
    // A copy, never a view: the caller wipes the decrypted bytes.
    if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(buf.subarray(at, at + a.length * 4));
    else {
      const view = new DataView(buf.buffer, buf.byteOffset + at, a.length * 4);
      for (let i = 0; i < a.length; i++) values[i] = view.getFloat32(i * 4, true);
    }
    out.push(values);
    at += a.length * 4;
  }
  if (at !== end) throw malformed(source, 'bytes after the arrays');
  return {
    header,
    params: out[0] as Float32Array,
    moment1: out[1] as Float32Array,
    moment2: out[2] as Float32Array,
    ...(out[3] ? { best: out[3] } : {}),
  };
}
