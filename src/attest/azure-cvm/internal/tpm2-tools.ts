import { execFile } from 'node:child_process';
import { SealtrainError } from '../../../errors/index.js';

/** How to reach the TPM and run the tools. */
export interface ToolRunner {
  /** The TCTI, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`. */
  readonly tcti: string;
  /** A folder holding the `tpm2_*` tools; default: found on PATH. */
  readonly toolDir?: string;
  /** Per-command limit in milliseconds. */
  readonly timeoutMs: number;
}

const OUTPUT_LIMIT = 800;

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > OUTPUT_LIMIT ? `…${trimmed.slice(-OUTPUT_LIMIT)}` : trimmed;
}

/**
 * Runs one tpm2-tools command with an argument array (no shell), pointing it at the TCTI, and
 * resolves to its standard output, as bytes (a decryption's plaintext comes back this way, through
 * a pipe, never a file: the caller wipes it). A failure is `ERR_ATTEST_COLLECT_FAILED` naming the
 * device, the command and the tool's own output. `input`, when given, is the tool's standard input.
 */
export function runTpm2(
  runner: ToolRunner,
  tool: string,
  args: readonly string[],
  what: string,
  input?: Buffer,
): Promise<Buffer> {
  const file = runner.toolDir === undefined ? tool : `${runner.toolDir}/${tool}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [`--tcti=${runner.tcti}`, ...args],
      {
        timeout: runner.timeoutMs,
        maxBuffer: 1024 * 1024,
        encoding: 'buffer',
        env: { ...process.env, LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        const output = tail(`${stderr.toString('utf8')}\n${stdout.toString('utf8')}`) || error.message;
        const message = missing
          ? `Cannot ${what} on ${runner.tcti}: ${tool} is not installed (Debian package tpm2-tools).`
          : `Cannot ${what} on ${runner.tcti}: ${tool} failed: ${output}`;
        reject(
          new SealtrainError('ERR_ATTEST_COLLECT_FAILED', message, {
            cause: error,
            details: { device: runner.tcti, command: tool, output },
          }),
        );
      },
    );
    child.stdin?.on('error', () => {}); // a tool that exits early: its own failure is reported
    child.stdin?.end(input);
  });
}
