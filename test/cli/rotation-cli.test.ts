import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/index.js';
import { cli, freshHome } from '../helpers/cli.js';

let ctx: Awaited<ReturnType<typeof freshHome>>;
let data: string;
let sealed: string;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  ctx = await freshHome('rotation passphrase');
  await cli([...ctx.base, 'keys', 'init', '--scrypt-cost', '1024']);
  await cli([...ctx.base, 'keys', 'create', 'owner']);
  data = join(ctx.dir, 'data.bin');
  await writeFile(data, randomBytes(1_000_000));
  sealed = join(ctx.dir, 'data.sealed');
  expect((await cli([...ctx.base, 'seal', data, '-o', sealed, '--key', 'local:owner'])).code).toBe(0);
});
afterAll(() => ctx.cleanup());

const recipients = async (file: string): Promise<unknown> =>
  (
    (await cli(['--home', ctx.home, 'inspect', file, '--json'])).json?.file as
      | { recipients?: unknown }
      | undefined
  )?.recipients;

describe('key rotation of sealed data', () => {
  it('rotate, then rewrap moves the header to the new version without touching the body', async () => {
    const before = await readFile(sealed);
    const r = await cli([...ctx.base, 'keys', 'rotate', 'owner', '--json']);
    expect(r.json).toMatchObject({ ok: true, key: { uri: 'local:owner', version: '2' } });
    const w = await cli([...ctx.base, 'rewrap', sealed, '--json']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.json).toMatchObject({ from: ['local:owner/1'], to: ['local:owner/2'] });
    const after = await readFile(sealed);
    expect(after.length).toBe(before.length);
    const body = 16 + 2 * 8192;
    expect(sha(after.subarray(body))).toBe(sha(before.subarray(body)));
    expect(await recipients(sealed)).toEqual([{ uri: 'local:owner', version: '2', alg: 'A256KW' }]);
  });

  it('after disabling version 1, the rewrapped file still opens and an old copy does not', async () => {
    const old = join(ctx.dir, 'old.sealed');
    expect((await cli([...ctx.base, 'seal', data, '-o', old, '--key', 'local:owner/1'])).code).toBe(0);
    expect((await cli([...ctx.base, 'keys', 'disable', 'owner', '1'])).code).toBe(0);
    const ok = await cli([...ctx.base, 'unseal', sealed, '-o', join(ctx.dir, 'a.bin')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(sha(await readFile(join(ctx.dir, 'a.bin')))).toBe(sha(await readFile(data)));
    const no = await cli([...ctx.base, 'unseal', old, '-o', join(ctx.dir, 'b.bin'), '--json']);
    expect(no.code).toBe(EXIT_CODES.ERR_KMS_KEY_DISABLED);
    await expect(stat(join(ctx.dir, 'b.bin'))).rejects.toThrow(/ENOENT/);
    const list = await cli([...ctx.base, 'keys', 'list', 'owner', '--json']);
    expect(((list.json?.keys ?? []) as Array<{ enabled: boolean }>).map((k) => k.enabled)).toEqual([
      false,
      true,
    ]);
  });

  it('rewrap -o writes a new file and leaves the original unchanged', async () => {
    await cli([...ctx.base, 'keys', 'create', 'second']);
    const before = await readFile(sealed);
    const copy = join(ctx.dir, 'copy.sealed');
    const r = await cli([...ctx.base, 'rewrap', sealed, '-o', copy, '--key', 'local:second', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(await readFile(sealed), before)).toBe(0);
    expect(await recipients(copy)).toEqual([{ uri: 'local:second', version: '1', alg: 'A256KW' }]);
    const again = await cli([...ctx.base, 'rewrap', sealed, '-o', copy, '--json']);
    expect(again.code).toBe(EXIT_CODES.ERR_IO_EXISTS);
  });

  it('reencrypt gives a fresh data key and body, same plaintext', async () => {
    const before = await readFile(sealed);
    const r = await cli([...ctx.base, 'reencrypt', sealed, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const after = await readFile(sealed);
    const body = 16 + 2 * 8192;
    expect(sha(after.subarray(body))).not.toBe(sha(before.subarray(body)));
    const out = join(ctx.dir, 'c.bin');
    expect((await cli([...ctx.base, 'unseal', sealed, '-o', out])).code).toBe(0);
    expect(sha(await readFile(out))).toBe(sha(await readFile(data)));
  });

  it('reencrypt of a tampered file fails and leaves it exactly as it was', async () => {
    const bad = join(ctx.dir, 'bad.sealed');
    const bytes = await readFile(sealed);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 1;
    await writeFile(bad, bytes);
    const r = await cli([...ctx.base, 'reencrypt', bad, '--json']);
    expect(r.code).toBe(EXIT_CODES.ERR_SEAL_DECRYPT_FAILED);
    expect(Buffer.compare(await readFile(bad), bytes)).toBe(0);
  });

  it('the audit log recorded every key and seal operation, and verifies', async () => {
    const show = await cli(['--home', ctx.home, 'audit', 'show', '--json']);
    const entries = show.json?.entries as Array<{ action: string; outcome: string; key?: { uri: string } }>;
    const actions = new Set(entries.map((e) => e.action));
    for (const a of [
      'keys.init',
      'create',
      'rotate',
      'disable',
      'wrap',
      'unwrap',
      'seal',
      'unseal',
      'rewrap',
      'reencrypt',
    ]) {
      expect(
        [...actions].some((x) => x === a || x.endsWith(`.${a}`)),
        a,
      ).toBe(true);
    }
    expect(entries.some((e) => e.action === 'unseal' && e.outcome === 'error')).toBe(true);
    const log = await readFile(join(ctx.home, 'audit', 'audit.jsonl'), 'utf8');
    expect(log).not.toContain('rotation passphrase');
    const v = await cli(['--home', ctx.home, 'audit', 'verify', '--json']);
    expect(v.code, v.stderr).toBe(0);
  });

  it('audit verify names an edited entry and exits with its code', async () => {
    const path = join(ctx.home, 'audit', 'audit.jsonl');
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[2] = (lines[2] ?? '').replace('"outcome":"ok"', '"outcome":"error"');
    await writeFile(path, lines.join('\n'));
    const v = await cli(['--home', ctx.home, 'audit', 'verify', '--json']);
    expect(v.code).toBe(EXIT_CODES.ERR_AUDIT_VERIFY_FAILED);
    expect(v.stderr).toMatch(/edited/);
  });
});

describe('an interrupted reencrypt', () => {
  it('SIGINT at any point leaves no temp file and the target whole, old or new', async () => {
    const own = await freshHome();
    try {
      await cli([...own.base, 'keys', 'init', '--scrypt-cost', '1024']);
      await cli([...own.base, 'keys', 'create', 'a']);
      const big = join(own.dir, 'big.bin');
      await writeFile(big, Buffer.alloc(256 * 1024 * 1024, 3));
      const target = join(own.dir, 'big.sealed');
      expect((await cli([...own.base, 'seal', big, '-o', target, '--key', 'local:a'])).code).toBe(0);
      for (const ms of [250, 500, 750, 1000]) {
        const r = await cli([...own.base, 'reencrypt', target], { signalAfterMs: { signal: 'SIGINT', ms } });
        // 130 once the CLI handles signals; 128 (killed) when the signal lands before Node has run
        // a line of it (before anything could be written), or after the command has finished and
        // Node is tearing the process down (the re-encryption then done and reported).
        expect([0, 130, 128], r.stderr).toContain(r.code);
        if (r.code === 128) expect(r.stderr).toMatch(/^$|^Re-encrypted .*big\.sealed/);
        expect((await readdir(own.dir)).filter((f) => f.startsWith('.'))).toEqual([]);
      }
      const v = await cli([...own.base, 'verify', target, '--json']);
      expect(v.code, v.stderr).toBe(0);
    } finally {
      await own.cleanup();
    }
  });
});
