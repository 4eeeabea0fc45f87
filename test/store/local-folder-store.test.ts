import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/store/index.js';
import { rejectsWith } from '../helpers/rejects.js';
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

  it('refuses symbolic links that lead out of the root, and follows those that stay inside', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'sealtrain-outside-'));
    try {
      await writeFile(join(outside, 'secret.txt'), 'outside the store');
      await symlink(outside, join(root, 'escape'));
      await symlink(join(outside, 'secret.txt'), join(root, 'leak'));
      const store = new LocalFolderStore(root);
      for (const op of [
        () => store.put('escape/planted', Buffer.from('x')),
        () => store.put('escape/new/deeper', Buffer.from('x')),
        () => store.get('leak'),
        () => store.getRange('leak', 0, 3),
        () => store.stat('escape/secret.txt'),
        () => store.delete('escape/secret.txt'),
      ]) {
        const error = await rejectsWith(op(), 'ERR_USAGE_INVALID');
        expect(error.message).toContain('symbolic link');
      }
      expect(await readdir(outside)).toEqual(['secret.txt']);
      expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('outside the store');
      await mkdir(join(root, 'real'));
      await symlink(join(root, 'real'), join(root, 'alias'));
      await store.put('alias/inside', Buffer.from('kept'));
      expect(await readFile(join(root, 'real', 'inside'), 'utf8')).toBe('kept');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
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
