// The package's folder and version, looked up once per process: the answers stay those of the
// package's own manifest, and a folder outside any sealtrain package is still not taken for one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findPackageRoot, packageVersion } from '../../src/internal/package-root.js';

const root = join(import.meta.dirname, '..', '..');

describe('package root', () => {
  it('finds the package and its version, the same on every call', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(findPackageRoot(join(root, 'src', 'run'))).toBe(root);
    expect(findPackageRoot(join(root, 'src', 'run'))).toBe(root);
    const first = packageVersion(import.meta.url);
    expect(await first).toBe(manifest.version);
    // Looked up once: the same answer, not a second read.
    expect(packageVersion(import.meta.url)).toBe(first);
    expect(await packageVersion(pathToFileURL(join(root, 'src', 'run', 'x.js')).href)).toBe(manifest.version);
  });

  it('does not take a folder with another package.json for the sealtrain package', async () => {
    const other = await mkdtemp(join(tmpdir(), 'sealtrain-pkgroot-'));
    try {
      await writeFile(join(other, 'package.json'), JSON.stringify({ name: 'other', version: '9.9.9' }));
      expect(findPackageRoot(other)).toBeUndefined();
      // Named sealtrain now: found, as the first look-up was not kept.
      await writeFile(join(other, 'package.json'), JSON.stringify({ name: 'sealtrain', version: '9.9.9' }));
      expect(findPackageRoot(other)).toBe(other);
      expect(await packageVersion(pathToFileURL(join(other, 'm.js')).href)).toBe('9.9.9');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
