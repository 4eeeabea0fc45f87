import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRowsInWorker, csvWorkerEntry } from '../../src/data/readers/csv-thread.js';
import { type CsvSettings, openCsv } from '../../src/data/readers/read-csv.js';
import { isProblem, type RawRecord, type RecordProblem, type RowsOptions } from '../../src/data/records.js';
import type { ColumnSpec } from '../../src/data/schema.js';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-csv-split-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function file(content: string | Uint8Array): Promise<string> {
  const path = join(dir, `f${files++}.csv`);
  await writeFile(path, content);
  return path;
}

/** The worker's script, which the build makes (npm test builds first). */
function entry(): string {
  const path = csvWorkerEntry();
  if (path === undefined) throw new Error('dist/data/readers/csv-worker.js is missing: run npm run build');
  return path;
}

const x: ColumnSpec = { name: 'x', type: 'number', missing: 'fail', invalid: 'fail', normalize: 'none' };
/** `id` is read by no one, `x` converted as a number, `c` as a category, `t` left as text. */
const OPTIONS: RowsOptions = {
  numbers: [undefined, x, undefined, undefined],
  categories: [
    undefined,
    undefined,
    new Map([
      ['a', 0],
      ['b', 1],
    ]),
    undefined,
  ],
  used: [false, true, true, true],
};

/** Row `i` of the test files: some values the worker converts, some it cannot. */
function row(i: number, eol = '\n'): string {
  const value = i % 97 === 0 ? '' : i % 89 === 0 ? '1e3' : i % 83 === 0 ? 'NA' : `${(i * 0.37).toFixed(2)}`;
  const category = i % 79 === 0 ? 'z' : i % 2 === 0 ? 'a' : 'b';
  return `${i},${value},${category},text ${i % 13}${eol}`;
}
const rows = (from: number, to: number, eol = '\n') =>
  Array.from({ length: to - from }, (_, k) => row(from + k, eol)).join('');

/** An LF file whose rows turn CRLF just after its middle: the second part starts with CRLF rows. */
function lfThenCrlf(): string {
  const crlf = rows(15_000, 30_000, '\r\n');
  let lf = HEADER;
  let k = 1;
  while (2 * (lf.length + row(k).length) < lf.length + row(k).length + crlf.length) lf += row(k++);
  // The middle falls in the last LF row: the first line end after it is that row's.
  return lf + row(k) + rows(k + 1, 15_000, '\r\n') + crlf;
}

/** A record as the reader means it: each used value as converted, or as read. */
function effective(item: RawRecord | RecordProblem): unknown {
  if (isProblem(item)) return item;
  const values = item.values.map((v, k) => {
    if (OPTIONS.used?.[k] === false) return null;
    const n = item.numbers?.[(item.numbersAt ?? 0) + k];
    return n === undefined || Number.isNaN(n) ? v : n;
  });
  return { row: item.row, line: item.line, values };
}

async function drain(
  rowsOf: AsyncIterable<RawRecord | RecordProblem>,
): Promise<{ items: unknown[]; error?: SealtrainError }> {
  const items: unknown[] = [];
  try {
    for await (const item of rowsOf) items.push(effective(item));
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    return { items, error };
  }
  return { items };
}

/**
 * Reads `content` split between two workers (every file is split: `splitBytes` 0) and by one,
 * expects the same rows and the same error, and returns whether the second part's rows were used.
 */
async function splitAgrees(
  content: string | Uint8Array,
  settings: Partial<CsvSettings> = {},
  script = entry(),
): Promise<boolean | undefined> {
  const path = await file(content);
  const opened = await openCsv(path, { maxFieldBytes: 64 * 1024 });
  let used: boolean | undefined;
  const split = {
    ...opened.settings,
    splitBytes: 0,
    onSplit: (u: boolean) => {
      used = u;
    },
    ...settings,
  };
  const one = { ...opened.settings, splitBytes: Number.POSITIVE_INFINITY };
  const two = await drain(csvRowsInWorker(split, opened.columns, { bytes: 0 }, script, OPTIONS));
  const whole = await drain(csvRowsInWorker(one, opened.columns, { bytes: 0 }, entry(), OPTIONS));
  expect(whole.items.length).toBeGreaterThan(0);
  expect(two.items).toEqual(whole.items);
  expect(two.error?.code).toBe(whole.error?.code);
  expect(two.error?.message).toBe(whole.error?.message);
  expect(two.error?.details).toEqual(whole.error?.details);
  return used;
}

const HEADER = 'id,x,c,t\n';

describe('a CSV file parsed by two workers, one from each half', () => {
  it.each([
    ['LF line ends', HEADER + rows(1, 30_000)],
    ['CRLF line ends and a byte-order mark', `\uFEFFid,x,c,t\r\n${rows(1, 30_000, '\r\n')}`],
    ['blank lines everywhere', HEADER + rows(1, 30_000).replaceAll('\n', '\n\n\n')],
    ['ragged rows in both halves', HEADER + rows(1, 30_000).replaceAll(',text 5\n', ',text,5\n')],
    [
      'quotes, quoted line ends and doubled quotes after the middle only',
      HEADER + rows(1, 20_000) + rows(20_000, 30_000).replaceAll(',text 7\n', ',"q ""7""\nstill t"\n'),
    ],
    [
      'a byte-order mark starting lines after the middle (data there)',
      HEADER + rows(1, 15_000) + rows(15_000, 30_000).replaceAll('\n', '\n\uFEFF'),
    ],
    ['no line end after the last row', HEADER + rows(1, 30_000).trimEnd()],
    ['CRLF rows from the middle of an LF file (the CR then ends the last value)', lfThenCrlf()],
  ])('gives the rows one worker gives, using the second part: %s', async (_, content) => {
    expect(await splitAgrees(content)).toBe(true);
  });

  it.each([
    ['a quote before the middle', `${HEADER}1,"2",a,t\n${rows(2, 30_000)}`],
    [
      'a quoted line end across the middle',
      `${HEADER}${rows(1, 15_000)}15000,"1\n${rows(15_001, 15_100)}",a,t\n${rows(15_100, 30_000)}`,
    ],
    ['a carriage return inside a row of an LF file', `${HEADER}1,2,a,t\rx\n${rows(2, 30_000)}`],
    [
      'bare LF rows in a file whose header ends with CRLF',
      `id,x,c,t\r\n${rows(1, 100, '\r\n')}${rows(100, 103)}${rows(103, 30_000, '\r\n')}`,
    ],
    ['CRLF rows in a file whose header ends with LF', HEADER + rows(1, 30_000, '\r\n')],
  ])('reads on with the first worker when the first part may not end on a row: %s', async (_, content) => {
    expect(await splitAgrees(content)).toBe(false);
  });

  it.each([
    [
      'bytes that are not UTF-8',
      Buffer.concat([
        Buffer.from(HEADER + rows(1, 28_000)),
        Buffer.from([0x31, 0x2c, 0xff, 0x0a]),
        Buffer.from(rows(28_001, 30_000)),
      ]),
    ],
    [
      'a field over the limit',
      `${HEADER}${rows(1, 29_000)}1,${'9'.repeat(70_000)},a,t\n${rows(29_001, 30_000)}`,
    ],
    ['a quote left open at the end', `${HEADER}${rows(1, 29_000)}1,"2,a,t\n${rows(29_001, 29_010)}`],
  ])(
    'reports the error one worker reports, with its row and line, when the second part has %s',
    async (_, content) => {
      expect(await splitAgrees(content)).toBe(false);
    },
  );

  it('reports an error in the first part before any decision', async () => {
    // Past the first 256 KiB, which the header's read checks, and before the middle.
    const content = Buffer.concat([
      Buffer.from(HEADER + rows(1, 20_000)),
      Buffer.from([0xc3, 0x28, 0x0a]),
      Buffer.from(rows(20_001, 60_000)),
    ]);
    expect(await splitAgrees(content)).toBeUndefined();
  });

  it('reads on with the first worker when the second one waits for its batches to be read', async () => {
    expect(await splitAgrees(HEADER + rows(1, 30_000), { splitBudget: 1 })).toBe(false);
  });

  it('reads on with the first worker when the second one stops', async () => {
    const serve = new URL('../../dist/data/readers/csv-serve.js', import.meta.url).href;
    const script = join(dir, 'stopping-second.mjs');
    await writeFile(
      script,
      `import { parentPort, workerData } from 'node:worker_threads';\n` +
        `import { serveCsvRows } from ${JSON.stringify(serve)};\n` +
        `if (workerData.part?.kind === 'rest') setTimeout(() => process.exit(3), 5);\n` +
        `else await serveCsvRows(parentPort, workerData);\n`,
    );
    expect(await splitAgrees(HEADER + rows(1, 30_000), {}, script)).toBe(false);
  });
});
