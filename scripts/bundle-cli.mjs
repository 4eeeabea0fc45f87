#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/index.js and everything it imports, its lazily loaded
// commands as chunks of their own) into dist/bundle/, which bin/sealtrain.js loads. Node 20 pays
// for every ES module it resolves and links: unbundled, `sealtrain train` loads some 600 files
// (zod, jose and the Azure SDK are hundreds of small modules) and starts about 0.3 s later.
// Runs after `tsc` in `npm run build`. The new bundle is written beside the old one and swapped in.
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'bundle');
const fresh = `${target}.${process.pid}.tmp`;
const stale = `${target}.${process.pid}.old`;

/**
 * Left to Node at run time: packages that load files next to their own (a native addon, a
 * WebAssembly module), and those the sources load with `createRequire` on purpose (see each).
 */
export const EXTERNAL = [
  'pkcs11js', // build/Release/pkcs11.node
  '@resvg/resvg-js', // a native addon per platform (src/monitor/internal/chart-png.ts)
  '@cdktf/hcl2json', // main.wasm.gz beside its lib/
  '@azure/storage-blob', // loaded when a blob store opens (src/store/blob-store.ts)
  'protobufjs', // loaded when a model is exported to ONNX (src/train/export-onnx.ts)
  'onnxruntime-node', // tests and benchmarks only
];

const external = (id) =>
  id.startsWith('node:') || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`));

try {
  await rm(fresh, { recursive: true, force: true });
  await build({
    input: { cli: join(root, 'dist', 'cli', 'index.js') },
    platform: 'node',
    external,
    logLevel: 'warn',
    onLog(level, log, handle) {
      // Any import left unresolved would fail only when that command runs: stop here instead.
      if (log.code === 'UNRESOLVED_IMPORT') handle('error', log);
      else handle(level, log);
    },
    output: {
      dir: fresh,
      format: 'esm',
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
    },
  });
  await rename(target, stale).catch((error) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(fresh, target);
  await rm(stale, { recursive: true, force: true });
} catch (error) {
  await rm(fresh, { recursive: true, force: true });
  process.stderr.write(`bundle-cli: ${error.message ?? error}\n`);
  process.exit(1);
}
