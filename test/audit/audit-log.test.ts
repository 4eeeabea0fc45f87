import { spawnSync } from 'node:child_process';
import { appendFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditEntries, type SignedHead, verifyAuditLog } from '../../src/audit/index.js';
import type { AuditSink as KmsAuditSink } from '../../src/kms/index.js';
import { parse, readLines, rejectsWith, sampleEvent, steppingClock, tempDir, writeLines } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let files: { log: string; heads: string; key: string; pub: string; lock: string };

beforeEach(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  dir = join(t.dir, 'audit');
  files = {
    log: join(dir, 'audit.jsonl'),
    heads: join(dir, 'heads.jsonl'),
    key: join(dir, 'signing-key.pem'),
    pub: join(dir, 'signing-key.pub.pem'),
    lock: join(dir, 'audit.lock'),
  };
});
afterEach(() => cleanup());

async function writeSamples(count: number, options: { headInterval?: number } = {}): Promise<void> {
  const log = await AuditLog.open(dir, { clock: steppingClock(), ...options });
  for (let i = 0; i < count; i++) await log.record(sampleEvent(i));
  await log.close();
}

const headSeqs = async (): Promise<number[]> =>
  (await readLines(files.heads)).map((l) => (JSON.parse(l) as SignedHead).seq);

describe('AuditLog', () => {
  it('creates the folder, a private key only its owner can read, and a log that verifies', async () => {
    await writeSamples(5);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(files.key)).mode & 0o777).toBe(0o600);
    expect((await stat(files.log)).mode & 0o777).toBe(0o600);
    expect(await readFile(files.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const report = await verifyAuditLog(dir, {
      publicKeyPem: await readFile(files.pub, 'utf8'),
      strict: true,
    });
    expect(report).toMatchObject({ ok: true, entries: 5, signedThrough: 4, problems: [] });
    expect((await readLines(files.log)).map((l) => parse(l).seq)).toEqual([0, 1, 2, 3, 4]);
    await expect(stat(files.lock)).rejects.toThrow();
  });

  it('is an AuditSink as kms defines it', async () => {
    const log = await AuditLog.open(dir);
    const sink: KmsAuditSink = log;
    await sink.record({ actor: 'a@h', action: 'keys.create', outcome: 'ok', key: { uri: 'local:a' } });
    await log.close();
    expect((await verifyAuditLog(dir)).entries).toBe(1);
  });

  it('signs a head every headInterval entries and at close, and not twice for the same entry', async () => {
    await writeSamples(12, { headInterval: 5 });
    expect(await headSeqs()).toEqual([4, 9, 11]);
    await writeSamples(0);
    await writeSamples(3, { headInterval: 5 });
    expect(await headSeqs()).toEqual([4, 9, 11, 14]);
    const keyId = (JSON.parse((await readLines(files.heads))[0] ?? '') as SignedHead).key_id;
    expect((await AuditLog.open(dir)).keyId).toBe(keyId);
  });

  it('refuses events with members beyond the shape, naming the member but never its value', async () => {
    const log = await AuditLog.open(dir);
    const bad: unknown[] = [
      { actor: 'a', action: 'seal', outcome: 'ok', secret: 'hunter2-passphrase' },
      { actor: 'a', action: 'seal', outcome: 'ok', key: { uri: 'local:a', material: 'hunter2-passphrase' } },
      { actor: 'a', action: 'seal', outcome: 'ok', details: { dek: Buffer.from('hunter2-passphrase') } },
      { actor: 'a', action: 'seal', outcome: 'ok', details: { nested: { x: 'hunter2-passphrase' } } },
      { actor: 'a', action: 'seal', outcome: 'maybe' },
      { actor: 'a\u001b[2J', action: 'seal', outcome: 'ok' },
    ];
    for (const event of bad) {
      const err = await rejectsWith(log.record(event as never), 'ERR_INTERNAL');
      expect(err.message).not.toContain('hunter2');
    }
    expect((await rejectsWith(log.record(bad[0] as never), 'ERR_INTERNAL')).message).toContain('"secret"');
    await log.close();
    expect(await readFile(files.log, 'utf8')).toBe('');
    await rejectsWith(log.record(sampleEvent(0)), 'ERR_INTERNAL');
  });

  it('reads entries for display, filtered by action and limited to the newest', async () => {
    await writeSamples(9);
    const all = await readAuditEntries(dir);
    expect(all.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const unseals = await readAuditEntries(dir, { action: 'unseal', limit: 2 });
    expect(unseals.map((e) => [e.seq, e.action])).toEqual([
      [4, 'unseal'],
      [7, 'unseal'],
    ]);
  });

  it('reports a missing log and a missing public key by their codes', async () => {
    await rejectsWith(verifyAuditLog(dir), 'ERR_AUDIT_LOG_NOT_FOUND');
    await rejectsWith(readAuditEntries(dir), 'ERR_AUDIT_LOG_NOT_FOUND');
    await writeSamples(1);
    await rm(files.pub);
    const err = await rejectsWith(verifyAuditLog(dir), 'ERR_AUDIT_SIGNING_KEY');
    expect(err.message).toContain(files.pub);
    await rejectsWith(verifyAuditLog(dir, { publicKeyPem: 'not a key' }), 'ERR_AUDIT_SIGNING_KEY');
  });

  it('names the key file when it is malformed, or missing while heads exist', async () => {
    await writeSamples(2);
    await writeFile(files.key, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const bad = await rejectsWith(AuditLog.open(dir), 'ERR_AUDIT_SIGNING_KEY');
    expect(bad.message).toContain(files.key);
    expect(bad.details).toMatchObject({ path: files.key });
    await rm(files.key);
    const missing = await rejectsWith(AuditLog.open(dir), 'ERR_AUDIT_SIGNING_KEY');
    expect(missing.message).toContain(files.key);
  });

  it('shows that a replaced key pair passes unpinned verification but fails against the pinned key', async () => {
    await writeSamples(3);
    const pinned = await readFile(files.pub, 'utf8');
    await rm(files.key);
    await rm(files.pub);
    await rm(files.heads);
    await writeSamples(1);
    expect((await verifyAuditLog(dir)).ok).toBe(true);
    const report = await verifyAuditLog(dir, { publicKeyPem: pinned });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain('bad-signature');
  });

  it('cuts off a torn last line on open and records the repair in the chain', async () => {
    await writeSamples(4);
    const torn = '{"v":1,"seq":4,"time":"2026-11-';
    await appendFile(files.log, torn);
    const before = await verifyAuditLog(dir);
    expect(before.problems).toEqual([expect.objectContaining({ kind: 'malformed', line: 5 })]);
    const log = await AuditLog.open(dir, { clock: steppingClock() });
    await log.record(sampleEvent(5));
    await log.close();
    const lines = await readLines(files.log);
    expect(lines).toHaveLength(6);
    const recover = parse(lines[4]);
    expect(recover).toMatchObject({ seq: 4, actor: 'sealtrain', action: 'audit.recover', outcome: 'ok' });
    expect(recover.details).toMatchObject({ reason: 'torn-line', line: 5, bytes: torn.length });
    expect((await verifyAuditLog(dir, { strict: true })).ok).toBe(true);
  });

  it('completes a last line that only lacks its newline, and records that', async () => {
    await writeSamples(3);
    await truncate(files.log, (await stat(files.log)).size - 1);
    const log = await AuditLog.open(dir);
    await log.close();
    const lines = await readLines(files.log);
    expect(lines.map((l) => parse(l).seq)).toEqual([0, 1, 2, 3]);
    expect(parse(lines[3]).details).toMatchObject({ reason: 'missing-newline', line: 3 });
    expect((await verifyAuditLog(dir)).ok).toBe(true);
  });

  it('refuses to append after a damaged last line, naming the file and line', async () => {
    await writeSamples(3);
    const lines = await readLines(files.log);
    lines[2] = (lines[2] ?? '').replace('"outcome":"ok"', '"outcome":"error"');
    await writeLines(files.log, lines);
    const err = await rejectsWith(AuditLog.open(dir), 'ERR_AUDIT_VERIFY_FAILED');
    expect(err.message).toContain(`${files.log}: its last line (3) is damaged (it is edited)`);
    await writeLines(files.log, [...lines.slice(0, 2), 'garbage']);
    await rejectsWith(AuditLog.open(dir), 'ERR_AUDIT_VERIFY_FAILED');
  });

  it('repairs a torn head line before the next head', async () => {
    await writeSamples(2);
    await appendFile(files.heads, '{"v":1,"seq":');
    await writeSamples(1);
    expect(await headSeqs()).toEqual([1, 2]);
    expect((await verifyAuditLog(dir)).ok).toBe(true);
  });

  it('takes over the lock of a process that died', async () => {
    await writeSamples(1);
    const dead = Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout,
    );
    await writeFile(files.lock, `${dead} 0123456789abcdef\n`);
    await writeSamples(1);
    await expect(stat(files.lock)).rejects.toThrow();
    expect((await verifyAuditLog(dir)).entries).toBe(2);
  });
});
