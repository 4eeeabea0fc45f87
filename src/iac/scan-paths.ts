import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { type Baseline, parseBaseline } from './baseline.js';
import { type ScanReport, type SourceFile, scanSources } from './scan.js';

/** Options of {@link scanPaths}. */
export interface ScanPathsOptions {
  /** The environment for `TF_VAR_*` (the CLI passes `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `--var-file` paths, in order. */
  readonly varFiles?: readonly string[];
  /** A baseline file of accepted findings. */
  readonly baselineFile?: string;
  /** Where paths are shown relative to (default: the current folder). */
  readonly cwd?: string;
}

const SKIP = new Set(['.terraform', '.git', 'node_modules']);
const isConfig = (name: string): boolean => /\.tf(\.json)?$/.test(name);
const isAutoVars = (name: string): boolean =>
  /^terraform\.tfvars(\.json)?$|\.auto\.tfvars(\.json)?$/.test(name);

async function listDir(dir: string, recursive: boolean, out: Set<string>): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw fromFsError(e, 'read the folder', dir);
  }
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory() && recursive && !SKIP.has(e.name)) await listDir(full, true, out);
    else if (e.isFile() && (isConfig(e.name) || isAutoVars(e.name))) out.add(full);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw fromFsError(e, 'read', path);
  }
}

/** Adds the folders of local modules (`source = "./x"`) that the files call and that are not read yet. */
async function followModules(files: Map<string, string>): Promise<void> {
  const seenDirs = new Set([...files.keys()].map((f) => resolve(f, '..')));
  const queue = [...files.entries()];
  while (queue.length > 0) {
    const [path, text] = queue.pop() as [string, string];
    for (const m of text.matchAll(/\bsource\s*=\s*"(\.\.?\/[^"]*)"/g)) {
      const dir = resolve(path, '..', m[1] as string);
      if (seenDirs.has(dir)) continue;
      seenDirs.add(dir);
      const found = new Set<string>();
      await listDir(dir, false, found).catch(() => undefined);
      for (const f of found) {
        if (!isConfig(f) || files.has(f)) continue;
        const t = await readText(f);
        files.set(f, t);
        queue.push([f, t]);
      }
    }
  }
}

/**
 * Reads the Terraform files under `paths` (folders recursively, skipping `.terraform`; single
 * files as given), the `terraform.tfvars` and `*.auto.tfvars` beside them and the local modules
 * they call. Paths are shown relative to `cwd`.
 */
export async function readSources(paths: readonly string[], cwd = process.cwd()): Promise<SourceFile[]> {
  const found = new Set<string>();
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let s: import('node:fs').Stats;
    try {
      s = await stat(abs);
    } catch (e) {
      throw fromFsError(e, 'scan', p);
    }
    if (s.isDirectory()) await listDir(abs, true, found);
    else found.add(abs);
  }
  const files = new Map<string, string>();
  for (const f of [...found].sort()) files.set(f, await readText(f));
  await followModules(files);
  const show = (abs: string) => {
    const rel = relative(cwd, abs);
    return (rel.startsWith('..') || rel === '' ? abs : rel).split(sep).join('/');
  };
  return [...files.entries()].map(([abs, text]) => ({ path: show(abs), text }));
}

async function readBaseline(path: string, cwd: string): Promise<Baseline> {
  return parseBaseline(await readText(resolve(cwd, path)), path);
}

/** Scans files and folders: {@link readSources}, then {@link scanSources}. */
export async function scanPaths(
  paths: readonly string[],
  options: ScanPathsOptions = {},
): Promise<ScanReport> {
  if (paths.length === 0)
    throw new SealtrainError('ERR_USAGE_INVALID', 'scan needs at least one file or folder.');
  const cwd = options.cwd ?? process.cwd();
  const files = await readSources(paths, cwd);
  const varFiles: SourceFile[] = [];
  for (const v of options.varFiles ?? []) varFiles.push({ path: v, text: await readText(resolve(cwd, v)) });
  return scanSources(files, {
    ...(options.env ? { env: options.env } : {}),
    varFiles,
    ...(options.baselineFile ? { baseline: await readBaseline(options.baselineFile, cwd) } : {}),
  });
}
