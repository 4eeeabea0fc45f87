import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromFsError, SealtrainError } from '../errors/index.js';

// The package's own folder and manifest do not change while it runs: each is looked up once per
// process (a failed look-up is not kept, and is tried again next time).
const roots = new Map<string, string>();
const versions = new Map<string, Promise<string>>();

/**
 * The folder of the `sealtrain` package at or above `start`: its `package.json` names it. Works
 * for the TypeScript sources (`src/…`) and the compiled files (`dist/…`).
 */
export function findPackageRoot(start: string): string | undefined {
  const known = roots.get(start);
  if (known !== undefined) return known;
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readName(manifest) === 'sealtrain') {
      roots.set(start, dir);
      return dir;
    }
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

/**
 * The `version` in the `package.json` of the package that holds the module at `moduleUrl`
 * ('0.0.0' when it has none); the file cannot be read: the I/O error, naming it.
 */
export function packageVersion(moduleUrl: string): Promise<string> {
  let path: string;
  try {
    path = packageFile(moduleUrl, 'package.json');
  } catch (error) {
    return Promise.reject(error); // a promise on every path, as callers await it
  }
  let version = versions.get(path);
  if (version === undefined) {
    version = readVersion(path);
    versions.set(path, version);
    version.catch(() => versions.delete(path));
  }
  return version;
}

async function readVersion(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw fromFsError(error, 'read', path);
  });
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : '0.0.0';
}

/**
 * `load` (a {@link loadAddon} call) made a function that runs it once and keeps what it gave:
 * the addon, or undefined when it cannot load (the caller then falls back to JavaScript).
 */
export function optionalAddon<T>(load: () => T): () => T | undefined {
  let addon: T | null | undefined;
  return () => {
    if (addon === undefined) {
      try {
        addon = load();
      } catch {
        addon = null;
      }
    }
    return addon ?? undefined;
  };
}

/**
 * Loads a native addon of the package (`relative`, e.g. `build/Release/x.node`) and checks that it
 * has every function in `exports`; `what` names it in errors (ERR_INTERNAL: missing, not loadable,
 * or lacking an export). Callers keep the result: Node loads an addon once per process.
 */
export function loadAddon<T>(
  moduleUrl: string,
  relative: string,
  what: string,
  exports: readonly string[],
): T {
  const path = packageFile(moduleUrl, relative);
  let mod: unknown;
  try {
    mod = createRequire(moduleUrl)(path);
  } catch (cause) {
    throw new SealtrainError('ERR_INTERNAL', `Cannot load the ${what} ${path}.`, { cause });
  }
  const missing = exports.filter(
    (name) => typeof (mod as Record<string, unknown> | null)?.[name] !== 'function',
  );
  if (missing.length > 0) {
    throw new SealtrainError('ERR_INTERNAL', `The ${what} ${path} lacks ${missing.join(', ')}.`);
  }
  return mod as T;
}
