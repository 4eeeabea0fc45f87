import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, EXIT_INTERRUPTED } from '../../src/cli/index.js';
import type { ErrorCode } from '../../src/errors/index.js';
import { type CliResult, cli, freshHome } from '../helpers/cli.js';

let ctx: Awaited<ReturnType<typeof freshHome>>;
let schema = '';

beforeAll(async () => {
  ctx = await freshHome();
  schema = await file(
    's.schema.json',
    JSON.stringify({
      version: 1,
      label: 'y',
      columns: [
        { name: 'a', type: 'number', normalize: 'zscore' },
        { name: 'b', type: 'number', normalize: 'minmax' },
        { name: 'y', type: 'category', categories: ['p', 'q'] },
      ],
    }),
  );
});
afterAll(() => ctx.cleanup());

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(ctx.dir, name);
  await writeFile(path, content);
  return path;
}

/** A valid table for the schema: header a,b,y and `n` rows, joined by `delimiter`. */
function table(n = 20, delimiter = ','): string[] {
  const rows = [['a', 'b', 'y'].join(delimiter)];
  for (let i = 1; i <= n; i++) rows.push([i, (i * 7) % 13, i % 3 === 0 ? 'q' : 'p'].join(delimiter));
  return rows;
}

const text = (lines: string[]): string => `${lines.join('\n')}\n`;

/** Replaces data row `r` (from 1; the header is line 1) of `lines`. */
function withRow(lines: string[], r: number, row: string): string[] {
  return lines.map((l, i) => (i === r ? row : l));
}

let outputs = 0;
const freshOutput = (): string => join(ctx.dir, `out-${++outputs}`);

function prepare(input: string, output: string, extra: string[] = []): Promise<CliResult> {
  return cli([...ctx.base, 'prepare', input, '-o', output, ...extra]);
}

function oneJsonObject(r: CliResult): Record<string, unknown> {
  const lines = r.stdout.toString().trimEnd().split('\n');
  expect(lines, 'stdout holds exactly one line').toHaveLength(1);
  const value = JSON.parse(lines[0] ?? '') as unknown;
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

async function expectNoOutput(output: string): Promise<void> {
  expect(existsSync(output), `${output} must not exist`).toBe(false);
  const partial = (await readdir(dirname(output))).filter((n) => n.startsWith(`.${basename(output)}.`));
  expect(partial, 'no .partial-* folder is left').toEqual([]);
}

/** Runs prepare with --json, expects `code` with its documented exit code, the mentions on stderr, and no output. */
async function expectFailure(
  input: string,
  extra: string[],
  code: ErrorCode,
  mentions: readonly string[],
): Promise<CliResult> {
  const output = freshOutput();
  const r = await prepare(input, output, [...extra, '--json']);
  expect(r.code, r.stderr).toBe(EXIT_CODES[code]);
  const json = oneJsonObject(r);
  expect(json.ok).toBe(false);
  expect((json.error as { code?: string }).code).toBe(code);
  for (const m of mentions) expect(r.stderr).toContain(m);
  await expectNoOutput(output);
  return r;
}

describe('sealtrain prepare: bad inputs', () => {
  it('a ragged row: ERR_DATA_INVALID (114) naming the file, row and line', async () => {
    const input = await file('ragged.csv', text(withRow(table(), 3, '3,8')));
    expect(EXIT_CODES.ERR_DATA_INVALID).toBe(114);
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_INVALID', [
      input,
      'Row 3 (line 4)',
      'has 2 fields; the header has 3',
    ]);
  });

  it('a semicolon file without --delimiter: ERR_DATA_MALFORMED (110) suggesting it; with it, prepared', async () => {
    const input = await file('semicolon.csv', text(table(20, ';')));
    expect(EXIT_CODES.ERR_DATA_MALFORMED).toBe(110);
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_MALFORMED', [input, "--delimiter ';'"]);
    const output = freshOutput();
    const r = await prepare(input, output, ['--schema', schema, '--delimiter', ';', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(oneJsonObject(r)).toMatchObject({ ok: true, rows: 20, features: 2 });
    expect((await readdir(output)).filter((f) => f.endsWith('.tensor')).length).toBeGreaterThan(0);
  });

  it('a UTF-16 file: ERR_DATA_MALFORMED saying so', async () => {
    const input = await file('utf16.csv', Buffer.from(`\ufeff${text(table())}`, 'utf16le'));
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_MALFORMED', [input, 'UTF-16']);
  });

  it('invalid UTF-8 in a row: ERR_DATA_MALFORMED naming the line', async () => {
    const lines = table();
    const bytes = Buffer.concat([
      Buffer.from(`${lines.slice(0, 3).join('\n')}\n3,`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`,p\n${lines.slice(4).join('\n')}\n`),
    ]);
    const input = await file('latin.csv', bytes);
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_MALFORMED', [
      input,
      'line 4 is not valid UTF-8',
    ]);
  });

  it('a field over 1 MiB: ERR_DATA_MALFORMED naming the row, line and column', async () => {
    const input = await file('huge.csv', text(withRow(table(), 2, `2,"${'9'.repeat(1_100_000)}",p`)));
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_MALFORMED', [
      input,
      'column "b" of row 2 (line 3)',
      'more than maxFieldBytes',
    ]);
  });

  it('NaN and infinities in number columns: ERR_DATA_INVALID naming each row and column', async () => {
    let lines = withRow(table(), 2, '2,NaN,p');
    lines = withRow(lines, 3, '3,Inf,q');
    lines = withRow(lines, 5, '-Infinity,1,p');
    const input = await file('nan.csv', text(lines));
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_INVALID', [
      input,
      'has 3 errors',
      'row 2 (line 3), column "b": "NaN" is not a finite number',
      'row 3 (line 4), column "b": "Inf" is not a finite number',
      'row 5 (line 6), column "a": "-Infinity" is not a finite number',
    ]);
  });

  it('a label outside the schema’s categories: ERR_DATA_INVALID naming row, column and value', async () => {
    const input = await file('label.csv', text(withRow(table(), 4, '4,4,r')));
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_INVALID', [
      input,
      'row 4 (line 5), column "y": "r" is not one of its categories',
    ]);
  });

  it('--max-errors caps the errors reported', async () => {
    let lines = table();
    for (const r of [2, 4, 6, 8, 10]) lines = withRow(lines, r, `${r},x,p`);
    const input = await file('five-bad.csv', text(lines));
    const r = await expectFailure(input, ['--schema', schema, '--max-errors', '3'], 'ERR_DATA_INVALID', [
      'has 3 errors',
      'row 6 (line 7)',
    ]);
    expect(r.stderr).not.toContain('row 8 (line 9)');
    expect((oneJsonObject(r).error as { details: { errors: unknown[] } }).details.errors).toHaveLength(3);
  });

  it('an empty file: ERR_DATA_MALFORMED saying it is empty', async () => {
    const input = await file('empty.csv', '');
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_MALFORMED', [input, 'empty']);
  });

  it('a header that does not match the schema: ERR_DATA_SCHEMA_MISMATCH (113) naming both columns', async () => {
    const input = await file('header.csv', text(withRow(table(), 0, 'a,c,y')));
    expect(EXIT_CODES.ERR_DATA_SCHEMA_MISMATCH).toBe(113);
    await expectFailure(input, ['--schema', schema], 'ERR_DATA_SCHEMA_MISMATCH', [
      input,
      'column "b" is not in the input',
      'column "c" is not in the schema',
    ]);
  });

  it('a schema that is not JSON, or not a valid schema: ERR_DATA_SCHEMA_INVALID (112) naming the path', async () => {
    const input = await file('good.csv', text(table()));
    expect(EXIT_CODES.ERR_DATA_SCHEMA_INVALID).toBe(112);
    const notJson = await file('broken.schema.json', '{"version": 1, "label": ');
    await expectFailure(input, ['--schema', notJson], 'ERR_DATA_SCHEMA_INVALID', [notJson, 'not valid JSON']);
    const invalid = await file(
      'invalid.schema.json',
      JSON.stringify({
        version: 1,
        label: 'y',
        columns: [
          { name: 'a', type: 'number', normalize: 'zscore' },
          { name: 'b', type: 'text' },
          { name: 'y', type: 'category', categories: ['p', 'q'] },
        ],
      }),
    );
    await expectFailure(input, ['--schema', invalid], 'ERR_DATA_SCHEMA_INVALID', [invalid, 'columns.1.type']);
    const missing = join(ctx.dir, 'no-such.schema.json');
    await expectFailure(input, ['--schema', missing], 'ERR_IO_NOT_FOUND', [missing]);
  });
});

describe('sealtrain prepare: output folder, --json, --help, lineage', () => {
  it('refuses an existing output folder without --force (ERR_IO_EXISTS, 11), replaces an earlier output with --force, and never a folder of other files', async () => {
    const input = await file('force.csv', text(table()));
    const output = freshOutput();
    await mkdir(output);
    await writeFile(join(output, 'keep.txt'), 'mine');
    const r = await prepare(input, output, ['--schema', schema, '--json']);
    expect(EXIT_CODES.ERR_IO_EXISTS).toBe(11);
    expect(r.code, r.stderr).toBe(11);
    expect((oneJsonObject(r).error as { code: string }).code).toBe('ERR_IO_EXISTS');
    expect(r.stderr).toContain('--force');
    expect(await readdir(output)).toEqual(['keep.txt']);
    // --force replaces only an earlier prepare output (with a lineage.json): here, nothing is lost.
    const refused = await prepare(input, output, ['--schema', schema, '--force', '--json']);
    expect(refused.code, refused.stderr).toBe(11);
    expect(refused.stderr).toContain('not the output of an earlier prepare');
    expect(await readdir(output)).toEqual(['keep.txt']);
    await writeFile(join(output, 'lineage.json'), '{}');
    const forced = await prepare(input, output, ['--schema', schema, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const files = await readdir(output);
    expect(files).not.toContain('keep.txt');
    expect(files).toEqual(expect.arrayContaining(['lineage.json', 'train.tensor', 'transform.json']));
    expect((await readdir(ctx.dir)).filter((n) => n.startsWith(`.${basename(output)}.`))).toEqual([]);
  });

  it('--json prints exactly one JSON object on stdout, and nothing for people', async () => {
    const input = await file('json.csv', text(table(40)));
    const output = freshOutput();
    const r = await prepare(input, output, ['--schema', schema, '--seed', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = oneJsonObject(r);
    expect(json).toMatchObject({ ok: true, output, rows: 40, dropped: 0, features: 2 });
    const split = json.split as Record<string, number>;
    expect((split.train ?? 0) + (split.validation ?? 0) + (split.test ?? 0)).toBe(40);
    expect(r.stderr).toBe('');
  });

  it('--help shows examples', async () => {
    const r = await cli(['prepare', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.toString() + r.stderr;
    expect(help).toContain('Examples:');
    expect(help).toMatch(/sealtrain prepare \S+ --schema \S+ -o /);
    expect(help).toContain('--fail-on');
    const verify = await cli(['lineage', 'verify', '--help']);
    expect(verify.code).toBe(0);
    expect(verify.stdout.toString() + verify.stderr).toContain('sealtrain lineage verify');
  });

  it('lineage verify exits 0 on a fresh output and ERR_LINEAGE_INVALID (111) naming the file after tampering', async () => {
    const input = await file('lineage.csv', text(table(30)));
    const output = freshOutput();
    const made = await prepare(input, output, ['--schema', schema]);
    expect(made.code, made.stderr).toBe(0);
    const manifest = join(output, 'lineage.json');
    const ok = await cli([...ctx.base, 'lineage', 'verify', manifest, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(oneJsonObject(ok)).toMatchObject({ ok: true, signature: 'valid', failures: [] });
    const target = join(output, 'train.tensor');
    const bytes = await readFile(target);
    const at = bytes.length - 40;
    bytes[at] = (bytes[at] as number) ^ 0x80;
    await writeFile(target, bytes);
    const bad = await cli([...ctx.base, 'lineage', 'verify', manifest]);
    expect(EXIT_CODES.ERR_LINEAGE_INVALID).toBe(111);
    expect(bad.code, bad.stderr).toBe(111);
    expect(bad.stderr).toContain('train.tensor changed');
    expect(bad.stderr).not.toContain('test.tensor changed');
  });
});

describe('sealtrain prepare: interrupted', () => {
  const ROWS = 300_000;
  const COLUMNS = 16;
  let big = '';
  let bigSchema = '';

  beforeAll(async () => {
    big = join(ctx.dir, 'big.csv');
    const names = Array.from({ length: COLUMNS }, (_, j) => `f${j}`);
    bigSchema = await file(
      'big.schema.json',
      JSON.stringify({
        version: 1,
        label: 'y',
        columns: [
          ...names.map((name) => ({ name, type: 'number', normalize: 'zscore' })),
          { name: 'y', type: 'category', categories: ['a', 'b', 'c'] },
        ],
      }),
    );
    const out = createWriteStream(big);
    out.write(`${names.join(',')},y\n`);
    let x = 12345;
    let chunk: string[] = [];
    for (let r = 0; r < ROWS; r++) {
      const cells: string[] = [];
      for (let j = 0; j < COLUMNS; j++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        cells.push((x / 4294967296).toFixed(5));
      }
      chunk.push(`${cells.join(',')},${'abc'[r % 3]}`);
      if (chunk.length === 10_000) {
        if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
        chunk = [];
      }
    }
    out.end();
    await once(out, 'finish');
  }, 120_000);

  const partialOf = async (output: string): Promise<string[]> =>
    (await readdir(dirname(output))).filter((n) => n.startsWith(`.${basename(output)}.partial-`));

  it('after SIGKILL mid-write the output folder does not exist (a .partial-* folder may remain)', async () => {
    const output = join(ctx.dir, 'big-killed');
    const r = await cli([...ctx.base, 'prepare', big, '-o', output, '--schema', bigSchema], {
      signalWhen: { signal: 'SIGKILL', ready: async () => (await partialOf(output)).length > 0 },
    });
    expect(r.code, `the run must be killed, not finish: ${r.stderr}`).not.toBe(0);
    expect(existsSync(output)).toBe(false);
    // Whatever was left is a hidden partial folder, and it does not stand in the way of a retry.
    const small = await file('retry.csv', text(table()));
    const retry = await prepare(small, output, ['--schema', schema]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(existsSync(join(output, 'lineage.json'))).toBe(true);
  }, 120_000);

  it('after SIGTERM mid-write the output folder does not exist and the .partial-* folder is removed', async () => {
    const output = join(ctx.dir, 'big-terminated');
    const r = await cli([...ctx.base, 'prepare', big, '-o', output, '--schema', bigSchema], {
      signalWhen: { signal: 'SIGTERM', ready: async () => (await partialOf(output)).length > 0 },
    });
    expect(r.code, r.stderr).toBe(EXIT_INTERRUPTED);
    expect(r.stderr).toContain('interrupted');
    expect(existsSync(output)).toBe(false);
    expect(await partialOf(output)).toEqual([]);
  }, 120_000);
});
