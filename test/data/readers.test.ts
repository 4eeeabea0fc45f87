import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR } from '../../src/data/load-fashion-mnist.js';
import { readIdx } from '../../src/data/read-idx.js';
import { openRecordSource } from '../../src/data/readers/open-source.js';
import { readCsv } from '../../src/data/readers/read-csv.js';
import { readIdxRecords } from '../../src/data/readers/read-idx-records.js';
import { readJsonl } from '../../src/data/readers/read-jsonl.js';
import { readParquet } from '../../src/data/readers/read-parquet.js';
import { isProblem, type RawRecord, type RecordProblem, type RecordSource } from '../../src/data/records.js';
import { rejectsWith } from '../helpers/rejects.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-readers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` to a new file in the test directory and returns its path. */
async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Every item a source yields. */
async function collect(source: RecordSource): Promise<(RawRecord | RecordProblem)[]> {
  const items: (RawRecord | RecordProblem)[] = [];
  for await (const item of source.rows()) items.push(item);
  return items;
}

/**
 * Opens a source and reads it to the end, expecting a failure with `code` at either step (a
 * small file's bad bytes may be met while the header is read).
 */
async function drainRejects(opening: Promise<RecordSource>, code: string) {
  return rejectsWith(
    opening.then((source) => collect(source)),
    code,
  );
}

describe('readCsv', () => {
  it('reads RFC 4180 quoting: delimiters, doubled quotes and line breaks inside quotes', async () => {
    const path = await file(
      'rfc.csv',
      'name,note,n\n' +
        'plain,"has, comma",1\n' +
        '"quoted ""word""","two\nlines",2\n' +
        ',"",3\n' +
        '"three\nline\nfield",x,4',
    );
    const source = await readCsv(path);
    expect(source.format).toBe('csv');
    expect(source.columns).toEqual(['name', 'note', 'n']);
    expect(await collect(source)).toEqual([
      { row: 1, line: 2, values: ['plain', 'has, comma', '1'] },
      { row: 2, line: 3, values: ['quoted "word"', 'two\nlines', '2'] },
      { row: 3, line: 5, values: ['', '', '3'] },
      { row: 4, line: 6, values: ['three\nline\nfield', 'x', '4'] },
    ]);
  });

  it('reads CRLF line ends, skips blank lines and a UTF-8 byte-order mark, and counts lines right', async () => {
    const path = await file('crlf.csv', '\uFEFFa,b\r\n1,2\r\n"x\r\ny",3\r\n\r\n4,5\r\n');
    const source = await readCsv(path);
    expect(source.columns).toEqual(['a', 'b']);
    expect(await collect(source)).toEqual([
      { row: 1, line: 2, values: ['1', '2'] },
      { row: 2, line: 3, values: ['x\r\ny', '3'] },
      { row: 3, line: 6, values: ['4', '5'] },
    ]);
    expect(source.bytesRead()).toBe(source.totalBytes);
  });

  it('reads tab-separated values with the delimiter option', async () => {
    const path = await file('tabs.tsv', 'a\tb\n"1\t2"\t3\n');
    const source = await readCsv(path, { delimiter: '\t' });
    expect(source.columns).toEqual(['a', 'b']);
    expect(await collect(source)).toEqual([{ row: 1, line: 2, values: ['1\t2', '3'] }]);
  });

  it('yields rows with the wrong number of fields as problems and goes on', async () => {
    const path = await file('ragged.csv', 'a,b,c\n1,2,3\n4,5\n"six\nlines",7,8\n9,10,11,12\n13,14,15\n');
    const items = await collect(await readCsv(path));
    expect(items.map((item) => [item.row, item.line, isProblem(item) ? item.reason : 'ok'])).toEqual([
      [1, 2, 'ok'],
      [2, 3, 'ragged-row'],
      [3, 4, 'ok'],
      [4, 6, 'ragged-row'],
      [5, 7, 'ok'],
    ]);
    const problem = items[1] as RecordProblem;
    expect(problem.message).toContain(path);
    expect(problem.message).toMatch(/Row 2 \(line 3\).*has 2 fields; the header has 3/);
    expect((items[3] as RecordProblem).message).toMatch(/Row 4 \(line 6\).*has 4 fields; the header has 3/);
  });

  it('refuses a field larger than maxFieldBytes, naming row, line and column', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const path = await file('huge.csv', `a,b,c\n1,2,3\n4,"${big}",6\n`);
    const error = await drainRejects(readCsv(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/column "b" of row 2 \(line 3\)/);
    expect(error.details).toMatchObject({ path, row: 2, line: 3, column: 'b', reason: 'field-too-large' });
    // A higher limit lets it through.
    const items = await collect(await readCsv(path, { maxFieldBytes: 2 * 1024 * 1024 }));
    expect((items[1] as RawRecord).values[1]).toHaveLength(big.length);
  });

  it('stops a quote left open before it reads the rest of the file into memory', async () => {
    const path = await file('open-quote.csv', `a,b\n1,"never closed\n${'2,3\n'.repeat(200_000)}`);
    const error = await drainRejects(readCsv(path, { maxFieldBytes: 64 * 1024 }), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ path, row: 1, line: 2, reason: 'row-too-large' });
    expect(error.message).toMatch(/quote left open/);
    const small = await drainRejects(
      readCsv(await file('unclosed.csv', 'a,b\n1,2\n"x,2\n')),
      'ERR_DATA_MALFORMED',
    );
    expect(small.message).toMatch(/row 2 \(from line 3\): Quote Not Closed/);
    expect(small.details).toMatchObject({
      path: small.details.path,
      row: 2,
      line: 3,
      reason: 'CSV_QUOTE_NOT_CLOSED',
    });
  });

  it('refuses a record over its limit that ends within one read, naming where it crosses', async () => {
    // Limit: (2 columns + 1) × 4 bytes = 12; each field is within maxFieldBytes.
    const path = await file('wide.csv', 'a,b\n1,2\n3333,4444,5555,6666\n');
    const error = await drainRejects(readCsv(path, { maxFieldBytes: 4 }), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ path, row: 2, line: 3, column: 4, reason: 'row-too-large' });
    expect(error.message).toMatch(/row 2 \(from line 3\) is larger than its limit of 12 bytes/);
  });

  it('stops a quote left open within one read of the limit, naming the column in progress', async () => {
    const path = await file('open-quote-3.csv', `a,b,c\n1,2,3\n4,5,"${'x'.repeat(300_000)}`);
    const error = await drainRejects(readCsv(path, { maxFieldBytes: 16 * 1024 }), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ path, row: 2, line: 3, column: 3, reason: 'row-too-large' });
  });

  it.each([
    [
      'UTF-16LE with a byte-order mark',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n1,2\n', 'utf16le')]),
    ],
    ['UTF-16BE with a byte-order mark', Buffer.from([0xfe, 0xff, 0, 0x61, 0, 0x2c, 0, 0x62, 0, 0x0a])],
    ['UTF-16LE without a byte-order mark', Buffer.from('a,b\n1,2\n3,4\n', 'utf16le')],
  ])('refuses %s at open with how to convert it', async (_, bytes) => {
    const path = await file('utf16.csv', bytes);
    const error = await rejectsWith(readCsv(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/is UTF-16; convert it to UTF-8 \(e\.g\. iconv -f UTF-16 -t UTF-8/);
  });

  it('names the line of a byte that is not UTF-8 in the middle of a big file', async () => {
    const lines = ['id,text'];
    for (let i = 1; i <= 150_000; i++) lines.push(`${i},caf\u00e9 \u{1f600} row ${i}`);
    const bad = Buffer.from(`${lines.join('\n')}\n`);
    const at = bad.indexOf('\n99999,') + 1 + 7; // the first byte of "café" on line 100000
    bad[at] = 0xff;
    const path = await file('latin1.csv', bad);
    const error = await drainRejects(readCsv(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toMatch(/line 100000 is not valid UTF-8/);
    expect(error.details).toMatchObject({ path, line: 100000, offset: at, reason: 'invalid-utf-8' });
  });

  it('accepts multi-byte characters split across read chunks, and refuses one cut off at the end', async () => {
    const text = `a\n${'\u00e9\u20ac\u{1f600}\n'.repeat(100_000)}`;
    const good = await collect(await readCsv(await file('split.csv', text)));
    expect(good).toHaveLength(100_000);
    expect(good.every((item) => !isProblem(item) && item.values[0] === '\u00e9\u20ac\u{1f600}')).toBe(true);
    const cut = Buffer.from(`a\n1\n\u20ac`).subarray(0, -1);
    const error = await drainRejects(readCsv(await file('cut.csv', cut)), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ line: 3, reason: 'invalid-utf-8' });
  });

  it.each([
    ['a;b;c\n1;2;3\n', "--delimiter ';'"],
    ['a\tb\n1\t2\n', "--delimiter '\\t'"],
    ['a|b\n1|2\n', "--delimiter '|'"],
  ])('suggests --delimiter when the header looks split on the wrong one (%j)', async (content, hint) => {
    const error = await rejectsWith(readCsv(await file('delim.csv', content)), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain(hint);
    expect(error.details).toMatchObject({ reason: 'wrong-delimiter' });
  });

  it('reads a one-column file whose header has no other delimiter', async () => {
    const items = await collect(await readCsv(await file('one.csv', 'label\ncat\ndog\n')));
    expect(items).toEqual([
      { row: 1, line: 2, values: ['cat'] },
      { row: 2, line: 3, values: ['dog'] },
    ]);
  });

  it.each([
    ['empty.csv', ''],
    ['blank.csv', '\uFEFF\n\n'],
  ])('refuses %s at open: it has no data rows', async (name, content) => {
    const path = await file(name, content);
    const error = await rejectsWith(readCsv(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toMatch(/has no data rows/);
    expect(error.details).toMatchObject({ path, reason: 'empty' });
  });

  it('opens a header-only file with its columns and no rows', async () => {
    const source = await readCsv(await file('header-only.csv', 'a,b,c\n'));
    expect(source.columns).toEqual(['a', 'b', 'c']);
    expect(await collect(source)).toEqual([]);
  });

  it('refuses repeated and empty header names, naming them', async () => {
    const repeated = await rejectsWith(
      readCsv(await file('dup.csv', 'a,b,a,c,b\n1,2,3,4,5\n')),
      'ERR_DATA_MALFORMED',
    );
    expect(repeated.message).toMatch(/repeats the column name "a", "b"/);
    expect(repeated.details).toMatchObject({ columns: ['a', 'b'], reason: 'duplicate-column-name' });
    const empty = await rejectsWith(
      readCsv(await file('empty-name.csv', 'a,,c, \n1,2,3,4\n')),
      'ERR_DATA_MALFORMED',
    );
    expect(empty.message).toMatch(/empty name for column 2, 4/);
  });

  it('reports a missing file as ERR_IO_NOT_FOUND', async () => {
    const error = await rejectsWith(readCsv(join(dir, 'nope.csv')), 'ERR_IO_NOT_FOUND');
    expect(error.message).toContain('nope.csv');
  });

  it('can stop early and read again from the start', async () => {
    const source = await readCsv(await file('again.csv', `n\n${'1\n'.repeat(50_000)}`));
    for await (const item of source.rows()) {
      expect(item.row).toBe(1);
      break;
    }
    expect(await collect(source)).toHaveLength(50_000);
  });

  it('streams a ~200 MB file with resident memory growing by much less than the file', async () => {
    // 2,000,000 rows × 10 columns of 9 digits: 200 MB.
    const rows = 2_000_000;
    const path = join(dir, 'big.csv');
    const out = createWriteStream(path);
    out.write(`${Array.from({ length: 10 }, (_, c) => `c${c}`).join(',')}\n`);
    for (let r = 0; r < rows; r += 10_000) {
      let block = '';
      for (let k = r; k < r + 10_000; k++) {
        const base = 100_000_000 + ((k * 7919) % 800_000_000);
        block += `${base},${base + 1},${base + 2},${base + 3},${base + 4},${base + 5},${base + 6},${base + 7},${base + 8},${base + 9}\n`;
      }
      if (!out.write(block)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');

    const source = await readCsv(path);
    expect(source.totalBytes).toBeGreaterThan(190_000_000);
    const before = process.memoryUsage().rss;
    let peak = before;
    let count = 0;

    for await (const item of source.rows()) {
      count++;
      if (count % 20_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      if (count === rows) expect(item).toMatchObject({ row: rows, line: rows + 1 });
    }
    const growthMb = (peak - before) / 1e6;
    expect(count).toBe(rows);
    expect(source.bytesRead()).toBe(source.totalBytes);
    // Holding the file would take all of its bytes, and about twice that as strings: growth stays
    // below the file's own size however late the garbage collector runs on a loaded machine.
    expect(growthMb).toBeLessThan((source.totalBytes ?? 0) / 1e6);
    await rm(path);
  });
});

describe('readJsonl', () => {
  it('takes the columns from the first object; a missing key is null; blank lines are skipped', async () => {
    const path = await file(
      'good.jsonl',
      '\uFEFF{"a": 1, "b": "x", "c": true}\r\n\n{"b": "y", "a": 2.5}\n  \n{"a": null, "b": "", "c": false}',
    );
    const source = await readJsonl(path);
    expect(source.format).toBe('jsonl');
    expect(source.columns).toEqual(['a', 'b', 'c']);
    expect(await collect(source)).toEqual([
      { row: 1, line: 1, values: [1, 'x', true] },
      { row: 2, line: 3, values: [2.5, 'y', null] },
      { row: 3, line: 5, values: [null, '', false] },
    ]);
    expect(source.bytesRead()).toBe(source.totalBytes);
  });

  it('yields each kind of bad line as a problem and goes on', async () => {
    const path = await file(
      'bad.jsonl',
      [
        '{"a": 1, "b": 2}',
        '{"a": 1, "b": ',
        '[1, 2]',
        '42',
        'null',
        '{"a": 1, "z": 2}',
        '{"a": {"x": 1}, "b": 2}',
        '{"a": 1, "b": [1]}',
        '{"a": 3}',
      ].join('\n'),
    );
    const items = await collect(await readJsonl(path));
    expect(items.map((item) => (isProblem(item) ? item.reason : 'ok'))).toEqual([
      'ok',
      'bad-json',
      'not-an-object',
      'not-an-object',
      'not-an-object',
      'unknown-key',
      'nested-value',
      'nested-value',
      'ok',
    ]);
    expect(items.map((item) => item.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const messages = items.filter(isProblem).map((p) => p.message);
    expect(messages[0]).toBe(`Row 2 (line 2) of ${path} is not valid JSON.`);
    expect(messages[1]).toMatch(/is an array, not a JSON object/);
    expect(messages[4]).toMatch(/has the key "z"/);
    expect(messages[5]).toMatch(/has an object as the value of "a"/);
    expect(items[8]).toEqual({ row: 9, line: 9, values: [3, null] });
  });

  it('refuses a line longer than maxLineBytes, naming it', async () => {
    const path = await file('long.jsonl', `{"a": 1}\n{"a": "${'x'.repeat(5000)}"}\n`);
    const error = await drainRejects(readJsonl(path, { maxLineBytes: 4096 }), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ path, line: 2, reason: 'line-too-long' });
  });

  it('refuses UTF-16, bytes that are not UTF-8, and an empty file', async () => {
    const utf16 = await file(
      'u16.jsonl',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":1}\n', 'utf16le')]),
    );
    expect((await rejectsWith(readJsonl(utf16), 'ERR_DATA_MALFORMED')).message).toMatch(/UTF-16/);
    const latin1 = await file(
      'l1.jsonl',
      Buffer.concat([Buffer.from('{"a":"x"}\n{"a":"caf'), Buffer.from([0xe9, 0x22, 0x7d])]),
    );
    const bad = await drainRejects(readJsonl(latin1), 'ERR_DATA_MALFORMED');
    expect(bad.details).toMatchObject({ line: 2, reason: 'invalid-utf-8' });
    const empty = await rejectsWith(readJsonl(await file('empty.jsonl', '')), 'ERR_DATA_MALFORMED');
    expect(empty.message).toMatch(/has no data rows/);
    const noObject = await rejectsWith(
      readJsonl(await file('no-object.jsonl', '1\n[2]\n')),
      'ERR_DATA_MALFORMED',
    );
    expect(noObject.message).toMatch(/no line holds a JSON object/);
  });
});

describe('readParquet', () => {
  it('reads several row groups of numbers, strings, booleans, nulls, 64-bit integers and timestamps', async () => {
    const n = 350;
    const path = join(dir, 'round.parquet');
    const expected = Array.from({ length: n }, (_, i) => [
      i,
      i % 7 === 0 ? null : i / 4,
      i % 5 === 0 ? null : `s${i}\u00e9`,
      i % 3 === 0 ? null : i % 2 === 0,
      i * 1_000_000,
      new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
    ]);
    parquetWriteFile({
      filename: path,
      rowGroupSize: 100,
      columnData: [
        { name: 'i', data: expected.map((r) => r[0]), type: 'INT32' },
        { name: 'x', data: expected.map((r) => r[1]), type: 'DOUBLE' },
        { name: 's', data: expected.map((r) => r[2]), type: 'STRING' },
        { name: 'b', data: expected.map((r) => r[3]), type: 'BOOLEAN' },
        { name: 'big', data: expected.map((_, i) => BigInt(i) * 1_000_000n), type: 'INT64' },
        { name: 't', data: expected.map((r) => new Date(r[5] as string)), type: 'TIMESTAMP' },
      ],
    });
    const source = await readParquet(path);
    expect(source.format).toBe('parquet');
    expect(source.columns).toEqual(['i', 'x', 's', 'b', 'big', 't']);
    const items = await collect(source);
    expect(items).toEqual(expected.map((values, i) => ({ row: i + 1, values })));
    expect(source.bytesRead()).toBeGreaterThan(0);
    expect(source.bytesRead()).toBeLessThanOrEqual(source.totalBytes ?? 0);
  });

  it('reads gzip-compressed column chunks', async () => {
    const path = join(dir, 'gzip.parquet');
    parquetWriteFile({
      filename: path,
      codec: 'GZIP',
      compressors: { GZIP: (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes)) },
      columnData: [{ name: 'v', data: [1.5, 2.5, null], type: 'DOUBLE' }],
    });
    expect(await collect(await readParquet(path))).toEqual([
      { row: 1, values: [1.5] },
      { row: 2, values: [2.5] },
      { row: 3, values: [null] },
    ]);
  });

  it('refuses nested columns at open, naming them', async () => {
    const struct = join(dir, 'struct.parquet');
    parquetWriteFile({
      filename: struct,
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'a', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'point', repetition_type: 'OPTIONAL', num_children: 1 },
        { name: 'x', type: 'INT32', repetition_type: 'OPTIONAL' },
      ],
      columnData: [
        { name: 'a', data: [1, 2] },
        { name: 'point', data: [{ x: 1 }, { x: 2 }] },
      ],
    });
    const error = await rejectsWith(readParquet(struct), 'ERR_DATA_MALFORMED');
    expect(error.message).toMatch(/column "point" is nested/);
    expect(error.details).toMatchObject({ path: struct, column: 'point', reason: 'nested-column' });

    const list = join(dir, 'list.parquet');
    parquetWriteFile({
      filename: list,
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'tags', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
      ],
      columnData: [{ name: 'tags', data: [[1, 2], [3]] }],
    });
    expect((await rejectsWith(readParquet(list), 'ERR_DATA_MALFORMED')).message).toMatch(
      /column "tags" is nested/,
    );
  });

  it('refuses a 64-bit integer that a number cannot hold exactly, naming row and column', async () => {
    const path = join(dir, 'bigint.parquet');
    parquetWriteFile({
      filename: path,
      columnData: [{ name: 'id', data: [1n, 2n ** 60n], type: 'INT64' }],
    });
    const error = await drainRejects(readParquet(path), 'ERR_DATA_MALFORMED');
    expect(error.details).toMatchObject({ row: 2, column: 'id', reason: 'bad-value' });
  });

  it('refuses a file that is not Parquet', async () => {
    const path = await file('fake.parquet', 'a,b\n1,2\n');
    const error = await rejectsWith(readParquet(path), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain(path);
  });
});

/** An IDX file: magic, type byte, dimensions, then big-endian elements (uint8 here). */
function idx(shape: number[], values: number[]): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header.set([0, 0, 0x08, shape.length]);
  for (const [i, d] of shape.entries()) view.setUint32(4 + 4 * i, d, false);
  return Buffer.concat([header, Uint8Array.from(values)]);
}

describe('readIdxRecords', () => {
  it('reads images as pixel columns and labels as a label column', async () => {
    const images = await file(
      'images-idx3-ubyte',
      idx([3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255]),
    );
    const labels = await file('labels-idx1-ubyte', idx([3], [7, 8, 9]));
    const source = await readIdxRecords(images, { labels });
    expect(source.format).toBe('idx');
    expect(source.columns).toEqual(['pixel_0', 'pixel_1', 'pixel_2', 'pixel_3', 'label']);
    expect(await collect(source)).toEqual([
      { row: 1, values: [0, 1, 2, 3, 7] },
      { row: 2, values: [10, 11, 12, 13, 8] },
      { row: 3, values: [20, 21, 22, 255, 9] },
    ]);
    expect(source.bytesRead()).toBe(source.totalBytes);
    expect((await readIdxRecords(images)).columns).toHaveLength(4);
  });

  it('refuses labels whose count differs from the images, naming both files and counts', async () => {
    const images = await file('img2-idx3-ubyte', idx([2, 1, 2], [1, 2, 3, 4]));
    const labels = await file('lab3-idx1-ubyte', idx([3], [1, 2, 3]));
    const error = await rejectsWith(readIdxRecords(images, { labels }), 'ERR_DATA_MALFORMED');
    expect(error.message).toContain(images);
    expect(error.message).toContain(labels);
    expect(error.details).toMatchObject({ labels: 3, images: 2, reason: 'count-mismatch' });
  });

  it('refuses a labels file as images and an images file as labels', async () => {
    const labels = await file('only-labels-idx1-ubyte', idx([2], [1, 2]));
    const images = await file('only-images-idx3-ubyte', idx([2, 1, 1], [1, 2]));
    expect((await rejectsWith(readIdxRecords(labels), 'ERR_DATA_MALFORMED')).details).toMatchObject({
      reason: 'not-images',
    });
    expect(
      (await rejectsWith(readIdxRecords(images, { labels: images }), 'ERR_DATA_MALFORMED')).details,
    ).toMatchObject({ reason: 'not-labels' });
  });
});

describe('readIdxRecords on Fashion-MNIST', () => {
  it('reads the real test set (gzip IDX, told by its first bytes) as 784 pixels and a label', async () => {
    const source = await openRecordSource(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'), {
      labels: join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'),
    });
    expect(source.format).toBe('idx');
    expect(source.columns).toHaveLength(785);
    expect(source.columns.at(-2)).toBe('pixel_783');
    const labels = new Set<number>();
    let rows = 0;
    for await (const item of source.rows()) {
      rows++;
      const values = (item as RawRecord).values as number[];
      expect(values).toHaveLength(785);
      labels.add(values[784] ?? -1);
    }
    expect(rows).toBe(10_000);
    expect([...labels].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('openRecordSource', () => {
  it.each([
    ['by-ext.csv', 'a,b\n1,2\n', 'csv', ['a', 'b']],
    ['by-ext.tsv', 'a\tb\n1\t2\n', 'csv', ['a', 'b']],
    ['by-ext.txt', 'a,b\n1,2\n', 'csv', ['a', 'b']],
    ['by-ext.jsonl', '{"a":1}\n', 'jsonl', ['a']],
    ['by-ext.NDJSON', '{"a":1}\n', 'jsonl', ['a']],
  ])('opens %s by its extension', async (name, content, format, columns) => {
    const source = await openRecordSource(await file(name, content));
    expect(source.format).toBe(format);
    expect(source.columns).toEqual(columns);
    expect(await collect(source)).toHaveLength(1);
  });

  it('opens .parquet by its extension', async () => {
    const path = join(dir, 'ext.parquet');
    parquetWriteFile({ filename: path, columnData: [{ name: 'v', data: [1, 2], type: 'INT32' }] });
    expect((await openRecordSource(path)).format).toBe('parquet');
  });

  it('tells the format of a file with another name by its first bytes', async () => {
    const csv = await openRecordSource(await file('data.dat', 'x,y\n1,2\n'));
    expect([csv.format, csv.columns]).toEqual(['csv', ['x', 'y']]);
    const tsv = await openRecordSource(await file('data.tab', 'x\ty\n1\t2\n'));
    expect([tsv.format, tsv.columns]).toEqual(['csv', ['x', 'y']]);
    const jsonl = await openRecordSource(await file('data.json-lines', '\n  {"x": 1}\n'));
    expect([jsonl.format, jsonl.columns]).toEqual(['jsonl', ['x']]);
    const parquetPath = join(dir, 'data.pq');
    parquetWriteFile({ filename: parquetPath, columnData: [{ name: 'v', data: [1], type: 'INT32' }] });
    expect((await openRecordSource(parquetPath)).format).toBe('parquet');

    const images = await file('train-images-idx3-ubyte', idx([2, 1, 2], [1, 2, 3, 4]));
    const labels = await file('train-labels-idx1-ubyte', idx([2], [5, 6]));
    const plain = await openRecordSource(images, { labels });
    expect([plain.format, plain.columns]).toEqual(['idx', ['pixel_0', 'pixel_1', 'label']]);
    const gzipped = await file('train-images-idx3-ubyte.gz', gzipSync(idx([2, 1, 2], [1, 2, 3, 4])));
    expect(await collect(await openRecordSource(gzipped))).toEqual([
      { row: 1, values: [1, 2] },
      { row: 2, values: [3, 4] },
    ]);
  });

  it('refuses what it cannot read or tell', async () => {
    const gz = await file('table.csv.gz', gzipSync('a,b\n1,2\n'));
    expect((await rejectsWith(openRecordSource(gz), 'ERR_DATA_MALFORMED')).message).toMatch(
      /gzip-compressed/,
    );
    const binary = await file(
      'blob.bin',
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x80, 0x01, 0x02]),
    );
    expect((await rejectsWith(openRecordSource(binary), 'ERR_DATA_MALFORMED')).details).toMatchObject({
      reason: 'unknown-format',
    });
    const utf16 = await file('wide.data', Buffer.from('a,b\n1,2\n', 'utf16le'));
    expect((await rejectsWith(openRecordSource(utf16), 'ERR_DATA_MALFORMED')).message).toMatch(/UTF-16/);
    const empty = await file('nothing.dat', '');
    expect((await rejectsWith(openRecordSource(empty), 'ERR_DATA_MALFORMED')).message).toMatch(
      /has no data rows/,
    );
    await rejectsWith(openRecordSource(join(dir, 'missing.csv')), 'ERR_IO_NOT_FOUND');
    const csv = await file('with-labels.csv', 'a\n1\n');
    await rejectsWith(openRecordSource(csv, { labels: csv }), 'ERR_USAGE_INVALID');
  });

  it('takes the format and delimiter from options over the name', async () => {
    const path = await file('semi.txt', '{"not": "json lines"}\n');
    const jsonl = await openRecordSource(path, { format: 'jsonl' });
    expect(jsonl.columns).toEqual(['not']);
    const semi = await openRecordSource(await file('semi.csv', 'a;b\n1;2\n'), { delimiter: ';' });
    expect(await collect(semi)).toEqual([{ row: 1, line: 2, values: ['1', '2'] }]);
  });
});

describe('inputs that are not regular files', () => {
  it('refuses a named pipe at once instead of waiting for a writer, and a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealtrain-fifo-'));
    const fifo = join(dir, 'data.csv');
    execFileSync('mkfifo', [fifo]);
    await expect(openRecordSource(fifo)).rejects.toMatchObject({
      code: 'ERR_IO_FAILED',
      message: /not a regular file/,
    });
    await expect(readIdx(fifo)).rejects.toMatchObject({
      code: 'ERR_IO_FAILED',
      message: /not a regular file/,
    });
    await expect(openRecordSource(dir, { format: 'csv' })).rejects.toMatchObject({ code: 'ERR_IO_FAILED' });
    await rm(dir, { recursive: true, force: true });
  });
});
