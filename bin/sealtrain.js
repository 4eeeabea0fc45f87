#!/usr/bin/env node
// Sealing keeps several ~4 MiB batches in flight on libuv's pool next to file reads and
// writes; the default of 4 threads would make them queue behind each other.
process.env.UV_THREADPOOL_SIZE ??= '8';
const { main } = await import('../dist/cli/index.js');
process.exitCode = await main(process.argv.slice(2));
