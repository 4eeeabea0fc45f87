import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { isSealtrainError, SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { sealBuffer } from '../seal/index.js';
import { registerTempDir, writeFileAtomic } from '../store/index.js';
import { checkAgainstLineage, type TrustedLineage } from './input-lineage.js';
import { readInput } from './load-inputs.js';

/** Options for {@link runExec}. */
export interface ExecOptions {
  /** The command and its arguments; `{data}` and `{output}` in them become the private folders. */
  readonly command: readonly string[];
  /** Sealed (or plain) files to decrypt into the private data folder. */
  readonly inputs: readonly string[];
  readonly providers: readonly KeyProvider[];
  /** The run folder: outputs go to `<runDir>/outputs/<name>.sealed`. */
  readonly runDir: string;
  /** The key outputs are sealed to. */
  readonly sealTo: string;
  readonly audit: { readonly sink: AuditSink; readonly actor: string };
  /** Memory-backed folders to make the private folder in; default `/dev/shm`, then `$XDG_RUNTIME_DIR`. */
  readonly privateRoots?: readonly string[];
  /**
   * The data owner's signed lineage (`data.lineage_key`): each input, once decrypted in memory,
   * must have the digest it lists before it is written to the folder the command reads.
   */
  readonly lineage?: TrustedLineage | undefined;
}

/** What the command did. */
export interface ExecResult {
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
  readonly outputs: readonly { readonly path: string; readonly sha256: string; readonly bytes: number }[];
}

const PRIVATE_PREFIX = 'sealtrain-exec-';
const MEMORY_FS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/** The first of `roots` that is a memory file system (tmpfs or ramfs) we can write to. */
async function memoryRoot(roots: readonly string[]): Promise<string> {
  const { statfs } = await import('node:fs/promises');
  for (const root of roots) {
    const fs = await statfs(root).catch(() => undefined);
    if (fs && MEMORY_FS.has(fs.type)) return root;
  }
  throw new SealtrainError(
    'ERR_RUN_EXEC_FAILED',
    `Exec mode needs a memory file system for the decrypted inputs, and none of ${roots.join(', ')} is one (tmpfs or ramfs); plaintext must not touch a disk.`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Wipes private folders whose sealtrain process is gone (a SIGKILL, a power cut of the container
 * leaves them, with decrypted inputs in memory-backed files). Each folder holds its owner's pid.
 */
async function sweepStale(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(PRIVATE_PREFIX)) continue;
    const pid = Number((await readFile(join(root, name, 'pid'), 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && !alive(pid)) await wipeFolder(join(root, name));
  }
}

/** Overwrites every file under `dir` with zeros, then removes the folder. */
export async function wipeFolder(dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const handle = await open(path, 'r+').catch(() => undefined);
    if (!handle) continue;
    try {
      const { size } = await handle.stat();
      const zeros = Buffer.alloc(Math.min(size, 1 << 20));
      for (let at = 0; at < size; at += zeros.length)
        await handle.write(zeros, 0, Math.min(zeros.length, size - at), at);
    } finally {
      await handle.close();
    }
  }
  await rm(dir, { recursive: true, force: true });
}

async function decryptInto(
  dir: string,
  inputs: readonly string[],
  providers: readonly KeyProvider[],
  lineage: TrustedLineage | undefined,
): Promise<void> {
  for (const input of inputs) {
    const { bytes, sealed } = await readInput(input, providers);
    try {
      // Checked on the bytes in hand, before the command can see them: no second read of the file.
      if (lineage)
        checkAgainstLineage(lineage, [
          { path: input, sealed, sha256: createHash('sha256').update(bytes).digest('hex') },
        ]);
      await writeFile(join(dir, basename(input).replace(/\.sealed$/, '')), bytes, {
        mode: 0o600,
        flag: 'wx',
      });
    } finally {
      bytes.fill(0);
    }
  }
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long a command may take to exit after a forwarded signal before it is killed. */
const GRACE_MS = 10_000;

interface ChildEnd {
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  /** The signal that stopped sealtrain itself while the command ran. */
  readonly interrupted: NodeJS.Signals | undefined;
}

/**
 * Runs the command. While it runs, SIGINT, SIGTERM and SIGHUP are ours: each is forwarded to the
 * command, which gets {@link GRACE_MS} to exit before SIGKILL; only then does the caller wipe the
 * folder and re-raise the signal, so the command never outlives the wipe holding files open.
 */
function runChild(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'inherit', env });
    const saved = STOP_SIGNALS.map((sig) => [sig, process.rawListeners(sig)] as const);
    let interrupted: NodeJS.Signals | undefined;
    let killer: NodeJS.Timeout | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      child.kill(sig);
      killer ??= setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
    };
    for (const sig of STOP_SIGNALS) {
      process.removeAllListeners(sig);
      process.on(sig, onSignal);
    }
    const done = () => {
      clearTimeout(killer);
      for (const [sig, listeners] of saved) {
        process.removeAllListeners(sig);
        for (const l of listeners) process.on(sig, l as (s: NodeJS.Signals) => void);
      }
    };
    child.once('error', (error) => {
      done();
      reject(
        new SealtrainError('ERR_RUN_EXEC_FAILED', `Cannot start ${argv[0]}: ${error.message}.`, {
          cause: error,
          details: { command: String(argv[0]) },
        }),
      );
    });
    child.once('exit', (code, signal) => {
      done();
      const signo = signal ? (constants.signals[signal] ?? 0) : 0;
      resolve({ code: code ?? 128 + signo, signal, interrupted });
    });
  });
}

/** Variables that carry credentials: the command gets paths, not these. */
const CREDENTIAL_VARIABLES =
  /^(AZURE_CLIENT_SECRET|AZURE_CLIENT_CERTIFICATE_PASSWORD|AZURE_CLIENT_CERTIFICATE_PATH|AZURE_FEDERATED_TOKEN_FILE|AZURE_PASSWORD|AZURE_STORAGE_CONNECTION_STRING|AZURE_STORAGE_KEY|IDENTITY_HEADER|MSI_SECRET|SEALTRAIN_.*)$/;

/** This process's environment without credentials, plus the two folder paths. */
function childEnv(data: string, output: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!CREDENTIAL_VARIABLES.test(k)) env[k] = v;
  return { ...env, SEALTRAIN_DATA_DIR: data, SEALTRAIN_OUTPUT_DIR: output };
}

async function sealOutputs(outDir: string, o: ExecOptions): Promise<ExecResult['outputs']> {
  const sealed: { path: string; sha256: string; bytes: number }[] = [];
  const entries = await readdir(outDir, { recursive: true, withFileTypes: true });
  for (const e of entries.filter((x) => x.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
    const source = join(e.parentPath, e.name);
    const target = join(o.runDir, 'outputs', `${relative(outDir, source)}.sealed`);
    const plain = await readFile(source);
    try {
      const bytes = await sealBuffer(plain, { recipients: [o.sealTo], providers: o.providers });
      await mkdir(join(target, '..'), { recursive: true, mode: 0o700 });
      await writeFileAtomic(target, bytes, { overwrite: true });
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      sealed.push({ path: target, sha256, bytes: bytes.length });
      await o.audit.sink.record({
        actor: o.audit.actor,
        action: 'run.exec.output',
        outcome: 'ok',
        key: { uri: o.sealTo },
        file: { path: target, sha256 },
      });
    } finally {
      plain.fill(0);
    }
  }
  return sealed;
}

/**
 * Exec mode: decrypts the inputs into a private folder on a memory file system (mode 0700),
 * runs the command with the folder paths (as `{data}`/`{output}` in its arguments and in
 * `SEALTRAIN_DATA_DIR`/`SEALTRAIN_OUTPUT_DIR`: paths only, never keys), seals what it wrote to
 * its output folder when it succeeds, and wipes the folder on every way out: a normal exit, a
 * failure, an error here, SIGINT or SIGTERM (forwarded to the command).
 */
export async function runExec(o: ExecOptions): Promise<ExecResult> {
  let stoppedBy: NodeJS.Signals | undefined;
  if (o.command.length === 0)
    throw new SealtrainError('ERR_USAGE_INVALID', 'Exec mode needs a command after --exec --.');
  const root = await memoryRoot(
    o.privateRoots ?? ['/dev/shm', ...(process.env.XDG_RUNTIME_DIR ? [process.env.XDG_RUNTIME_DIR] : [])],
  );
  await sweepStale(root);
  const priv = await mkdtemp(join(root, PRIVATE_PREFIX));
  const unregister = registerTempDir(priv);
  try {
    await chmod(priv, 0o700);
    await writeFile(join(priv, 'pid'), `${process.pid}\n`, { mode: 0o600 });
    const data = join(priv, 'data');
    const output = join(priv, 'output');
    await mkdir(data, { mode: 0o700 });
    await mkdir(output, { mode: 0o700 });
    await decryptInto(data, o.inputs, o.providers, o.lineage);
    const argv = o.command.map((a) => a.replaceAll('{data}', data).replaceAll('{output}', output));
    const env = childEnv(data, output);
    await o.audit.sink.record({
      actor: o.audit.actor,
      action: 'run.exec',
      outcome: 'ok',
      details: { command: basename(String(o.command[0])), inputs: o.inputs.length },
    });
    const { code, signal, interrupted } = await runChild(argv, env);
    stoppedBy = interrupted;
    const outputs = code === 0 && signal === null ? await sealOutputs(output, o) : [];
    await o.audit.sink.record({
      actor: o.audit.actor,
      action: 'run.exec.exit',
      outcome: code === 0 ? 'ok' : 'error',
      details: { exit_code: code, ...(signal ? { signal } : {}), outputs: outputs.length },
    });
    return { exitCode: code, signal, outputs };
  } catch (error) {
    if (isSealtrainError(error)) throw error;
    throw new SealtrainError('ERR_RUN_EXEC_FAILED', `Exec mode failed: ${(error as Error).message}.`, {
      cause: error,
    });
  } finally {
    await wipeFolder(priv);
    unregister();
    // Stopped by a signal: the folder is gone, now let the signal do what it does (the CLI exits 130).
    if (stoppedBy) {
      process.kill(process.pid, stoppedBy);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
