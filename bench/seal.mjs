// Sealing throughput beside its anchors, all measured in this run:
//   in-memory seal/unseal  vs  openssl speed -evp aes-256-gcm (1 and 2 threads)
//   file → file seal/unseal (1 GiB, warm cache)  vs  cp  and  openssl dgst -sha256
//   rewrap of the 1 GiB file (header only)
// `--json`: the last stdout line is one object with every figure, every anchor and `ratios`.
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  chunkCipher,
  rewrapFile,
  sealBuffer,
  sealFile,
  unsealBuffer,
  unsealFile,
} from '../dist/seal/index.js';
import { staticProvider } from '../test/vectors/static-provider.mjs';

process.env.UV_THREADPOOL_SIZE ??= '8';
const json = process.argv.includes('--json');
const GiB = 1024 ** 3;
const FILE_SIZE = Number(process.env.BENCH_FILE_BYTES ?? GiB);
const MEM_SIZE = 256 * 1024 ** 2;
const REPS = 3;
const log = (s) => process.stderr.write(`${s}\n`);
const gbps = (bytes, secs) => bytes / secs / 1e9;
const round = (x) => Math.round(x * 1000) / 1000;

// Every timed run starts with no dirty pages (sync), so one run's writeback does not slow the next.
async function best(fn) {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPS; i++) {
    execFileSync('sync');
    const t = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

function opensslSpeed(threads) {
  const args = [
    'speed',
    ...(threads > 1 ? ['-multi', String(threads)] : []),
    '-seconds',
    '3',
    '-bytes',
    '16384',
    '-evp',
    'aes-256-gcm',
  ];
  const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const line =
    out
      .trim()
      .split('\n')
      .filter((l) => /aes-256-gcm/i.test(l))
      .pop() ?? '';
  const k = Number(line.trim().split(/\s+/).pop()?.replace(/k$/, ''));
  return (k * 1000) / 1e9;
}

const dir = join(process.cwd(), '.bench-tmp');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const providers = [staticProvider({ bench: { 1: Buffer.alloc(32, 7) }, other: { 1: Buffer.alloc(32, 9) } })];
const src = join(dir, 'plain.bin');
try {
  log(
    `sealtrain seal benchmark: ${availableParallelism()} cores, chunk cipher ${chunkCipher().name}, file ${FILE_SIZE / GiB} GiB`,
  );
  const fd = openSync(src, 'w');
  const block = Buffer.allocUnsafe(64 * 1024 ** 2);
  for (let done = 0; done < FILE_SIZE; done += block.length)
    writeSync(fd, randomFillSync(block), 0, Math.min(block.length, FILE_SIZE - done));
  closeSync(fd);
  readFileSync(src); // warm the page cache

  const anchors = {};
  anchors.openssl_aes256gcm_1t_gbps = opensslSpeed(1);
  anchors.openssl_aes256gcm_2t_gbps = opensslSpeed(2);
  anchors.cp_gbps = gbps(FILE_SIZE, await best(() => execFileSync('cp', [src, join(dir, 'copy.bin')])));
  const copy = join(dir, 'copy.bin');
  anchors.cp_fsync_gbps = gbps(
    FILE_SIZE,
    await best(() => execFileSync('sh', ['-c', 'cp "$0" "$1" && sync "$1"', src, copy])),
  );
  anchors.openssl_sha256_gbps = gbps(
    FILE_SIZE,
    await best(() => execFileSync('openssl', ['dgst', '-sha256', src])),
  );
  rmSync(join(dir, 'copy.bin'));
  log(`anchors: ${JSON.stringify(anchors)}`);

  const ours = {};
  const mem = randomFillSync(Buffer.allocUnsafe(MEM_SIZE));
  const base = { recipients: ['local:bench'], providers };
  let sealed;
  const into = Buffer.alloc(MEM_SIZE + MEM_SIZE / 1024 + 65536);
  const plainInto = Buffer.alloc(MEM_SIZE);
  ours.mem_seal_reused_1core_gbps = gbps(
    MEM_SIZE,
    await best(() => sealBuffer(mem, { ...base, concurrency: 1, into })),
  );
  ours.mem_seal_reused_gbps = gbps(MEM_SIZE, await best(() => sealBuffer(mem, { ...base, into })));
  // Cache-resident, like openssl speed's 16 KiB buffer: 1 MiB sealed again and again into one output.
  const small = mem.subarray(0, 1024 * 1024);
  const smallInto = Buffer.alloc(2 * 1024 * 1024);
  ours.mem_seal_1mib_cached_1core_gbps = gbps(
    256 * small.length,
    await best(async () => {
      for (let i = 0; i < 256; i++) await sealBuffer(small, { ...base, concurrency: 1, into: smallInto });
    }),
  );
  const sealedInto = await sealBuffer(mem, { ...base, into });
  ours.mem_unseal_reused_1core_gbps = gbps(
    MEM_SIZE,
    await best(() => unsealBuffer(sealedInto, { providers, concurrency: 1, into: plainInto })),
  );
  ours.mem_unseal_reused_gbps = gbps(
    MEM_SIZE,
    await best(() => unsealBuffer(sealedInto, { providers, into: plainInto })),
  );
  ours.mem_seal_1core_gbps = gbps(
    MEM_SIZE,
    await best(async () => {
      sealed = await sealBuffer(mem, { ...base, concurrency: 1 });
    }),
  );
  ours.mem_seal_gbps = gbps(
    MEM_SIZE,
    await best(async () => {
      sealed = await sealBuffer(mem, base);
    }),
  );
  ours.mem_unseal_1core_gbps = gbps(
    MEM_SIZE,
    await best(() => unsealBuffer(sealed, { providers, concurrency: 1 })),
  );
  ours.mem_unseal_gbps = gbps(MEM_SIZE, await best(() => unsealBuffer(sealed, { providers })));
  const out = join(dir, 'plain.sealed');
  const back = join(dir, 'back.bin');
  ours.file_seal_gbps = gbps(FILE_SIZE, await best(() => sealFile(src, out, { ...base, overwrite: true })));
  ours.file_unseal_gbps = gbps(
    FILE_SIZE,
    await best(() => unsealFile(out, back, { providers, overwrite: true })),
  );
  const rewrapSecs = await best(() => rewrapFile(out, { providers, recipients: ['local:other'] }));
  ours.rewrap_1gib_ms = rewrapSecs * 1000;
  log(`ours: ${JSON.stringify(ours)}`);

  const o1 = anchors.openssl_aes256gcm_1t_gbps;
  const ratios = {
    mem_seal_1mib_cached_1core_vs_openssl_1t: ours.mem_seal_1mib_cached_1core_gbps / o1,
    mem_seal_reused_1core_vs_openssl_1t: ours.mem_seal_reused_1core_gbps / o1,
    mem_seal_reused_2cores_vs_openssl_1t: ours.mem_seal_reused_gbps / o1,
    mem_seal_reused_2cores_vs_openssl_2t: ours.mem_seal_reused_gbps / anchors.openssl_aes256gcm_2t_gbps,
    mem_unseal_reused_1core_vs_openssl_1t: ours.mem_unseal_reused_1core_gbps / o1,
    mem_unseal_reused_2cores_vs_openssl_1t: ours.mem_unseal_reused_gbps / o1,
    mem_seal_1core_vs_openssl_1t: ours.mem_seal_1core_gbps / o1,
    mem_seal_2cores_vs_openssl_1t: ours.mem_seal_gbps / o1,
    mem_seal_2cores_vs_openssl_2t: ours.mem_seal_gbps / anchors.openssl_aes256gcm_2t_gbps,
    mem_unseal_1core_vs_openssl_1t: ours.mem_unseal_1core_gbps / o1,
    mem_unseal_2cores_vs_openssl_1t: ours.mem_unseal_gbps / o1,
    file_seal_vs_cp: ours.file_seal_gbps / anchors.cp_gbps,
    file_seal_vs_cp_fsync: ours.file_seal_gbps / anchors.cp_fsync_gbps,
    file_unseal_vs_cp_fsync: ours.file_unseal_gbps / anchors.cp_fsync_gbps,
    file_unseal_vs_cp: ours.file_unseal_gbps / anchors.cp_gbps,
    file_seal_vs_sha256: ours.file_seal_gbps / anchors.openssl_sha256_gbps,
  };
  const r = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
  const table = [
    [
      'in-memory seal, 1 MiB cached, 1 core',
      ours.mem_seal_1mib_cached_1core_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_seal_1mib_cached_1core_vs_openssl_1t,
    ],
    [
      'in-memory seal, reused output, 1 core',
      ours.mem_seal_reused_1core_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_seal_reused_1core_vs_openssl_1t,
    ],
    [
      'in-memory seal, reused output, 2 cores',
      ours.mem_seal_reused_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_seal_reused_2cores_vs_openssl_1t,
    ],
    [
      'in-memory seal, reused output, 2 cores',
      ours.mem_seal_reused_gbps,
      'openssl 2 threads',
      anchors.openssl_aes256gcm_2t_gbps,
      ratios.mem_seal_reused_2cores_vs_openssl_2t,
    ],
    [
      'in-memory unseal, reused output, 1 core',
      ours.mem_unseal_reused_1core_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_unseal_reused_1core_vs_openssl_1t,
    ],
    [
      'in-memory seal, 1 core',
      ours.mem_seal_1core_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_seal_1core_vs_openssl_1t,
    ],
    [
      'in-memory seal, all cores',
      ours.mem_seal_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_seal_2cores_vs_openssl_1t,
    ],
    [
      'in-memory seal, all cores',
      ours.mem_seal_gbps,
      'openssl 2 threads',
      anchors.openssl_aes256gcm_2t_gbps,
      ratios.mem_seal_2cores_vs_openssl_2t,
    ],
    [
      'in-memory unseal, 1 core',
      ours.mem_unseal_1core_gbps,
      'openssl 1 thread',
      o1,
      ratios.mem_unseal_1core_vs_openssl_1t,
    ],
    ['file seal 1 GiB', ours.file_seal_gbps, 'cp', anchors.cp_gbps, ratios.file_seal_vs_cp],
    ['file unseal 1 GiB', ours.file_unseal_gbps, 'cp', anchors.cp_gbps, ratios.file_unseal_vs_cp],
    [
      'file seal 1 GiB (fsyncs)',
      ours.file_seal_gbps,
      'cp && sync (fsyncs)',
      anchors.cp_fsync_gbps,
      ratios.file_seal_vs_cp_fsync,
    ],
    [
      'file unseal 1 GiB (fsyncs)',
      ours.file_unseal_gbps,
      'cp && sync (fsyncs)',
      anchors.cp_fsync_gbps,
      ratios.file_unseal_vs_cp_fsync,
    ],
    [
      'file seal 1 GiB',
      ours.file_seal_gbps,
      'openssl dgst -sha256',
      anchors.openssl_sha256_gbps,
      ratios.file_seal_vs_sha256,
    ],
  ];
  for (const [what, v, anchor, a, ratio] of table) {
    log(
      `${what.padEnd(40)} ${v.toFixed(2).padStart(6)} GB/s   ${anchor.padEnd(22)} ${a.toFixed(2).padStart(6)} GB/s   ratio ${ratio.toFixed(2)}`,
    );
  }
  log(`rewrap of the ${FILE_SIZE / GiB} GiB file: ${ours.rewrap_1gib_ms.toFixed(1)} ms`);
  if (json)
    process.stdout.write(
      `${JSON.stringify({ bench: 'seal', engine: chunkCipher().name, file_bytes: FILE_SIZE, mem_bytes: MEM_SIZE, ...r(anchors), ...r(ours), ratios: r(ratios) })}\n`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
