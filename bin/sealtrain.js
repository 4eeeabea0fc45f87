#!/usr/bin/env node
// Sealing keeps several ~4 MiB batches in flight on libuv's pool next to file reads and
// writes; the default of 4 threads would make them queue behind each other.
process.env.UV_THREADPOOL_SIZE ??= '8';
// One listener stays for the whole life of the process, so the OS's default action (die with no
// word and no cleanup) never applies:
// - while the CLI loads, nothing has been written yet: exit as an interrupt;
// - while a command runs, the command's own handlers decide (this one does nothing);
// - once the command has returned, its work is done: exit with its status.
let phase = 'loading';
const onSignal = (signal) => {
  if (phase === 'loading') {
    process.stderr.write(`sealtrain: interrupted by ${signal}.\n`);
    process.exit(130);
  }
  if (phase === 'done') process.exit();
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);
// The CLI as one bundle (scripts/bundle-cli.mjs, made by `npm run build`): it starts in a
// fraction of the time the ~600 modules it is built from take to load one by one.
const { main } = await import('../dist/bundle/cli.js');
phase = 'running';
process.exitCode = await main(process.argv.slice(2));
phase = 'done';
