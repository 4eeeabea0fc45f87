import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import type { ArtifactStore } from '../../src/store/index.js';
import { rejectsWith } from '../helpers/rejects.js';

/** A deterministic 20 MiB stream in 1 MiB pieces, and its SHA-256. */
export function bigSource(): { stream: Readable; digest: string; size: number } {
  const piece = randomBytes(1024 * 1024);
  const pieces = Array.from({ length: 20 }, (_, i) => Buffer.concat([Buffer.from([i]), piece.subarray(1)]));
  const hash = createHash('sha256');
  for (const p of pieces) hash.update(p);
  return { stream: Readable.from(pieces), digest: hash.digest('hex'), size: 20 * 1024 * 1024 };
}

export async function readStream(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

/** The behaviour every {@link ArtifactStore} shares. `store()` is called inside each test. */
export function storeConformance(store: () => ArtifactStore, where: (path: string) => string): void {
  it('streams 20 MiB in and out unchanged, with size, etag and metadata', async () => {
    const src = bigSource();
    const put = await store().put('big/data.sealed', src.stream, { metadata: { kind: 'dataset' } });
    expect(put.size).toBe(src.size);
    expect(put.etag).not.toBe('');
    const back = await readStream(await store().get('big/data.sealed'));
    expect(createHash('sha256').update(back).digest('hex')).toBe(src.digest);
    const info = await store().stat('big/data.sealed');
    expect(info).toEqual({ size: src.size, etag: put.etag, metadata: { kind: 'dataset' } });
    const region = await store().getRange('big/data.sealed', 5 * 1024 * 1024 - 7, 100_000);
    expect(region.equals(back.subarray(5 * 1024 * 1024 - 7, 5 * 1024 * 1024 - 7 + 100_000))).toBe(true);
  });

  it('refuses ranges past the end and malformed ranges', async () => {
    await store().put('r.bin', Buffer.from('0123456789'));
    expect((await store().getRange('r.bin', 8, 2)).toString()).toBe('89');
    expect((await store().getRange('r.bin', 10, 0)).length).toBe(0);
    expect(await codeOf(store().getRange('r.bin', 8, 3))).toBe('ERR_USAGE_INVALID');
    expect(await codeOf(store().getRange('r.bin', 11, 1))).toBe('ERR_USAGE_INVALID');
    expect(await codeOf(store().getRange('r.bin', -1, 1))).toBe('ERR_USAGE_INVALID');
  });

  it('lets exactly one of two conditional creates win, and keeps the winner', async () => {
    const results = await Promise.allSettled([
      store().put('race.bin', Buffer.from('first'), { ifNoneMatch: true }),
      store().put('race.bin', Readable.from([Buffer.from('second')]), { ifNoneMatch: true }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const reason = (lost[0] as PromiseRejectedResult).reason as { code: string; message: string };
    expect(reason.code).toBe('ERR_IO_EXISTS');
    expect(reason.message).toBe(`Cannot write ${where('race.bin')}: it already exists.`);
    const text = (await readStream(await store().get('race.bin'))).toString();
    expect(text).toBe(results[0]?.status === 'fulfilled' ? 'first' : 'second');
    expect(await codeOf(store().put('race.bin', Buffer.from('x'), { ifNoneMatch: true }))).toBe(
      'ERR_IO_EXISTS',
    );
    await store().put('race.bin', Buffer.from('replaced'));
    expect((await readStream(await store().get('race.bin'))).toString()).toBe('replaced');
  });

  it('leaves nothing visible when a streamed put fails midway', async () => {
    async function* failing() {
      for (let i = 0; i < 10; i++) yield randomBytes(1024 * 1024);
      throw new Error('source broke');
    }
    await expect(store().put('killed/upload', Readable.from(failing()))).rejects.toThrow(/source broke/);
    expect(await store().stat('killed/upload')).toBeUndefined();
    expect(await store().list('killed/')).toEqual([]);
  });

  it('writes positionally in any order, showing nothing until commit', async () => {
    const body = randomBytes(9 * 1024 * 1024 + 123);
    const head = randomBytes(4096);
    const out = await store().create('pos/sealed.bin', { metadata: { kind: 'model' } });
    // Body first in uneven pieces, the header at offset 0 last: how a sealed file is written.
    for (let at = 0; at < body.length; at += 700_001)
      await out.write(body.subarray(at, at + 700_001), head.length + at);
    await out.write(head, 0);
    expect(await store().stat('pos/sealed.bin')).toBeUndefined();
    const done = await out.commit();
    expect(done.size).toBe(head.length + body.length);
    const back = await readStream(await store().get('pos/sealed.bin'));
    expect(back.equals(Buffer.concat([head, body]))).toBe(true);
    expect(await store().stat('pos/sealed.bin')).toEqual({
      size: back.length,
      etag: done.etag,
      metadata: { kind: 'model' },
    });
  });

  it('takes concurrent writes in any order, as the sealing engine issues them', async () => {
    const whole = randomBytes(12 * 1024 * 1024 + 999);
    const piece = 600_000;
    const starts = Array.from({ length: Math.ceil(whole.length / piece) }, (_, i) => i * piece);
    for (let i = starts.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [starts[i], starts[j]] = [starts[j] ?? 0, starts[i] ?? 0];
    }
    const out = await store().create('pos/concurrent.bin');
    await Promise.all(starts.map((at) => out.write(whole.subarray(at, at + piece), at)));
    await out.commit();
    expect((await readStream(await store().get('pos/concurrent.bin'))).equals(whole)).toBe(true);
  });

  it('an aborted writer leaves nothing, and a conditional create is refused before any byte', async () => {
    const out = await store().create('pos/aborted.bin');
    await out.write(randomBytes(5 * 1024 * 1024), 0);
    await out.abort();
    expect(await store().stat('pos/aborted.bin')).toBeUndefined();
    await store().put('pos/taken.bin', Buffer.from('kept'));
    const refused = await codeOf(store().create('pos/taken.bin', { ifNoneMatch: true }));
    expect(refused).toBe('ERR_IO_EXISTS');
    // Two writers that both started before either finished: the first commit wins, the other fails.
    const a = await store().create('pos/race.bin', { ifNoneMatch: true });
    const b = await store().create('pos/race.bin', { ifNoneMatch: true });
    await a.write(Buffer.from('writer a'), 0);
    await b.write(Buffer.from('writer b'), 0);
    await a.commit();
    expect(await codeOf(b.commit())).toBe('ERR_IO_EXISTS');
    expect((await readStream(await store().get('pos/race.bin'))).toString()).toBe('writer a');
    expect((await readStream(await store().get('pos/taken.bin'))).toString()).toBe('kept');
  });

  it('lists by prefix and deletes', async () => {
    for (const p of ['ls/a/1', 'ls/a/2', 'ls/b', 'lsx']) await store().put(p, Buffer.from(p));
    expect(await store().list('ls/')).toEqual(['ls/a/1', 'ls/a/2', 'ls/b']);
    expect(await store().list('ls/a')).toEqual(['ls/a/1', 'ls/a/2']);
    await store().delete('ls/a/1');
    expect(await store().list('ls/')).toEqual(['ls/a/2', 'ls/b']);
    expect(await store().stat('ls/a/1')).toBeUndefined();
  });

  it('reports a missing artifact as ERR_IO_NOT_FOUND naming it', async () => {
    expect(await store().stat('missing/x')).toBeUndefined();
    for (const op of [
      () => store().get('missing/x'),
      () => store().getRange('missing/x', 0, 1),
      () => store().delete('missing/x'),
    ]) {
      const error = await rejectsWith(op(), 'ERR_IO_NOT_FOUND');
      expect(error.message).toContain(where('missing/x'));
    }
  });

  it('refuses paths that escape or are malformed, and bad metadata', async () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a\0b', '', 'a//b', 'a\\b']) {
      expect(await codeOf(store().put(bad, Buffer.from('x')))).toBe('ERR_USAGE_INVALID');
      expect(await codeOf(store().get(bad))).toBe('ERR_USAGE_INVALID');
    }
    expect(await codeOf(store().put('m', Buffer.from('x'), { metadata: { 'Bad-Key': 'v' } }))).toBe(
      'ERR_USAGE_INVALID',
    );
    expect(await codeOf(store().put('m', Buffer.from('x'), { metadata: { k: 'é' } }))).toBe(
      'ERR_USAGE_INVALID',
    );
    expect(await store().stat('m')).toBeUndefined();
  });
}
