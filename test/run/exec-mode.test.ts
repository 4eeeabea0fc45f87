// Exec mode (the built CLI): decrypted inputs in a private memory-backed folder that is gone after
// a normal exit, a failing exit and a SIGTERM; outputs sealed; exit status propagated; no secret
// in the child's argv or environment.

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsealBuffer } from '../../src/seal/index.js';
import { cli } from '../helpers/cli.js';
import { CANARY, type RunFixture, releaseModelKey, startRunFixture, writeRunConfig } from './run-fixture.js';

let f: RunFixture;
beforeAll(async () => {
  f = await startRunFixture();
}, 120_000);
afterAll(async () => {
  await f?.cleanup();
});

/** A child that reports what it saw, writes an output, then exits (or waits to be killed). */
const CHILD = `
const fs = require('node:fs');
const [data, out, report, mode] = process.argv.slice(1);
const info = { data, out, argv: process.argv, env: process.env, files: fs.readdirSync(data).sort(),
  dirMode: fs.statSync(require('node:path').dirname(data)).mode & 0o777,
  envData: process.env.SEALTRAIN_DATA_DIR, head: fs.readFileSync(data + '/train.tensor').subarray(0, 8).toString('hex') };
fs.writeFileSync(out + '/weights.bin', 'trained-by-child');
fs.mkdirSync(out + '/nested');
fs.writeFileSync(out + '/nested/log.txt', 'epoch 1');
fs.writeFileSync(report, JSON.stringify(info));
if (mode === 'trap') {
  // A framework that cleans up on SIGTERM: it must get the signal and the time to finish.
  process.on('SIGTERM', () => setTimeout(() => { fs.writeFileSync(report + '.term', 'cleaned up'); process.exit(0); }, 300));
}
if (mode === 'wait' || mode === 'trap') setInterval(() => {}, 1000); else process.exit(Number(mode));
`;

async function execRun(name: string, mode: string, options: Parameters<typeof cli>[1] = {}) {
  const config = await writeRunConfig(f, name, { data: f.prepared.wdbc });
  const report = join(f.dir, `${name}.report.json`);
  const r = await cli(
    [
      'train',
      '--config',
      config,
      '--home',
      f.home,
      '--exec',
      '--',
      process.execPath,
      '-e',
      CHILD,
      '{data}',
      '{output}',
      report,
      mode,
    ],
    options,
  );
  const info = JSON.parse(await readFile(report, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  return { r, info, report, dir: join(f.dir, 'runs', name) };
}

const gone = async (path: string) => expect(stat(path)).rejects.toThrow(/ENOENT/);

describe('sealtrain train --exec', () => {
  it('gives the command the decrypted inputs in a private folder, seals its outputs, and wipes the folder', async () => {
    const { r, info, dir } = await execRun('exec-ok', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(info.files).toEqual(['test.tensor', 'train.tensor', 'validation.tensor']);
    expect(info.head).toBe('89535454454e530a'); // the tensor-file magic: decrypted
    expect(info.dirMode).toBe(0o700);
    expect(String(info.data)).toMatch(/^\/dev\/shm\/sealtrain-exec-/);
    expect(info.envData).toBe(info.data);
    await gone(dirname(String(info.data)));
    expect((await readdir(join(dir, 'outputs'), { recursive: true })).sort()).toEqual([
      'nested',
      'nested/log.txt.sealed',
      'weights.bin.sealed',
    ]);
    const keys = await releaseModelKey(f);
    try {
      const sealed = await readFile(join(dir, 'outputs', 'weights.bin.sealed'));
      expect(sealed.includes(Buffer.from('trained-by-child'))).toBe(false);
      expect((await unsealBuffer(sealed, { providers: keys.providers })).toString()).toBe('trained-by-child');
    } finally {
      keys.close();
    }
    // Paths only: no token, no key, no data in the child's argv or environment.
    const seen = JSON.stringify({ argv: info.argv, env: info.env });
    expect(seen.includes(f.workload)).toBe(false);
    expect(seen.includes(CANARY)).toBe(false);
    expect(r.stderr.includes(CANARY) || r.stdout.includes(CANARY)).toBe(false);
  }, 60_000);

  it('propagates a failing exit status, seals nothing, and still wipes the folder', async () => {
    const { r, info, dir } = await execRun('exec-fail', '3');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/exited 3; nothing was sealed/);
    await gone(dirname(String(info.data)));
    await gone(join(dir, 'outputs'));
  }, 60_000);

  it('wipes the folder when sealtrain is stopped with SIGTERM', async () => {
    const report = join(f.dir, 'exec-term.report.json');
    const { r, info } = await execRun('exec-term', 'wait', {
      signalWhen: {
        signal: 'SIGTERM',
        ready: async () => (await stat(report).catch(() => undefined)) !== undefined,
      },
    });
    expect(r.code).toBe(130);
    expect(String(info.data)).toMatch(/^\/dev\/shm\//);
    await gone(dirname(String(info.data)));
  }, 60_000);

  it('forwards SIGTERM to a command that traps it, waits for it, then wipes', async () => {
    const report = join(f.dir, 'exec-trap.report.json');
    const { r, info } = await execRun('exec-trap', 'trap', {
      signalWhen: {
        signal: 'SIGTERM',
        ready: async () => (await stat(report).catch(() => undefined)) !== undefined,
      },
    });
    expect(r.code).toBe(130);
    expect(await readFile(`${report}.term`, 'utf8')).toBe('cleaned up');
    await gone(dirname(String(info.data)));
  }, 60_000);

  it('wipes the private folder a killed sealtrain left behind', async () => {
    const stale = join('/dev/shm', 'sealtrain-exec-stale-test');
    await mkdir(join(stale, 'data'), { recursive: true });
    await writeFile(join(stale, 'data', 'train.tensor'), 'decrypted');
    await writeFile(join(stale, 'pid'), '999999999\n');
    const { r } = await execRun('exec-sweep', '0');
    expect(r.code, r.stderr).toBe(0);
    await gone(stale);
  }, 60_000);

  it('refuses to start without a command, and reports a command that does not exist', async () => {
    const config = await writeRunConfig(f, 'exec-none', { data: f.prepared.wdbc });
    const none = await cli(['train', '--config', config, '--home', f.home, '--exec']);
    expect(none.code).toBe(2);
    const missing = await cli([
      'train',
      '--config',
      config,
      '--home',
      f.home,
      '--exec',
      '--',
      '/nonexistent/trainer',
    ]);
    expect(missing.code).toBe(123);
    expect(missing.stderr).toMatch(/Cannot start \/nonexistent\/trainer/);
    expect((await readdir('/dev/shm')).filter((n) => n.startsWith('sealtrain-exec-'))).toEqual([]);
  }, 60_000);
});
