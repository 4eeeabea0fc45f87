import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SealtrainError } from '../errors/index.js';

/**
 * The folder of the `sealtrain` package at or above `start`: its `package.json` names it. Works
 * for the TypeScript sources (`src/…`) and the compiled files (`dist/…`).
 */
export function findPackageRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readName(manifest) === 'sealtrain') return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function readName(manifest: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}

/** The absolute path of `relative` inside the package that holds the module at `moduleUrl`. */
export function packageFile(moduleUrl: string, relative: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const root = findPackageRoot(here);
  if (root === undefined) {
    throw new SealtrainError('ERR_INTERNAL', `Cannot find the sealtrain package folder above ${here}.`);
  }
  return join(root, relative);
}
