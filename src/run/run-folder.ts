import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { writeFileAtomic } from '../store/index.js';

/** `run.json`: what a run folder is, in plaintext (no data, no keys). */
export interface RunManifest {
  readonly version: 1;
  readonly run_id: string;
  readonly created: string;
  readonly config_sha256: string;
  readonly training_sha256: string;
  /** `sim` when the simulated TEE ran it (a resume must run on the same kind of TEE). */
  readonly tee: string;
  /** The tensor-file SHA-256 of each split it trains on: a resume must see the same data. */
  readonly data_sha256: Readonly<Record<string, string>>;
}

/** The files of a run folder. */
export const RUN_FILES = {
  manifest: 'run.json',
  metrics: 'metrics.jsonl',
  checkpoints: 'checkpoints',
  model: 'model.sealed',
  card: 'model-card.json',
} as const;

const CHECKPOINT_RE = /^checkpoint-(\d{6,})\.sealed$/;

/** `checkpoints/checkpoint-000007.sealed`. */
export function checkpointPath(dir: string, counter: number): string {
  return join(dir, RUN_FILES.checkpoints, `checkpoint-${String(counter).padStart(6, '0')}.sealed`);
}

/** The checkpoints in a run folder, newest (highest counter) first. */
export async function listCheckpoints(dir: string): Promise<{ counter: number; path: string }[]> {
  const names = await readdir(join(dir, RUN_FILES.checkpoints)).catch(() => [] as string[]);
  return names
    .map((n) => ({ m: CHECKPOINT_RE.exec(n), n }))
    .filter((x) => x.m !== null)
    .map((x) => ({ counter: Number(x.m?.[1]), path: join(dir, RUN_FILES.checkpoints, x.n) }))
    .sort((a, b) => b.counter - a.counter);
}

/** Deletes all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  for (const old of (await listCheckpoints(dir)).slice(keep)) await unlink(old.path).catch(() => {});
}

/** Reads `run.json`, or undefined when the folder holds no run. */
export async function readRunManifest(dir: string): Promise<RunManifest | undefined> {
  const path = join(dir, RUN_FILES.manifest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromFsError(error, 'read', path);
  }
  try {
    const m = JSON.parse(text) as RunManifest;
    if (m.version !== 1 || typeof m.run_id !== 'string' || typeof m.training_sha256 !== 'string')
      throw new Error();
    return m;
  } catch {
    throw new SealtrainError('ERR_RUN_STATE', `${path} is not a sealtrain run manifest.`, {
      details: { path },
    });
  }
}

/**
 * Refuses a run folder that holds another run unless `force`, and one that holds anything else
 * always. Changes nothing: {@link createRunFolder} replaces only after the inputs have loaded.
 */
export async function assertRunFolderFree(dir: string, force: boolean): Promise<void> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw new SealtrainError('ERR_RUN_STATE', `${dir} (output.dir) is not a folder.`, {
      details: { path: dir },
    });
  if (!existing || (await readdir(dir)).length === 0) return;
  if (!force)
    throw new SealtrainError(
      'ERR_RUN_STATE',
      `${dir} (output.dir) already holds a run: pass --resume to continue it, or --force to start over.`,
      { details: { path: dir } },
    );
  if ((await readRunManifest(dir)) === undefined)
    throw new SealtrainError(
      'ERR_RUN_STATE',
      `${dir} (output.dir) holds files that are not a sealtrain run; --force replaces only a run folder.`,
      { details: { path: dir } },
    );
}

/**
 * Makes the run folder for a new run (replacing an earlier run only when `force`) and writes
 * `run.json`.
 */
export async function createRunFolder(
  dir: string,
  info: Omit<RunManifest, 'version' | 'run_id' | 'created'>,
  options: { force: boolean; now: Date },
): Promise<RunManifest> {
  await assertRunFolderFree(dir, options.force);
  if ((await readRunManifest(dir)) !== undefined) await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, RUN_FILES.checkpoints), { recursive: true, mode: 0o700 });
  const manifest: RunManifest = {
    version: 1,
    run_id: randomBytes(8).toString('hex'),
    created: options.now.toISOString(),
    ...info,
  };
  await writeFileAtomic(join(dir, RUN_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
