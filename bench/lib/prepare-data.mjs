// The synthetic CSV of the prepare benchmark and its schema: 30 columns, 28 numeric features
// (integers and decimals of about 6 significant digits, four of them with ~0.1 % missing
// values), one category feature with 5 levels and a 3-class label. Rows come from one seeded
// generator in file order, so a file of n rows is the first n rows of any longer one.
// The digits are written straight into large Buffer chunks, which a write stream takes as
// they come (about 10× faster than formatting each number as a string).
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bump when the rows generated change, so a cached file of the old kind is not reused. */
export const GENERATOR_VERSION = 1;
export const SEED = 20240601;
const NUMERIC = 28;
const CATEGORY = { name: 'segment', levels: ['north', 'south', 'east', 'west', 'central'] };
const CATEGORY_CUMULATIVE = [0.35, 0.6, 0.8, 0.92, 1];
const LABEL = { name: 'label', classes: ['class_a', 'class_b', 'class_c'] };
const LABEL_CUMULATIVE = [0.5, 0.8, 1];
/** Share of the cells left empty in the columns that have missing values. */
const MISSING_RATE = 0.001;
const CHUNK_BYTES = 8 << 20;
const TWO32 = 2 ** 32;

/**
 * What each numeric column holds: `int` (0..99,999), `dec` (6 digits, `scale` of them after the
 * point), `signed` (about normal, 4 decimals, up to ±50.0000) or `frac` (0.000000..0.999999).
 */
const numeric = Array.from({ length: NUMERIC }, (_, j) => {
  const name = `f${String(j + 1).padStart(2, '0')}`;
  const missing = j % 7 === 3;
  switch (j % 4) {
    case 0:
      return { name, kind: 'int', missing };
    case 1:
      return { name, kind: 'dec', scale: 1 + (j % 5), missing };
    case 2:
      return { name, kind: 'signed', scale: 4, missing };
    default:
      return { name, kind: 'frac', scale: 6, missing };
  }
});

/** Column order in the file: f01..f14, segment, f15..f28, label. */
export const CSV_COLUMNS = [
  ...numeric.slice(0, 14).map((c) => c.name),
  CATEGORY.name,
  ...numeric.slice(14).map((c) => c.name),
  LABEL.name,
];

/** The declared schema (input to parseDatasetSchema): numbers z-scored, missing → median. */
export function benchSchema() {
  const byName = new Map(numeric.map((c) => [c.name, c]));
  return {
    version: 1,
    label: LABEL.name,
    columns: CSV_COLUMNS.map((name) => {
      if (name === CATEGORY.name)
        return { name, type: 'category', categories: CATEGORY.levels, missing: 'fail' };
      if (name === LABEL.name) return { name, type: 'category', categories: LABEL.classes, missing: 'fail' };
      const c = byName.get(name);
      return {
        name,
        type: c.kind === 'int' ? 'integer' : 'number',
        missing: 'impute',
        impute: 'median',
        normalize: 'zscore',
      };
    }),
  };
}

/** mulberry32: a small, fast, seeded 32-bit generator. */
function generator(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Writes the decimal digits of the integer 0 ≤ n < 2³¹ at `pos`; returns the next position. */
function putUint(buf, pos, n) {
  let len = 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) len++;
  let p = pos + len;
  do {
    const q = (n / 10) | 0;
    buf[--p] = 48 + n - q * 10;
    n = q;
  } while (n > 0);
  return pos + len;
}

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000];

/** Writes the integer v as a decimal with `scale` digits after the point ("-12.3400"). */
function putFixed(buf, pos, v, scale) {
  if (v < 0) {
    buf[pos++] = 45;
    v = -v;
  }
  const unit = POW10[scale];
  const whole = Math.floor(v / unit);
  let frac = v - whole * unit;
  pos = putUint(buf, pos, whole);
  buf[pos++] = 46;
  for (let p = pos + scale - 1; p >= pos; p--) {
    const q = (frac / 10) | 0;
    buf[p] = 48 + frac - q * 10;
    frac = q;
  }
  return pos + scale;
}

function pick(u, cumulative) {
  const x = u / TWO32;
  let i = 0;
  while (x >= cumulative[i] && i < cumulative.length - 1) i++;
  return i;
}

/** Writes `rows` data rows (and the header) to `path`; resolves with the bytes written. */
export async function generateCsv(path, rows) {
  const next = generator(SEED);
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  const missingCut = Math.round(MISSING_RATE * TWO32);
  const levels = CATEGORY.levels.map((l) => Buffer.from(l));
  const classes = LABEL.classes.map((l) => Buffer.from(l));
  // The file's columns as a plan: -1 the category, -2 the label, else the numeric column.
  const plan = CSV_COLUMNS.map((name) =>
    name === CATEGORY.name ? -1 : name === LABEL.name ? -2 : numeric.findIndex((c) => c.name === name),
  );
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let pos = buf.write(`${CSV_COLUMNS.join(',')}\n`, 0, 'latin1');
  let bytes = 0;
  const flush = async () => {
    bytes += pos;
    if (!out.write(buf.subarray(0, pos))) await Promise.race([once(out, 'drain'), failed]);
    buf = Buffer.allocUnsafe(CHUNK_BYTES);
    pos = 0;
  };
  for (let r = 0; r < rows; r++) {
    if (pos > CHUNK_BYTES - 1024) await flush();
    for (let k = 0; k < plan.length; k++) {
      if (k > 0) buf[pos++] = 44;
      const j = plan[k];
      if (j === -1) {
        pos += levels[pick(next(), CATEGORY_CUMULATIVE)].copy(buf, pos);
        continue;
      }
      if (j === -2) {
        pos += classes[pick(next(), LABEL_CUMULATIVE)].copy(buf, pos);
        continue;
      }
      const c = numeric[j];
      if (c.missing && next() < missingCut) continue;
      switch (c.kind) {
        case 'int':
          pos = putUint(buf, pos, next() % 100000);
          break;
        case 'dec':
          pos = putFixed(buf, pos, 100000 + (next() % 900000), c.scale);
          break;
        case 'signed': {
          // The sum of four uniforms: roughly normal, 6 significant digits at most.
          const s = (next() + next() + next() + next()) / TWO32 - 2;
          pos = putFixed(buf, pos, Math.round(s * 250000), c.scale);
          break;
        }
        default:
          pos = putFixed(buf, pos, next() % 1000000, c.scale);
      }
    }
    buf[pos++] = 10;
  }
  await flush();
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  await new Promise((resolve, reject) => out.close((e) => (e ? reject(e) : resolve())));
  return bytes;
}

/** Where {@link ensureCsv} keeps the CSV of `rows` rows in `dir`. */
export function csvPath(dir, rows) {
  return join(dir, `prepare-v${GENERATOR_VERSION}-${rows}.csv`);
}

/**
 * The CSV of `rows` rows in `dir`, generated unless a file of the same generator, rows and size
 * is there already. Returns `{ path, bytes, generated, secs }` (secs: generation time, 0 when
 * reused).
 */
export async function ensureCsv(dir, rows, log = () => {}) {
  const path = csvPath(dir, rows);
  const meta = `${path}.json`;
  if (existsSync(path) && existsSync(meta)) {
    try {
      const m = JSON.parse(readFileSync(meta, 'utf8'));
      if (m.version === GENERATOR_VERSION && m.rows === rows && statSync(path).size === m.bytes) {
        log(`reusing ${path} (${(m.bytes / 1e6).toFixed(0)} MB)`);
        return { path, bytes: m.bytes, generated: false, secs: 0 };
      }
    } catch {
      // Regenerate.
    }
  }
  log(`generating ${rows.toLocaleString('en')} rows × ${CSV_COLUMNS.length} columns into ${path}`);
  const t = process.hrtime.bigint();
  const partial = `${path}.partial`;
  const bytes = await generateCsv(partial, rows);
  renameSync(partial, path);
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  writeFileSync(meta, `${JSON.stringify({ version: GENERATOR_VERSION, seed: SEED, rows, bytes })}\n`);
  log(
    `generated ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(1)} s (${(bytes / 1e6 / secs).toFixed(0)} MB/s)`,
  );
  return { path, bytes, generated: true, secs };
}
