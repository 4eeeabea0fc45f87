// A software TPM (Debian's swtpm) on loopback with an attestation key at 0x81000003, as an Azure
// confidential VM's vTPM has: for the tests that collect vTPM evidence with tpm2-tools.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, listening } from './net.mjs';

const run = promisify(execFile);

/** Every command these tests drive, and the Debian package that ships it. */
const NEEDED: [string, string][] = [
  ['swtpm', 'swtpm'],
  ['tpm2_startup', 'tpm2-tools'],
  ['tpm2_createprimary', 'tpm2-tools'],
  ['tpm2_evictcontrol', 'tpm2-tools'],
  ['tpm2_nvdefine', 'tpm2-tools'],
  ['tpm2_nvwrite', 'tpm2-tools'],
  ['tpm2_pcrextend', 'tpm2-tools'],
];

function requireTools(): void {
  const onPath = (cmd: string) =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, cmd), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = NEEDED.filter(([cmd]) => !onPath(cmd));
  if (missing.length > 0)
    throw new Error(
      `The vTPM test needs ${missing.map(([c]) => c).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`,
    );
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A server port whose successor (swtpm's control port) is free too. */
export async function portPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
}

export interface Swtpm {
  readonly tcti: string;
  /** A private folder beside the TPM's state, for the test's own files. */
  readonly stateDir: string;
  /** Runs one tpm2-tools command against this TPM. */
  tpm(tool: string, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Writes `bytes` to NV index `index` (defined afresh at their size, owner auth). */
  writeNv(index: string, bytes: Buffer): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts swtpm, starts the TPM up, makes a restricted RSASSA-SHA256 signing key persistent at
 * 0x81000003 (the vTPM's attestation key handle) and extends PCR 7 once.
 */
export async function startSwtpm(): Promise<Swtpm> {
  requireTools();
  const stateDir = await mkdtemp(join(tmpdir(), 'sealtrain-swtpm-'));
  let child: ChildProcess | undefined;
  let tcti = '';
  for (let attempt = 0; attempt < 5 && tcti === ''; attempt++) {
    const port = await portPair();
    child = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${stateDir}`,
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        '--flags',
        'not-need-init',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      if (await listening(port)) {
        tcti = `swtpm:host=127.0.0.1,port=${port}`;
        break;
      }
      await sleep(25);
    }
    if (tcti === '') child.kill();
  }
  if (tcti === '') throw new Error('swtpm did not start');
  const tpm = (tool: string, ...args: string[]) => run(tool, [`--tcti=${tcti}`, ...args]);
  await tpm('tpm2_startup', '-c');
  const ak = join(stateDir, 'ak.ctx');
  await tpm(
    'tpm2_createprimary',
    '-C',
    'o',
    '-G',
    'rsa2048:rsassa-sha256:null',
    '-a',
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign',
    '-c',
    ak,
  );
  await tpm('tpm2_evictcontrol', '-C', 'o', '-c', ak, '0x81000003');
  await tpm('tpm2_flushcontext', '-t');
  await tpm('tpm2_pcrextend', `7:sha256=${'ab'.repeat(32)}`);
  return {
    tcti,
    stateDir,
    tpm,
    async writeNv(index, bytes) {
      await tpm('tpm2_nvundefine', '-C', 'o', index).catch(() => undefined);
      await tpm('tpm2_nvdefine', '-C', 'o', '-s', String(bytes.length), index);
      const file = join(stateDir, `nv-${index}.bin`);
      await writeFile(file, bytes);
      await tpm('tpm2_nvwrite', '-C', 'o', '-i', file, index);
    },
    async stop() {
      child?.kill();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
