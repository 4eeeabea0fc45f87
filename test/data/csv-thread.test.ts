import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatasetSchema, prepareDataset } from '../../src/data/index.js';
import { fastNumber } from '../../src/data/internal/convert.js';
import { csvRowsInWorker, csvWorkerEntry } from '../../src/data/readers/csv-thread.js';
import { type CsvSettings, csvRows, readCsv } from '../../src/data/readers/read-csv.js';
import type { RawRecord, RecordProblem } from '../../src/data/records.js';
import type { ColumnSpec } from '../../src/data/schema.js';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';
import { rejectsWith } from '../helpers/rejects.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-csv-thread-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

function settingsOf(path: string, maxFieldBytes = 1024 * 1024): CsvSettings {
  return { input: { path, kind: 'CSV' }, delimiter: ',', maxFieldBytes };
}

/** The items a pass yields before it ends or fails, and the error it failed with. */
async function drain(
  rows: AsyncIterable<RawRecord | RecordProblem>,
): Promise<{ items: (RawRecord | RecordProblem)[]; error?: SealtrainError }> {
  const items: (RawRecord | RecordProblem)[] = [];
  try {
    for await (const item of rows) items.push(item);
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    return { items, error };
  }
  return { items };
}

/** The worker's script, which the build makes (npm test builds first). */
function entry(): string {
  const path = csvWorkerEntry();
  if (path === undefined) throw new Error('dist/data/readers/csv-worker.js is missing: run npm run build');
  return path;
}

const goodRows = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `${from + i},${(from + i) * 0.5},"q ""${i}"""\n`).join('');

describe('CSV rows parsed on a worker thread', () => {
  it.each([
    [
      'quotes, CRLF, blank lines and a ragged row',
      `a,b,c\r\n1,"x\r\ny",3\r\n\r\n4,5\r\n${goodRows(9000, 6)}`,
    ],
    ['an open quote deep in the file', `a,b,c\n${goodRows(9000)}9001,"never closed,3\n${goodRows(50)}`],
    ['a field over the limit in a later batch', `a,b,c\n${goodRows(9000)}9001,${'x'.repeat(70_000)},3\n`],
    ['a ragged record over the limit', `a,b,c\n${goodRows(9000)}${'12345678,'.repeat(40_000)}1\n`],
    [
      'bytes that are not UTF-8 after many rows',
      Buffer.concat([
        Buffer.from(`a,b,c\n${goodRows(20_000)}`),
        Buffer.from([0x31, 0x2c, 0xff, 0x2c, 0x33, 0x0a]),
      ]),
    ],
  ])('yields the same rows and the same coded error as this thread: %s', async (_, content) => {
    const path = await file('same.csv', content);
    const { columns } = await readCsv(path, { maxFieldBytes: 64 * 1024 });
    const settings = settingsOf(path, 64 * 1024);
    const here = await drain(csvRows(settings, columns, { bytes: 0 }));
    const there = await drain(csvRowsInWorker(settings, columns, { bytes: 0 }, entry()));
    expect(there.items).toEqual(here.items);
    expect(there.error?.code).toBe(here.error?.code);
    expect(there.error?.message).toBe(here.error?.message);
    expect(there.error?.details).toEqual(here.error?.details);
  });

  it('names file, row, line and column of a malformed record inside a batch, after the rows before it', async () => {
    const path = await file(
      'deep.csv',
      `a,b,c\n${goodRows(6000)}6001,${'x'.repeat(70_000)},3\n${goodRows(10, 6002)}`,
    );
    const { columns } = await readCsv(path);
    const { items, error } = await drain(
      csvRowsInWorker(settingsOf(path, 64 * 1024), columns, { bytes: 0 }, entry()),
    );
    expect(items).toHaveLength(6000);
    expect(error?.code).toBe('ERR_DATA_MALFORMED');
    expect(error?.details).toMatchObject({
      path,
      row: 6001,
      line: 6002,
      column: 'b',
      reason: 'field-too-large',
    });
  });

  it('converts the numbers asked for as fastNumber does (as float32), categories to their index, and leaves every other used value as read', async () => {
    const values = ['12', '0.5', '1e3', '0x10', '', 'NaN', ' 7', '-3', '150', '2.5', '1e400', '007', '0.1'];
    const categories = ['a', 'b', ' a', 'A', 'z', '', 'b', 'a', 'a', 'b', 'a', 'b', 'a'];
    const lines = values.map((v, r) => `${v},${v},${v},${categories[r]},${v}`);
    const path = await file('numbers.csv', `n,i,t,c,u\n${lines.join('\n')}\n`);
    const { columns } = await readCsv(path);
    const number: ColumnSpec = {
      name: 'n',
      type: 'number',
      missing: 'fail',
      invalid: 'fail',
      normalize: 'none',
      max: 100,
    };
    const integer: ColumnSpec = {
      name: 'i',
      type: 'integer',
      missing: 'fail',
      invalid: 'fail',
      normalize: 'none',
    };
    const index = new Map([
      ['a', 0],
      ['b', 1],
    ]);
    const { items } = await drain(
      csvRowsInWorker(settingsOf(path), columns, { bytes: 0 }, entry(), {
        numbers: [number, integer, undefined, undefined, undefined],
        categories: [undefined, undefined, undefined, index, undefined],
        used: [true, true, true, true, false],
      }),
    );
    expect(items).toHaveLength(values.length);
    items.forEach((item, r) => {
      const raw = values[r] as string;
      const record = item as RawRecord;
      const converted = record.numbers as Float32Array | Float64Array;
      const at = record.numbersAt ?? 0;
      const value = (k: number) =>
        Number.isNaN(converted[at + k] as number) ? record.values[k] : converted[at + k];
      const want = (spec: ColumnSpec) =>
        Number.isNaN(fastNumber(spec, raw)) ? raw : Math.fround(fastNumber(spec, raw));
      const category = categories[r] as string;
      expect([value(0), value(1), value(2), value(3), value(4)]).toEqual([
        want(number),
        want(integer),
        raw,
        index.get(category) ?? category,
        undefined,
      ]);
    });
  });

  it('stops the worker when the reader leaves early', async () => {
    const path = await file('early.csv', `a,b,c\n${goodRows(50_000)}`);
    const { columns } = await readCsv(path);
    let n = 0;
    for await (const _ of csvRowsInWorker(settingsOf(path), columns, { bytes: 0 }, entry()))
      if (++n === 10) break;
    expect(n).toBe(10);
  });

  it.each([
    ['exits', 'process.exit(3);', /exit code 3/],
    ['throws', "throw new Error('parser thread failure');", /parser thread failure/],
  ])('is ERR_INTERNAL naming the file and the row reached when the worker %s', async (_, body, why) => {
    const path = await file('stops.csv', `a,b,c\n${goodRows(100)}`);
    const script = await file(
      `stopping-worker-${_}.mjs`,
      `import { parentPort } from 'node:worker_threads';\n` +
        `parentPort.postMessage({ type: 'batch', texts: ['1', '2', '3'], meta: new Int32Array([1, 2, 3]), bytes: 8 });\n` +
        `setTimeout(() => { ${body} }, 50);\n`,
    );
    const { columns } = await readCsv(path);
    const { items, error } = await drain(csvRowsInWorker(settingsOf(path), columns, { bytes: 0 }, script));
    expect(items).toEqual([{ row: 1, line: 2, values: ['1', '2', '3'] }]);
    expect(error?.code).toBe('ERR_INTERNAL');
    expect(error?.message).toContain(path);
    expect(error?.message).toMatch(why);
    expect(error?.details).toMatchObject({ path, row: 2, reason: 'parser-stopped' });
  });

  it('fails prepare with the coded error of a malformed record deep in the file, and writes nothing', async () => {
    const rows = Array.from({ length: 9000 }, (_, i) => `${i % 97},${i % 2 === 0 ? 'p' : 'q'}`);
    rows[8000] = '5,"p';
    const path = await file('prepare-deep.csv', `x,y\n${rows.join('\n')}\n`);
    const schema = parseDatasetSchema(
      {
        version: 1,
        label: 'y',
        columns: [
          { name: 'x', type: 'number' },
          { name: 'y', type: 'category', categories: ['p', 'q'] },
        ],
      },
      'schema.json',
    );
    const output = join(dir, 'prepare-deep-out');
    const signingKey = generateKeyPairSync('ed25519').privateKey;
    const error = await rejectsWith(
      prepareDataset(path, output, { schema, signingKey }),
      'ERR_DATA_MALFORMED',
    );
    expect(error.message).toContain(path);
    expect(error.details).toMatchObject({ path, row: 8001, line: 8002, reason: 'CSV_QUOTE_NOT_CLOSED' });
    expect(existsSync(output)).toBe(false);
  });
});
