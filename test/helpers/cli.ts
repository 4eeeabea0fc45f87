import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI, as users run it (`npm test` builds first). */
export const BIN = fileURLToPath(new URL('../../bin/sealtrain.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** The parsed stdout when it is one JSON object. */
  json: Record<string, unknown> | undefined;
}

export interface CliOptions {
  input?: Buffer | string;
  /** Written to file descriptor 3 of the child (for --passphrase-fd 3). */
  fd3?: string;
  env?: Record<string, string>;
  signalAfterMs?: { signal: NodeJS.Signals; ms: number };
  /**
   * Sends `signal` once a file whose name ends with `suffix` appears in `dir` (the command's temp
   * file): the signal then lands mid-write however loaded the machine is.
   */
  signalWhenFile?: { signal: NodeJS.Signals; dir: string; suffix: string };
  /** Sends `signal` once `ready()` (polled every 20 ms) resolves true: e.g. once an upload has begun. */
  signalWhen?: { signal: NodeJS.Signals; ready: () => Promise<boolean> };
}

/** Runs `sealtrain args…` in a child process. */
export function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const stdio: Array<'pipe'> =
      options.fd3 === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'];
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...options.env },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    if (options.fd3 !== undefined) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      // A child that exits before reading it (a usage error) resets the pipe: not a test failure.
      fd3.on('error', () => {});
      fd3.end(options.fd3);
    }
    child.stdin?.on('error', () => {});
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
    if (options.signalAfterMs) {
      const { signal, ms } = options.signalAfterMs;
      setTimeout(() => child.kill(signal), ms);
    }
    if (options.signalWhenFile) {
      const { signal, dir, suffix } = options.signalWhenFile;
      const poll = setInterval(() => {
        if (child.exitCode !== null || child.signalCode !== null) return clearInterval(poll);
        if (readdirSync(dir).some((f) => f.endsWith(suffix))) {
          clearInterval(poll);
          child.kill(signal);
        }
      }, 10);
    }
    if (options.signalWhen) {
      const { signal, ready } = options.signalWhen;
      const poll = async (): Promise<void> => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (await ready().catch(() => false)) child.kill(signal);
        else setTimeout(poll, 20);
      };
      void poll();
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout.toString()) as Record<string, unknown>;
      } catch {}
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr: err, json });
    });
  });
}

/** A fresh home folder with a passphrase file and an initialised keyring holding key `a`. */
export async function freshHome(
  passphrase = 'correct horse battery staple',
): Promise<{ dir: string; home: string; pass: string; base: string[]; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-cli-'));
  const home = join(dir, 'home');
  const pass = join(dir, 'pass.txt');
  await writeFile(pass, `${passphrase}\n`, { mode: 0o600 });
  const base = ['--home', home, '--passphrase-file', pass];
  return { dir, home, pass, base, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
