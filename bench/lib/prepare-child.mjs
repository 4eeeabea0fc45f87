// One measured run of the prepare benchmark, in its own process so its peak RSS is its own:
//   node prepare-child.mjs csv-parse <file.csv> <columns>
//     streams the file through csv-parse with the options readCsv uses and counts the records
//   node prepare-child.mjs prepare <file.csv> <output dir> <schema.json> [--seal]
//     prepareDataset into a fresh folder (sealed for a static key with --seal)
// Prints one JSON line on stdout: the timed seconds (the work only, not start-up), the rows,
// process.resourceUsage().maxRSS, and for prepare the phase boundaries and memory at each.
import { generateKeyPairSync } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const [mode, file, ...rest] = process.argv.slice(2);
const log = (s) => process.stderr.write(`  [${mode}] ${s}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const MiB = 1024 ** 2;
const memory = () => {
  const m = process.memoryUsage();
  return {
    rss_mib: Math.round(m.rss / MiB),
    heap_used_mib: Math.round(m.heapUsed / MiB),
    array_buffers_mib: Math.round(m.arrayBuffers / MiB),
  };
};
let cpuAtStart;
/** Starts the clock: the timed seconds and CPU seconds count from here. */
const start = () => {
  cpuAtStart = process.cpuUsage();
  return now();
};
const done = (result) => {
  const cpu = process.cpuUsage(cpuAtStart);
  const cpu_secs = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ ...result, cpu_secs, max_rss_kb: process.resourceUsage().maxRSS })}\n`,
  );
};

if (mode === 'csv-parse') {
  const { Parser } = await import('csv-parse');
  // The options of startParser in src/data/readers/read-csv.ts, and its 256 KiB reads.
  const parser = new Parser({
    delimiter: ',',
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  });
  let records = 0;
  parser.on('data', () => {
    records++;
  });
  const t = start();
  await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), parser);
  done({ secs: now() - t, rows: records - 1 });
} else if (mode === 'prepare') {
  const [output, schemaFile, ...flags] = rest;
  const { parseDatasetSchema, prepareDataset } = await import('../../dist/data/index.js');
  const schema = parseDatasetSchema(JSON.parse(readFileSync(schemaFile, 'utf8')), schemaFile);
  let seal;
  if (flags.includes('--seal')) {
    const { staticProvider } = await import('../../test/vectors/static-provider.mjs');
    seal = {
      recipients: ['local:bench'],
      providers: [staticProvider({ bench: { 1: Buffer.alloc(32, 7) } })],
    };
  }
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const marks = {};
  const mem = {};
  let nextTenth = 1;
  const t = start();
  const onProgress = (phase, value, total) => {
    const at = now() - t;
    if (phase === 'read') {
      marks.read_start ??= at;
      if (total !== undefined && value >= (nextTenth * total) / 10) {
        log(`read ${nextTenth * 10} % at ${at.toFixed(1)} s`);
        while (value >= (nextTenth * total) / 10) nextTenth++;
      }
      marks.read_end = at;
      if (total !== undefined && value >= total && mem.after_read === undefined) mem.after_read = memory();
    } else {
      if (marks.write_start === undefined) {
        marks.write_start = at;
        mem.at_first_write = memory();
        log(
          `read done at ${(marks.read_end ?? 0).toFixed(1)} s; split, fit and checks until ${at.toFixed(1)} s`,
        );
      }
      marks.write_end = at;
    }
  };
  const result = await prepareDataset(file, output, {
    schema,
    signingKey,
    onProgress,
    ...(seal !== undefined ? { seal } : {}),
  });
  const secs = now() - t;
  mem.end = memory();
  log(`written by ${(marks.write_end ?? 0).toFixed(1)} s; done at ${secs.toFixed(1)} s`);
  const r = result.report;
  done({
    secs,
    rows: r.ingest.rowsRead,
    rows_kept: r.ingest.rowsKept,
    cells_imputed: r.ingest.cellsImputed,
    features_out: result.transform.outputs.length,
    output_bytes: result.outputs.reduce((s, o) => s + o.bytes, 0),
    sealed: seal !== undefined,
    // start: until the first read progress (8,192 rows in), which includes hashing the input;
    // read: ingest (parse, convert, validate); analyse: split, fit, duplicate/outlier checks;
    // write: transform and write the splits (and hash each split file after it is written);
    // finish: the last rows and labels, the JSON files and the signed lineage manifest.
    phases: {
      start_secs: marks.read_start,
      read_secs: marks.read_end - marks.read_start,
      analyse_secs: marks.write_start - marks.read_end,
      write_secs: marks.write_end - marks.write_start,
      finish_secs: secs - marks.write_end,
    },
    memory: mem,
  });
} else {
  process.stderr.write(
    'usage: prepare-child.mjs csv-parse <file> <columns> | prepare <file> <out> <schema> [--seal]\n',
  );
  process.exit(2);
}
