import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-write-failure-'));
  const rows = Array.from(
    { length: 20_000 },
    (_, i) => `${i},${i * 0.25},${(i * 7) % 13},${i % 2 ? 'a' : 'b'}`,
  );
  await writeFile(join(dir, 'in.csv'), `x,y,z,label\n${rows.join('\n')}\n`);
  await writeFile(
    join(dir, 'in.schema.json'),
    JSON.stringify({
      version: 1,
      label: 'label',
      columns: [
        { name: 'x', type: 'number', normalize: 'zscore' },
        { name: 'y', type: 'number' },
        { name: 'z', type: 'integer' },
        { name: 'label', type: 'category', categories: ['a', 'b'] },
      ],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `sealtrain prepare` with files limited to 64 KiB (`ulimit -f`): the training tensor cannot be written whole. */
function prepareWithSmallFiles(
  output: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [BIN, 'prepare', join(dir, 'in.csv'), '--schema', join(dir, 'in.schema.json')];
  args.push('-o', output, '--home', join(dir, 'home'), '--json');
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('prepare when a write fails', () => {
  it('ends with ERR_IO_FAILED (exit 13) naming the tensor file, and leaves no output folder', async () => {
    const output = join(dir, 'out');
    const { code, stdout, stderr } = await prepareWithSmallFiles(output);
    const error = (JSON.parse(stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ERR_IO_FAILED');
    expect(error.message).toMatch(/train\.tensor: EFBIG/);
    expect(code).toBe(13);
    // The failed write is reported once, as the command's error: no unhandled rejection.
    expect(stderr).not.toMatch(/Unhandled|UnhandledPromiseRejection/);
    expect(readdirSync(dir).sort()).toEqual(['home', 'in.csv', 'in.schema.json']);
  });
});
