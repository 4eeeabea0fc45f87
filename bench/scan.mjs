// `sealtrain scan` throughput on a generated corpus of Terraform files (bench/lib/scan-corpus.mjs:
// FILES files, 7 resources each, in folders of 20), beside its anchors measured in the same run
// on the same files:
//   cat over every file (reading the bytes: the floor)
//   the HCL parser alone (@cdktf/hcl2json, HashiCorp's parser as WebAssembly) on every file:
//   what any scanner built on it pays before a rule runs
//   terraform fmt -check -recursive, when terraform is installed (HashiCorp's parser, native)
// Ours: scanPaths in this process (parse, resolve, rules) and the CLI end to end
// (`sealtrain scan <dir> --json`, a fresh process: module load and WebAssembly start included).
// Each timing is the better of two runs (the machine may be shared). Target: the CLI under 10 s
// for 1,000 files.
//
// Options: --files N (default 1000), --json (the last stdout line is one object with every
// figure, the anchors and `ratios`), --keep (keep the corpus in $BENCH_DIR or the temp folder).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { scanPaths } from '../dist/iac/index.js';
import { writeCorpus } from './lib/scan-corpus.mjs';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const json = args.includes('--json');
const FILES = Number(option('--files') ?? 1000);
if (!Number.isSafeInteger(FILES) || FILES < 1) {
  process.stderr.write('bench scan: --files must be a positive integer\n');
  process.exit(2);
}
const log = (s) => process.stderr.write(`${s}\n`);
const round = (x, digits = 3) => (x === undefined ? undefined : Number(x.toFixed(digits)));
const BIN = fileURLToPath(new URL('../bin/sealtrain.js', import.meta.url));
const dir = join(process.env.BENCH_DIR ?? tmpdir(), 'sealtrain-bench-scan');
rmSync(dir, { recursive: true, force: true });

async function best(run) {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 2; i++) {
    const t = process.hrtime.bigint();
    await run();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

function childOk(cmd, argv, okCodes = [0]) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.error || !okCodes.includes(r.status ?? -1)) throw new Error(`${cmd} failed: ${r.error ?? r.stderr}`);
}

const paths = writeCorpus(dir, FILES);
log(`corpus: ${FILES} files in ${dir}`);

const anchors = {};
anchors.cat_seconds = round(
  await best(() => childOk('sh', ['-c', `find "${dir}" -name '*.tf' -exec cat {} + > /dev/null`])),
);
anchors.parse_seconds = round(
  await best(async () => {
    for (const p of paths) await parse(p, readFileSync(p, 'utf8'));
  }),
);
const terraform = spawnSync('terraform', ['version'], { stdio: 'ignore' });
if (!terraform.error && terraform.status === 0)
  anchors.terraform_fmt_seconds = round(
    await best(() => childOk('terraform', ['fmt', '-check', '-recursive', dir], [0, 3])),
  );
else log('terraform is not installed: no terraform fmt anchor');

let report;
const scanSeconds = await best(async () => {
  report = await scanPaths([dir], { env: {} });
});
const cliSeconds = await best(() =>
  childOk(process.execPath, [BIN, 'scan', dir, '--json', '--home', join(dir, '.home')]),
);
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });

const ours = {
  files: FILES,
  resources: report.resources,
  verdicts: report.findings.length,
  scan_seconds: round(scanSeconds),
  scan_files_per_second: round(FILES / scanSeconds, 1),
  cli_seconds: round(cliSeconds),
  cli_files_per_second: round(FILES / cliSeconds, 1),
  target_seconds: 10,
  within_target: cliSeconds < 10,
};
const ratio = (a, b) => (a === undefined || b === undefined ? undefined : round(a / b, 2));
const ratios = {
  scan_vs_parse: ratio(ours.scan_seconds, anchors.parse_seconds),
  scan_vs_cat: ratio(ours.scan_seconds, anchors.cat_seconds),
  scan_vs_terraform_fmt: ratio(ours.scan_seconds, anchors.terraform_fmt_seconds),
  cli_vs_terraform_fmt: ratio(ours.cli_seconds, anchors.terraform_fmt_seconds),
};
log(`sealtrain scan (in process): ${ours.scan_seconds} s, ${ours.scan_files_per_second} files/s`);
log(`sealtrain scan (CLI):        ${ours.cli_seconds} s, ${ours.cli_files_per_second} files/s`);
for (const [k, v] of Object.entries(anchors)) log(`anchor ${k.padEnd(24)} ${v} s`);
for (const [k, v] of Object.entries(ratios)) log(`ratio ${k.padEnd(25)} ${v}`);
if (json)
  process.stdout.write(
    `${JSON.stringify({ bench: 'scan', anchor: 'hcl2json parse of the same files', ...ours, ...anchors, ratios })}\n`,
  );
