#!/usr/bin/env node
// Writes examples/wdbc.csv from the copy of the Wisconsin Diagnostic Breast Cancer data that
// scikit-learn ships (Debian's python3-sklearn installs it as
// /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv).
//
//   apt-get download python3-sklearn && dpkg -x python3-sklearn_*.deb /tmp/sklearn
//   node examples/make-wdbc.mjs /tmp/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv
//
// The source's first line is `569,30,malignant,benign` (row count, feature count, then the class
// names indexed by the target); each following line is 30 features then the target index (0 is
// malignant). The output has a header of the 30 standard feature names and `diagnosis`, then one
// line per record in source order with the feature text copied verbatim and the class as M or B.
// The script refuses to write unless the counts and the first record match the published data.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MEASURES = [
  'radius',
  'texture',
  'perimeter',
  'area',
  'smoothness',
  'compactness',
  'concavity',
  'concave_points',
  'symmetry',
  'fractal_dimension',
];
/** The source's column order: every mean, then every standard error, then every worst value. */
const FEATURES = ['mean', 'se', 'worst'].flatMap((stat) => MEASURES.map((m) => `${m}_${stat}`));
const DIAGNOSIS = { malignant: 'M', benign: 'B' };
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** The published counts and first record (ID 842302), checked before anything is written. */
const EXPECTED = {
  rows: 569,
  M: 212,
  B: 357,
  first: { radius_mean: '17.99', texture_mean: '10.38', diagnosis: 'M' },
};

function fail(message) {
  console.error(`make-wdbc: ${message}`);
  process.exit(1);
}

function convert(text) {
  const lines = text.split(/\r?\n/).filter((line) => line !== '');
  const [head, ...records] = lines;
  const [count, width, ...classes] = (head ?? '').split(',');
  if (Number(width) !== FEATURES.length)
    fail(`the header says ${width} features, expected ${FEATURES.length}.`);
  if (Number(count) !== records.length)
    fail(`the header says ${count} rows, the file has ${records.length}.`);
  const labels = classes.map(
    (name) => DIAGNOSIS[name] ?? fail(`unknown class name ${JSON.stringify(name)}.`),
  );
  const out = [[...FEATURES, 'diagnosis'].join(',')];
  for (const [i, line] of records.entries()) {
    const fields = line.split(',');
    if (fields.length !== FEATURES.length + 1) fail(`row ${i + 1} has ${fields.length} fields.`);
    const features = fields.slice(0, FEATURES.length);
    const bad = features.find((f) => !NUMBER.test(f) || !Number.isFinite(Number(f)));
    if (bad !== undefined) fail(`row ${i + 1} has a non-numeric feature ${JSON.stringify(bad)}.`);
    const label = labels[Number(fields[FEATURES.length])];
    if (label === undefined) fail(`row ${i + 1} has an unknown target ${JSON.stringify(fields.at(-1))}.`);
    out.push([...features, label].join(','));
  }
  return out;
}

function verify(out) {
  const header = out[0].split(',');
  const rows = out.slice(1).map((line) => line.split(','));
  const tally = { M: 0, B: 0 };
  for (const row of rows) tally[row.at(-1)] += 1;
  if (rows.length !== EXPECTED.rows || tally.M !== EXPECTED.M || tally.B !== EXPECTED.B) {
    fail(`found ${rows.length} rows (${tally.M} M, ${tally.B} B), expected 569 (212 M, 357 B).`);
  }
  for (const [column, value] of Object.entries(EXPECTED.first)) {
    const got = rows[0][header.indexOf(column)];
    if (got !== value) fail(`the first row's ${column} is ${got}, expected ${value}.`);
  }
  return tally;
}

const [source, target = join(dirname(fileURLToPath(import.meta.url)), 'wdbc.csv')] = process.argv.slice(2);
if (source === undefined) fail('usage: node examples/make-wdbc.mjs <sklearn breast_cancer.csv> [out.csv]');
const input = readFileSync(source);
const out = convert(input.toString('utf8'));
const tally = verify(out);
const csv = `${out.join('\n')}\n`;
writeFileSync(target, csv);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
console.log(`wrote ${target}: ${out.length - 1} rows, ${tally.M} M, ${tally.B} B`);
console.log(`source sha256 ${sha256(input)}`);
console.log(`output sha256 ${sha256(csv)}`);
