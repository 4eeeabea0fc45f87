// Micro-benchmark of the chunk ciphers (not a test): prints sealing throughput in GB/s (10^9 B/s).
// Build the addon first (`npx node-gyp rebuild`), then run `node native/seal/bench-gcm.mjs [seconds]`.
// Batches are 1 MiB of 64 KiB chunks (one row also 4 MiB); src and dst are allocated once and reused.
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.argv[2] ?? 2);
const CHUNK = 64 * 1024;
const BATCH = 1024 * 1024;
const CHUNKS = BATCH / CHUNK;
const TAG = 16;

const addonPath = fileURLToPath(new URL('../../build/Release/sealtrain_native.node', import.meta.url));
const gcm = createRequire(import.meta.url)(addonPath);
const key = randomBytes(32);

function buffers(size = BATCH) {
  const src = randomBytes(size);
  return { src, sealed: Buffer.alloc(size + (size / CHUNK) * TAG), plain: Buffer.alloc(size) };
}

/** Runs `step` (which processes `size` bytes) repeatedly for SECONDS after a short warm-up. */
async function measure(step, size = BATCH) {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) await step();
  let bytes = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  while (performance.now() < until) {
    await step();
    bytes += size;
  }
  return bytes / ((performance.now() - start) / 1000) / 1e9;
}

/** Like `measure`, with `lanes` async seals of `size` bytes in flight. */
async function sealParallel(lanes, size) {
  const all = Array.from({ length: lanes }, () => buffers(size));
  const step = (x) => () =>
    new Promise((ok, fail) =>
      gcm.sealChunksAsync(key, x.src, x.sealed, CHUNK, 0, false, (e) => (e ? fail(e) : ok())),
    );
  const rates = await Promise.all(all.map((x) => measure(step(x), size)));
  return rates.reduce((a, b) => a + b, 0);
}

/** What the `node` ChunkCipher does: one createCipheriv per chunk. */
function nodeSeal(src, dst, first) {
  for (let j = 0; j < CHUNKS; j++) {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(first + j, 7);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    const at = j * (CHUNK + TAG);
    dst.set(cipher.update(src.subarray(j * CHUNK, (j + 1) * CHUNK)), at);
    cipher.final();
    dst.set(cipher.getAuthTag(), at + CHUNK);
  }
}

/** `openssl speed` with `processes` processes (`-multi`), in GB/s. */
function opensslSpeed(processes = 1) {
  const multi = processes > 1 ? ['-multi', String(processes)] : [];
  const args = [...multi, '-evp', 'aes-256-gcm', '-seconds', String(SECONDS), '-bytes', '16384'];
  const run = spawnSync('openssl', ['speed', ...args], { encoding: 'utf8' });
  const line = run.stdout?.split('\n').find((l) => /^aes-256-gcm\s/i.test(l));
  const kb = line?.match(/([\d.]+)k\s*$/)?.[1];
  return kb === undefined ? undefined : (Number(kb) * 1000) / 1e9;
}

const b = buffers();
const seal = (x) => gcm.sealChunks(key, x.src, x.sealed, CHUNK, 0, false);
seal(b);
const rows = [
  ['native seal, sync', await measure(() => seal(b))],
  ['native open, sync', await measure(() => gcm.openChunks(key, b.sealed, b.plain, CHUNK, 0, false))],
  ['native seal, async, 2 in flight', await sealParallel(2, BATCH)],
  ['  same with 4 MiB batches', await sealParallel(2, 4 * BATCH)],
  ['node createCipheriv per chunk', await measure(() => nodeSeal(b.src, b.sealed, 0))],
  ['openssl speed (16 KiB, 1 thread)', opensslSpeed()],
  ['openssl speed (16 KiB, -multi 2)', opensslSpeed(2)],
];
console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}, ${SECONDS} s each`);
for (const [name, rate] of rows) {
  console.log(`${name.padEnd(36)} ${rate === undefined ? 'n/a' : `${rate.toFixed(2)} GB/s`}`);
}
