#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/index.js and everything it imports, its lazily loaded
// commands as chunks of their own) into dist/bundle/, which bin/sealtrain.js loads. Node 20 pays
// for every ES module it resolves and links: unbundled, `sealtrain train` loads some 600 files
// (zod, jose and the Azure SDK are hundreds of small modules) and starts about 0.3 s later.
// Runs after `tsc` in `npm run build`. The new bundle is written beside the old one and swapped in.
// `bundle` also serves bench/confidential, which gives its plaintext anchor the same treatment.
import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Left to Node at run time: packages that load files next to their own (a native addon, a
 * WebAssembly module), and those the sources load with `createRequire` on purpose (see each).
 */
const EXTERNAL = [
  'pkcs11js', // build/Release/pkcs11.node
  '@resvg/resvg-js', // a native addon per platform (src/monitor/internal/chart-png.ts)
  '@cdktf/hcl2json', // main.wasm.gz beside its lib/
  '@azure/storage-blob', // loaded when a blob store opens (src/store/blob-store.ts)
  'protobufjs', // loaded when a model is exported to ONNX (src/train/export-onnx.ts)
  'onnxruntime-node', // tests and benchmarks only
  'open', // its xdg-open script beside it (the Azure SDK's interactive browser sign-in)
];

const external = (id) =>
  id.startsWith('node:') || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`));

/**
 * Bundles the ES module `entry` (and what it imports, lazily loaded modules as chunks) into the
 * folder `dir`, as `<name>.js`; the folder must lie inside the package, for the addons' paths.
 * Throws on any import it cannot resolve: that would fail only when the code reaching it runs.
 */
export async function bundle(entry, dir, name) {
  await build({
    input: { [name]: entry },
    platform: 'node',
    external,
    logLevel: 'warn',
    onLog(level, log, handle) {
      if (log.code === 'UNRESOLVED_IMPORT') handle('error', log);
      else handle(level, log);
    },
    output: { dir, format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
  });
}

/** Whether the process `pid` is still running (a build beside this one). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const target = join(root, 'dist', 'bundle');
  const fresh = `${target}.${process.pid}.tmp`;
  const stale = `${target}.${process.pid}.old`;
  try {
    // What a build that was killed left behind (never a running build's).
    for (const name of await readdir(join(root, 'dist'))) {
      const m = /^bundle\.(\d+)\.(tmp|old)$/.exec(name);
      if (m && !alive(Number(m[1]))) await rm(join(root, 'dist', name), { recursive: true, force: true });
    }
    await bundle(join(root, 'dist', 'cli', 'index.js'), fresh, 'cli');
    await rename(target, stale).catch((error) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(fresh, target);
    await rm(stale, { recursive: true, force: true });
  } catch (error) {
    // The previous bundle stays in place when the new one could not replace it.
    if (!existsSync(target) && existsSync(stale)) await rename(stale, target).catch(() => {});
    await rm(fresh, { recursive: true, force: true });
    process.stderr.write(`bundle-cli: ${error.message ?? error}\n`);
    process.exit(1);
  }
}
