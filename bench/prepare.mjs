// `sealtrain prepare` throughput and memory beside its anchors, all measured in this run on the
// same synthetic CSV (bench/lib/prepare-data.mjs: N rows × 30 columns, 28 numeric features with
// a few missing values, a 5-level category, a 3-class label; the declared schema z-scores the
// numbers, imputes the missing ones with the median and one-hot encodes the category):
//   wc -l over the file (the floor: reading the bytes and finding the line ends)
//   csv-parse over the file with the options readCsv uses, counting records and nothing else
//   prepareDataset of the file into a fresh folder, plain and sealed (a static key), and of its
//   first N/10 rows, so the memory that grows with the rows shows
// Each runs in a fresh process (peak RSS is per process: GNU time's %M, else the child's
// maxRSS), on a warm page cache, one after the other. The CSV is generated once (its time is
// reported, in no ratio) and kept in $BENCH_DIR (default: the OS temp folder) only with --keep.
//
// What prepare keeps in memory per row (prepareDataset's doc comment in src/data/prepare.ts, and
// docs/data.md, "Memory"): the validated rows as float32 until they are written (4 bytes per
// feature value: 29 × 4 = 116 bytes here), 12 bytes per row for the label, the input row number
// and the split, and the 8-byte exact-duplicate key made while reading; while the checks run, the
// near-duplicate keys (8 bytes) and the grouping of one set of keys (16 bytes: keys partitioned
// into cache-sized buckets, and a group id per row). That is about 140 to 160 bytes a row at the
// peak. While the file is read, the second parse thread's batches of a split file (about 130
// bytes a row here) wait for the first half's rows to be read; the writers keep nothing per row.
// `prepare_rss_mib_per_million_rows` is the measured growth, from the peaks at N and N/10 rows
// (below 32 MiB, the N/10 file is parsed by one thread).
//
// Options: --rows N (or BENCH_ROWS; default 10,000,000), --json, --keep (keep the CSVs and the
// outputs), --no-seal (skip the sealed run), --profile (one more prepare of the N-row file under
// node --cpu-prof, not timed, and the functions with the most self time), --timeout-min M (give
// up on a child after M minutes; default 30). `--json`: the last stdout line is one object with
// every figure, every anchor and `ratios`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topSelfTime } from './lib/cpu-profile.mjs';
import { benchSchema, CSV_COLUMNS, csvPath, ensureCsv } from './lib/prepare-data.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const json = flag('--json');
const keep = flag('--keep');
const sealRun = !flag('--no-seal');
const profileRun = flag('--profile');
const ROWS = Number(option('--rows') ?? process.env.BENCH_ROWS ?? 10_000_000);
const TIMEOUT_MS = Number(option('--timeout-min') ?? 30) * 60_000;
if (!Number.isSafeInteger(ROWS) || ROWS < 100_000) {
  process.stderr.write('bench prepare: --rows must be an integer ≥ 100000\n');
  process.exit(2);
}
const TENTH = Math.round(ROWS / 10);
const REPS = 2; // anchors: the better of two runs (the machine may be shared); prepare runs once
const MiB = 1024 ** 2;
const log = (s) => process.stderr.write(`${s}\n`);
const round = (x, digits = 3) => (x === undefined || x === null ? x : Number(x.toFixed(digits)));
const CHILD = fileURLToPath(new URL('./lib/prepare-child.mjs', import.meta.url));
const dir = process.env.BENCH_DIR ?? join(tmpdir(), 'sealtrain-bench-prepare');
mkdirSync(dir, { recursive: true });

/** GNU time, installed with apt-get when missing and root; undefined when not to be had. */
function gnuTime() {
  const path = '/usr/bin/time';
  const works = () => {
    try {
      execFileSync(path, ['-f', '%M', 'true'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync(path) && works()) return path;
  if (process.getuid?.() === 0) {
    log('installing the Debian package time (GNU time) for peak RSS');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'time'], { stdio: ['ignore', 2, 2], env });
      if (works()) return path;
    } catch {
      // Fall through: the children report their own maxRSS.
    }
  }
  log('GNU time is not available: peak RSS from the children themselves, none for wc -l');
  return undefined;
}

const TIME = gnuTime();
let running; // the process group of the child in flight, for Ctrl-C and timeouts

/** Stops a child's process group: SIGTERM (prepare then removes its partial output), SIGKILL after 10 s. */
function stop(group) {
  const kill = (signal) => {
    try {
      process.kill(-group, signal);
    } catch {}
  };
  kill('SIGTERM');
  setTimeout(() => kill('SIGKILL'), 10_000).unref();
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (running !== undefined) stop(running);
    log(`bench prepare: interrupted by ${signal}`);
    cleanUp();
    process.exit(130);
  });
}

/**
 * Runs `command args` in its own process group under GNU time; resolves with its stdout, wall
 * seconds and peak RSS (KiB, when GNU time measured it). Kills the group after TIMEOUT_MS.
 */
function measure(command, commandArgs, label = command) {
  const rusage = join(dir, 'time.out');
  rmSync(rusage, { force: true });
  const [file, argv] = TIME
    ? [TIME, ['-f', '%e %M', '-o', rusage, command, ...commandArgs]]
    : [command, commandArgs];
  execFileSync('sync'); // no writeback of an earlier run's output during this one
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(file, argv, {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
      // As bin/sealtrain.js sets it: sealing keeps several batches in flight on libuv's pool.
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '8' },
    });
    running = child.pid;
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s) => {
      stdout += s;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      log(`bench prepare: ${label} ran past ${TIMEOUT_MS / 60_000} min; stopping it`);
      stop(child.pid);
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running = undefined;
      const wall = Number(process.hrtime.bigint() - t) / 1e9;
      if (timedOut) return reject(new Error(`${label} timed out after ${TIMEOUT_MS / 60_000} min`));
      if (code !== 0) return reject(new Error(`${label} exited with ${code ?? 'a signal'}`));
      let maxRssKib;
      if (TIME && existsSync(rusage)) {
        const [, kib] = readFileSync(rusage, 'utf8').trim().split('\n').pop().split(' ');
        maxRssKib = Number(kib);
      }
      resolve({ stdout, wall, maxRssKib });
    });
  });
}

/** A node child of prepare-child.mjs: its JSON line, with peak RSS in MiB (GNU time's, else its own). */
async function nodeChild(childArgs, nodeFlags = []) {
  const label = `${childArgs[0]} of ${childArgs[1]}`;
  const r = await measure(process.execPath, [...nodeFlags, CHILD, ...childArgs], label);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  return { ...out, wall: r.wall, peak_rss_mib: (r.maxRssKib ?? out.max_rss_kb) / 1024 };
}

async function wcLines(path) {
  const r = await measure('wc', ['-l', path]);
  return {
    secs: r.wall,
    rows: Number(r.stdout.trim().split(/\s+/)[0]) - 1,
    peak_rss_mib: r.maxRssKib === undefined ? undefined : r.maxRssKib / 1024,
  };
}

async function best(fn) {
  let winner;
  for (let i = 0; i < REPS; i++) {
    const r = await fn();
    if (winner === undefined || r.secs < winner.secs) winner = r;
  }
  return winner;
}

/** prepareDataset of `csv` into a fresh folder; the folder is removed after unless --keep. */
async function prepare(csv, name, extra = [], nodeFlags = []) {
  const out = join(dir, name);
  rmSync(out, { recursive: true, force: true });
  const r = await nodeChild(['prepare', csv, out, schemaFile, ...extra], nodeFlags);
  if (!keep) rmSync(out, { recursive: true, force: true });
  return r;
}

function figures(prefix, r, bytes) {
  return {
    [`${prefix}_secs`]: round(r.secs),
    [`${prefix}_rows_per_s`]: Math.round(r.rows / r.secs),
    [`${prefix}_mb_per_s`]: round(bytes / r.secs / 1e6, 1),
    [`${prefix}_peak_rss_mib`]: r.peak_rss_mib === undefined ? null : Math.round(r.peak_rss_mib),
    // CPU seconds of the child (user + system): well above `secs` means its threads were busy
    // (GC, libuv); well below, that the machine was shared.
    ...(r.cpu_secs !== undefined ? { [`${prefix}_cpu_secs`]: round(r.cpu_secs, 2) } : {}),
  };
}

/** The commit measured, with `+` when the working tree has changes; null outside a checkout. */
function commit() {
  try {
    const git = (...a) => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const head = git('rev-parse', '--short', 'HEAD').trim();
    return git('status', '--porcelain', '--untracked-files=no').trim() === '' ? head : `${head}+`;
  } catch {
    return null;
  }
}

/** Logs one measurement from its figures. */
function show(what, prefix, f) {
  const at = (k) => f[`${prefix}_${k}`];
  log(
    `${what.padEnd(16)} ${at('secs').toFixed(2).padStart(8)} s ${String(at('rows_per_s')).padStart(10)} rows/s ` +
      `${at('mb_per_s').toFixed(1).padStart(7)} MB/s   peak RSS ${at('peak_rss_mib') ?? '?'} MiB`,
  );
}

function showPhases({ phases: p }) {
  const s = (x) => `${x.toFixed(1)} s`;
  log(
    `  start ${s(p.start_secs)}, read ${s(p.read_secs)}, split/fit/checks ${s(p.analyse_secs)}, write ${s(p.write_secs)}, finish ${s(p.finish_secs)}`,
  );
}

function phaseFigures(prefix, r) {
  return Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [`${prefix}_${k}`, round(v, 2)]));
}

/** The steps of prepareDataset whose inclusive time the profile reports (src/data). */
const PROFILED_STEPS = [
  'csvRowsInWorker',
  'ingest',
  'convertValue',
  'stratifiedSplit',
  'fitTransform',
  'fitColumns',
  'runChecks',
  'groupKeys',
  'countDuplicates',
  'quantised',
  'writeSplit',
  'hashPath',
  'lineageManifest',
];

const generated = [];
const schemaFile = join(dir, 'prepare.schema.json');

/** Removes what this run made in `dir` (all of it unless --keep), and `dir` when left empty. */
function cleanUp() {
  if (!keep) {
    for (const path of generated) {
      for (const suffix of ['', '.json', '.partial']) rmSync(`${path}${suffix}`, { force: true });
    }
    rmSync(schemaFile, { force: true });
  }
  rmSync(join(dir, 'time.out'), { force: true });
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    // Outputs of runs stopped before they finished (prepare's temporary folders), and --keep's.
    const partial = /^\.out-.*\.partial-/.test(name);
    if (partial || (!keep && (name.startsWith('out-') || name === 'cpu-profile')))
      rmSync(join(dir, name), { recursive: true, force: true });
  }
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
}
try {
  // Room for the CSVs (about 230 bytes a row, N and N/10) and one output (about 130 a row).
  const need = Math.round(ROWS * (230 * 1.1 + 140) * 1.1);
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize < need) {
    throw new Error(
      `${dir} has ${((bavail * bsize) / 1e9).toFixed(1)} GB free; ${ROWS} rows need about ${(need / 1e9).toFixed(1)} GB (set BENCH_DIR or --rows)`,
    );
  }
  log(
    `sealtrain prepare benchmark: ${ROWS.toLocaleString('en')} rows × ${CSV_COLUMNS.length} columns; ` +
      `${availableParallelism()} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, load ${loadavg()[0].toFixed(2)}; in ${dir}`,
  );
  writeFileSync(schemaFile, `${JSON.stringify(benchSchema(), null, 2)}\n`);
  generated.push(csvPath(dir, ROWS), csvPath(dir, TENTH));
  const big = await ensureCsv(dir, ROWS, log);
  const tenth = await ensureCsv(dir, TENTH, log);

  log('warming the page cache (wc -l, untimed)');
  await wcLines(big.path);
  await wcLines(tenth.path);

  const anchors = {};
  const wc = await best(() => wcLines(big.path));
  Object.assign(anchors, figures('wc_l', wc, big.bytes));
  show('wc -l', 'wc_l', anchors);
  const parse = await best(() => nodeChild(['csv-parse', big.path, String(CSV_COLUMNS.length)]));
  if (parse.rows !== ROWS) throw new Error(`csv-parse counted ${parse.rows} rows, not ${ROWS}`);
  Object.assign(anchors, figures('csv_parse', parse, big.bytes));
  show('csv-parse', 'csv_parse', anchors);

  const ours = {};
  const small = await prepare(tenth.path, 'out-tenth');
  Object.assign(ours, { prepare_tenth_rows: small.rows }, figures('prepare_tenth', small, tenth.bytes));
  show(`prepare ${TENTH / 1e6}M`, 'prepare_tenth', ours);
  const plain = await prepare(big.path, 'out-plain');
  Object.assign(ours, figures('prepare', plain, big.bytes), phaseFigures('prepare', plain), {
    prepare_features_out: plain.features_out,
    prepare_cells_imputed: plain.cells_imputed,
    prepare_output_mib: Math.round(plain.output_bytes / MiB),
    prepare_rss_after_read_mib: plain.memory.after_read?.rss_mib ?? null,
    prepare_heap_after_read_mib: plain.memory.after_read?.heap_used_mib ?? null,
    prepare_rss_at_first_write_mib: plain.memory.at_first_write?.rss_mib ?? null,
    prepare_heap_at_first_write_mib: plain.memory.at_first_write?.heap_used_mib ?? null,
    prepare_rss_mib_per_million_rows: round(
      (plain.peak_rss_mib - small.peak_rss_mib) / ((plain.rows - small.rows) / 1e6),
      1,
    ),
  });
  show('prepare', 'prepare', ours);
  showPhases(plain);
  log(`  memory (MiB): ${JSON.stringify(plain.memory)}`);
  if (sealRun) {
    const sealed = await prepare(big.path, 'out-sealed', ['--seal']);
    Object.assign(ours, figures('prepare_sealed', sealed, big.bytes), phaseFigures('prepare_sealed', sealed));
    show('prepare sealed', 'prepare_sealed', ours);
    showPhases(sealed);
  }

  let profile;
  if (profileRun) {
    const profDir = join(dir, 'cpu-profile');
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir);
    log('profiling one more prepare (node --cpu-prof, not timed)');
    await prepare(big.path, 'out-profile', [], ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    profile = topSelfTime(join(profDir, file), 15, PROFILED_STEPS);
    log(`self time by file (of ${profile.total_ms} ms sampled):`);
    for (const f of profile.files) log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.file}`);
    log('inclusive time of the steps:');
    for (const f of profile.inclusive) log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.fn}`);
    log('self time by function:');
    for (const f of profile.functions) log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.fn}  ${f.at}`);
    if (keep) log(`profile kept in ${profDir}`);
    else rmSync(profDir, { recursive: true, force: true });
  }

  const ratios = {
    vs_csv_parse: round(ours.prepare_rows_per_s / anchors.csv_parse_rows_per_s),
    vs_wc_l: round(ours.prepare_rows_per_s / anchors.wc_l_rows_per_s),
    tenth_vs_csv_parse: round(ours.prepare_tenth_rows_per_s / anchors.csv_parse_rows_per_s),
    csv_parse_vs_wc_l: round(anchors.csv_parse_rows_per_s / anchors.wc_l_rows_per_s),
    ...(sealRun
      ? {
          sealed_vs_csv_parse: round(ours.prepare_sealed_rows_per_s / anchors.csv_parse_rows_per_s),
          sealed_vs_plain: round(ours.prepare_sealed_rows_per_s / ours.prepare_rows_per_s),
        }
      : {}),
  };
  log(`prepare rows/s ÷ csv-parse rows/s: ${ratios.vs_csv_parse} (target ≥ 0.5); ÷ wc -l: ${ratios.vs_wc_l}`);
  log(`prepare peak RSS grows ${ours.prepare_rss_mib_per_million_rows} MiB per million rows`);
  for (const [k, v] of Object.entries(ratios)) log(`${k.padEnd(22)} ${v}`);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        bench: 'prepare',
        rows: ROWS,
        columns: CSV_COLUMNS.length,
        file_bytes: big.bytes,
        generate_secs: big.generated ? round(big.secs, 2) : null,
        commit: commit(),
        peak_rss_from: TIME ? 'gnu-time' : 'child-maxrss',
        load_1m: round(loadavg()[0], 2),
        ...anchors,
        ...ours,
        ...(profile !== undefined ? { profile } : {}),
        ratios,
      })}\n`,
    );
  }
} finally {
  cleanUp();
}
