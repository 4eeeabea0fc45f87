// PyTorch anchor for the training benchmark: runs bench/train_torch.py with Debian's Python
// (python3-torch lives in /usr/lib/python3/dist-packages, which another python3 on PATH may not
// see) and reads the one JSON line it prints.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter, named in full: a python3 earlier on PATH may lack torch. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../train_torch.py', import.meta.url));
/** python3-torch, and OpenBLAS: without it torch falls back to the reference libblas3, 10× slower. */
const PACKAGES = ['python3-torch', 'libopenblas0-pthread'];
const PROBE =
  'import os, torch\n' +
  'maps = open("/proc/self/maps").read()\n' +
  'print(torch.__version__, "openblas" in maps)';

/** `{ ok, version, openblas }` for Debian's Python: whether torch imports and which BLAS it loads. */
function probe() {
  try {
    const out = execFileSync(PYTHON, ['-c', PROBE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [version, openblas] = out.trim().split(' ');
    return { ok: true, version, openblas: openblas === 'True' };
  } catch {
    return { ok: false, version: undefined, openblas: false };
  }
}

/**
 * Makes sure Debian's Python imports torch and that torch runs on OpenBLAS. As root, installs
 * what is missing with apt-get; otherwise throws with the command to run. Returns the torch
 * version.
 *
 * @returns {string}
 */
export function ensureTorch() {
  let state = probe();
  if (state.ok && state.openblas) return state.version;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const command = `apt-get install -y ${PACKAGES.join(' ')}`;
  if (!isRoot) {
    throw new Error(
      state.ok
        ? `PyTorch in ${PYTHON} runs on the reference BLAS, which would make a slow anchor; install OpenBLAS with: sudo ${command}`
        : `The PyTorch anchor needs torch in ${PYTHON}; install it with: sudo ${command}`,
    );
  }
  process.stderr.write(`Installing Debian packages for the PyTorch anchor: ${PACKAGES.join(', ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // apt's output goes to stderr, so a bench's stdout stays one JSON line.
  const stdio = ['ignore', 2, 2];
  execFileSync('apt-get', ['update', '-q'], { stdio, env });
  execFileSync('apt-get', ['install', '-y', '-q', ...PACKAGES], { stdio, env });
  state = probe();
  if (!state.ok) throw new Error(`Installed ${PACKAGES.join(', ')} but ${PYTHON} still cannot import torch.`);
  if (!state.openblas)
    throw new Error(`Installed ${PACKAGES.join(', ')} but torch still does not load OpenBLAS.`);
  return state.version;
}

/**
 * Times one epoch (60,000 samples) of the benchmark's MLP in PyTorch at `batch`, on two torch
 * threads with single-threaded OpenBLAS, and returns the script's figures:
 * `{ batch, samples, seconds, samples_per_second, torch_version, threads, blas }`.
 *
 * @param {number} batch
 * @param {{ dataDir?: string, flushDenormal?: boolean }} [options] `dataDir`: the folder of the IDX
 *   gzip files; `flushDenormal`: `torch.set_flush_denormal(True)` first (PyTorch's default is off).
 */
export function torchEpoch(batch, options = {}) {
  const args = [
    SCRIPT,
    String(batch),
    ...(options.dataDir === undefined ? [] : [options.dataDir]),
    ...(options.flushDenormal === true ? ['--flush-denormal'] : []),
  ];
  const out = execFileSync(PYTHON, args, {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line);
  if (typeof result.samples_per_second !== 'number') {
    throw new Error(`Unexpected output from ${SCRIPT}: ${line}`);
  }
  return result;
}
