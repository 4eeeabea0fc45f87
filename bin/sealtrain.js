#!/usr/bin/env node
// Sealing keeps several ~4 MiB batches in flight on libuv's pool next to file reads and
// writes; the default of 4 threads would make them queue behind each other.
process.env.UV_THREADPOOL_SIZE ??= '8';
// Ctrl-C while the CLI is still loading: nothing has been written yet, so exit as an interrupt.
const early = (signal) => {
  process.stderr.write(`sealtrain: interrupted by ${signal}.\n`);
  process.exit(130);
};
process.on('SIGINT', early);
process.on('SIGTERM', early);
const { main } = await import('../dist/cli/index.js');
process.off('SIGINT', early);
process.off('SIGTERM', early);
process.exitCode = await main(process.argv.slice(2));
