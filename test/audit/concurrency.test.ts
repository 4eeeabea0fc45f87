import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditEntries, verifyAuditLog } from '../../src/audit/index.js';
import { readLines, sampleEvent, tempDir } from './helpers.js';

/** The built package, as another program would load it (`npm test` builds first). */
const DIST = new URL('../../dist/audit/index.js', import.meta.url).href;

/** Appends `count` events as `actor` from a separate Node process; resolves when it exits. */
const CHILD = `
const [url, dir, count] = process.argv.slice(1);
const { AuditLog } = await import(url);
const log = await AuditLog.open(dir, { headInterval: 7 });
process.stdout.write('ready\\n');
for (let i = 0; i < Number(count); i++) {
  await log.record({ actor: 'child@host', action: 'keys.unwrap', outcome: 'ok', details: { i } });
}
await log.close();
`;

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  dir = join(t.dir, 'audit');
});
afterEach(() => cleanup());

function startChild(count: number): { ready: Promise<void>; done: Promise<void> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, DIST, dir, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`)),
    );
  });
  return { ready, done };
}

describe('AuditLog under concurrency', () => {
  it('keeps one valid chain for 50 parallel record() calls', async () => {
    const log = await AuditLog.open(dir, { headInterval: 10 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.record(sampleEvent(i))));
    await log.close();
    const report = await verifyAuditLog(dir, { strict: true });
    expect(report).toMatchObject({ ok: true, entries: 50, signedThrough: 49 });
    expect((await readAuditEntries(dir)).map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await readLines(join(dir, 'heads.jsonl'))).toHaveLength(5);
  });

  it('keeps one valid chain while another process appends at the same time', async () => {
    const parent = await AuditLog.open(dir, { headInterval: 5 });
    const child = startChild(60);
    await child.ready;
    for (let i = 0; i < 60; i++)
      await parent.record({ actor: 'parent@host', action: 'keys.wrap', outcome: 'ok', details: { i } });
    await child.done;
    await parent.close();
    const report = await verifyAuditLog(dir, { strict: true });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, entries: 120, signedThrough: 119 });
    const entries = await readAuditEntries(dir);
    for (const actor of ['parent@host', 'child@host']) {
      const mine = entries.filter((e) => e.actor === actor).map((e) => e.details?.i);
      expect(mine).toEqual(Array.from({ length: 60 }, (_, i) => i));
    }
  });
});

describe('group commit', () => {
  it('appends concurrent records from one process in order, each once, with a head every interval', async () => {
    const log = await AuditLog.open(dir, { headInterval: 10 });
    const n = 205;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        log.record({ actor: 'load@host', action: 'keys.unwrap', outcome: 'ok', details: { i } }),
      ),
    );
    await log.close();
    const entries = await readAuditEntries(dir);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(entries.map((e) => (e.details as { i: number }).i)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    const heads = await readLines(join(dir, 'heads.jsonl'));
    expect(heads.length).toBe(21);
    expect((await verifyAuditLog(dir)).ok).toBe(true);
  });

  it('rejects every record of a batch that cannot be written, and keeps the log verifiable', async () => {
    const log = await AuditLog.open(dir);
    await log.record(sampleEvent(0));
    const bad = { actor: 'x', action: 'keys.unwrap', outcome: 'ok', extra: 1 } as never;
    await expect(log.record(bad)).rejects.toThrow();
    await Promise.all([log.record(sampleEvent(1)), log.record(sampleEvent(2))]);
    await log.close();
    expect((await readAuditEntries(dir)).length).toBe(3);
    expect((await verifyAuditLog(dir)).ok).toBe(true);
  });
});
