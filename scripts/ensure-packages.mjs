#!/usr/bin/env node
// Installs the Debian packages the test suite drives for real (swtpm and tpm2-tools for the vTPM
// tests, softhsm2 for the PKCS#11 tests, dataset-fashion-mnist for the IDX reader,
// fonts-dejavu-core for the text of chart PNGs, chromium for the run report opened in a browser,
// and, as root only, gdb for the stacks the stall watch prints of a test process stuck for good)
// when a command or file they provide is missing. Runs before `npm test`. As root it installs them
// with apt-get; otherwise it says which command to run. It never lets a suite skip silently.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each command (on PATH) or file (an absolute path) the tests use, and the Debian package that ships it. */
const NEEDED = [
  { command: 'swtpm', pkg: 'swtpm' },
  { command: 'swtpm_setup', pkg: 'swtpm-tools' },
  { command: 'tpm2_startup', pkg: 'tpm2-tools' },
  { command: 'softhsm2-util', pkg: 'softhsm2' },
  { file: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz', pkg: 'dataset-fashion-mnist' },
  { file: '/usr/bin/chromium', pkg: 'chromium' },
  { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', pkg: 'fonts-dejavu-core' },
  // Only for the stall watch's stacks: installed as root, named otherwise, never required.
  { command: 'gdb', pkg: 'gdb', optional: true },
];

function present(need) {
  if (need.file === undefined) return onPath(need.command);
  try {
    accessSync(need.file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const packagesOf = (needs) => [...new Set(needs.map((n) => n.pkg))];
const absent = NEEDED.filter((n) => !present(n));
const missing = packagesOf(absent);
const required = packagesOf(absent.filter((n) => !n.optional));
const optional = packagesOf(absent.filter((n) => n.optional));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  if (optional.length > 0)
    console.error(
      `Without ${optional.join(', ')}, a stuck test is reported without its stacks (sudo apt-get install -y ${optional.join(' ')}).`,
    );
  if (required.length > 0) {
    console.error(
      `The tests need Debian packages that are missing: ${required.join(', ')}.\n` +
        `Install them with: sudo apt-get install -y ${required.join(' ')}`,
    );
    process.exit(1);
  }
} else if (missing.length > 0) {
  console.error(`Installing Debian packages the tests need: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  const still = NEEDED.filter((n) => !present(n)).map((n) => n.command ?? n.file);
  if (still.length > 0) {
    console.error(
      `Installed ${missing.join(', ')} but these commands or files are still missing: ${still.join(', ')}`,
    );
    process.exit(1);
  }
}
