import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/store/index.js';
import { codeOf, storeConformance } from './conformance.js';

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealtrain-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalFolderStore', () => {
  storeConformance(
    () => new LocalFolderStore(root),
    (p) => join(root, p),
  );

  it('reserves dot names and keeps temp and metadata files out of listings', async () => {
    const store = new LocalFolderStore(root);
    expect(await codeOf(store.put('.hidden', Buffer.from('x')))).toBe('ERR_USAGE_INVALID');
    expect(await codeOf(store.put('a/.x.meta.json', Buffer.from('x')))).toBe('ERR_USAGE_INVALID');
    await store.put('a/x', Buffer.from('x'), { metadata: { k: 'v' } });
    expect(await store.list()).toEqual(['a/x']);
    expect((await readdir(join(root, 'a'))).sort()).toEqual(['.x.meta.json', 'x']);
    await store.delete('a/x');
    expect(await readdir(join(root, 'a'))).toEqual([]);
  });

  it('a failed streamed put leaves nothing behind', async () => {
    const store = new LocalFolderStore(root);
    async function* failing() {
      yield Buffer.from('partial');
      throw new Error('source broke');
    }
    const { Readable } = await import('node:stream');
    await expect(store.put('f', Readable.from(failing()))).rejects.toThrow(/source broke/);
    expect(await readdir(root)).toEqual([]);
  });
});
