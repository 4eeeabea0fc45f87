import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  convertValue,
  fastNumber,
  isMissing,
  parseNumber,
  plainCategories,
} from '../../src/data/internal/convert.js';
import { parseDatasetSchema } from '../../src/data/schema.js';
import { categoryIndex } from '../../src/data/transform.js';

/** The definition parseNumber's fast path must agree with. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const strictly = (text: string): number => (DECIMAL.test(text.trim()) ? Number(text.trim()) : Number.NaN);

describe('value conversion', () => {
  it('refuses a value beyond the float32 range on either side, however it is written', () => {
    for (const type of ['number', 'integer'] as const) {
      const column = { name: 'v', type, missing: 'fail', invalid: 'fail' } as const;
      for (const raw of [
        '1e39',
        '-1e39',
        ' -1e39',
        '+1e39',
        '-3.5e38',
        '340282356779733661637539395458142568448',
      ]) {
        const r = convertValue(column as never, raw);
        expect(r, `${type} ${raw}`).toMatchObject({ ok: false, reason: 'not-finite' });
        expect(fastNumber(column as never, raw)).toBeNaN();
      }
      expect(convertValue(column as never, '-3e38')).toEqual({ ok: true, value: -3e38 });
    }
  });

  it('reads exactly the plain decimals, whatever the text', () => {
    const numberish = fc.stringMatching(/^[ +\-.0-9eExXbBoO_,I]{0,8}$/);
    fc.assert(
      fc.property(fc.oneof(numberish, fc.string(), fc.double().map(String)), (text) => {
        expect(
          Object.is(parseNumber(text), strictly(text)) ||
            (Number.isNaN(parseNumber(text)) && Number.isNaN(strictly(text))),
        ).toBe(true);
      }),
      { numRuns: 5000 },
    );
    for (const bad of [
      '0x10',
      '0b1',
      '0o7',
      'Infinity',
      '-Infinity',
      'NaN',
      '1_0',
      '.',
      '-',
      '1e',
      '1.2.3',
      '',
    ]) {
      expect(parseNumber(bad), bad).toBeNaN();
    }
    expect(parseNumber(' 5 ')).toBe(5);
    expect(parseNumber('1e999')).toBe(Number.POSITIVE_INFINITY);
  });

  it('takes the allocation-free path only where convertValue gives the same number', () => {
    const schema = parseDatasetSchema({
      version: 1,
      label: 'y',
      columns: [
        { name: 'x', type: 'number', min: -5, max: 1e6 },
        { name: 'n', type: 'integer' },
        { name: 'y', type: 'category', categories: ['a'] },
      ],
    });
    const numberish = fc.stringMatching(/^[ +\-.0-9eExXbBoO_,I]{0,8}$/);
    fc.assert(
      fc.property(
        fc.oneof(numberish, fc.double().map(String), fc.integer().map(String)),
        fc.integer({ min: 0, max: 1 }),
        (text, c) => {
          const column = schema.columns[c] as never;
          const fast = fastNumber(column, text);
          const slow = convertValue(column, text);
          if (!Number.isNaN(fast)) expect(slow).toEqual({ ok: true, value: fast });
          else if (slow.ok) expect(text.charCodeAt(0) >= 48 && text.charCodeAt(0) <= 57).toBe(false);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('takes negative plain decimals on the allocation-free path too, and nothing Number() alone would take', () => {
    const column = parseDatasetSchema({
      version: 1,
      label: 'y',
      columns: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'category', categories: ['a'] },
      ],
    }).columns[0] as never;
    expect(fastNumber(column, '-10.6126')).toBe(-10.6126);
    expect(Object.is(fastNumber(column, '-0'), -0)).toBe(true);
    for (const text of ['-0x10', '-0b1', '-Infinity', '-1e400', '--1', '- 1', '-.5', '-']) {
      expect(fastNumber(column, text), text).toBeNaN();
    }
  });

  it('reads every plain decimal to the very double Number() gives, up to 15 digits and beyond', () => {
    const column = parseDatasetSchema({
      version: 1,
      label: 'y',
      columns: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'category', categories: ['a'] },
      ],
    }).columns[0] as never;
    const digits = fc.stringMatching(/^[0-9]{1,22}$/);
    const decimal = fc
      .tuple(fc.boolean(), digits, fc.option(fc.stringMatching(/^[0-9]{0,22}$/)))
      .map(
        ([minus, whole, fraction]) => `${minus ? '-' : ''}${whole}${fraction === null ? '' : `.${fraction}`}`,
      );
    fc.assert(
      fc.property(decimal, (text) => {
        expect(Object.is(fastNumber(column, text), Number(text)), text).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    // Halfway cases and the largest exact mantissa: one correctly rounded division, as Number().
    for (const text of [
      '0.1',
      '0.3',
      '2.675',
      '999999999999999',
      '99999999999999.9',
      '0.000000000000001',
      '-0.0',
    ]) {
      expect(Object.is(fastNumber(column, text), Number(text)), text).toBe(true);
    }
  });

  it('finds a category as written only where convertValue gives the same index', () => {
    const schema = parseDatasetSchema({
      version: 1,
      label: 'y',
      columns: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'category', categories: ['a', ' b', 'NA', 'c ', 'none', '?', 'B', '1'] },
      ],
    });
    const column = schema.columns[1] as never;
    const plain = plainCategories(column);
    expect([...(plain?.keys() ?? [])]).toEqual(['a', 'B', '1']);
    const texts = fc.oneof(
      fc.constantFrom('a', ' b', 'b', 'NA', 'na', 'c ', 'c', 'none', '', 'B', '1', ' a'),
      fc.string(),
    );
    fc.assert(
      fc.property(texts, (text) => {
        const quick = plain?.get(text);
        if (quick !== undefined)
          expect(convertValue(column, text, categoryIndex(column))).toEqual({ ok: true, value: quick });
      }),
      { numRuns: 2000 },
    );
  });

  it('tells missing, invalid and out-of-range values apart', () => {
    const schema = parseDatasetSchema({
      version: 1,
      label: 'y',
      columns: [
        { name: 'x', type: 'number', min: 0, max: 10 },
        { name: 'n', type: 'integer' },
        { name: 'b', type: 'boolean' },
        { name: 'y', type: 'category', categories: ['a', 'b'] },
      ],
    });
    const [x, n, b, y] = schema.columns as [never, never, never, never];
    for (const m of ['', ' ', 'NA', 'n/a', 'NULL', '?', null]) expect(isMissing(m)).toBe(true);
    expect(convertValue(x, '5')).toEqual({ ok: true, value: 5 });
    expect(convertValue(x, '11')).toMatchObject({ ok: false, reason: 'range' });
    expect(convertValue(x, 'NaN')).toMatchObject({ ok: false, reason: 'not-finite' });
    expect(convertValue(x, 'inf')).toMatchObject({ ok: false, reason: 'not-finite' });
    expect(convertValue(x, '1e999')).toMatchObject({ ok: false, reason: 'not-finite' });
    expect(convertValue(x, 'abc')).toMatchObject({ ok: false, reason: 'type' });
    expect(convertValue(n, '2.5')).toMatchObject({ ok: false, reason: 'type' });
    expect(convertValue(b, 'Yes')).toEqual({ ok: true, value: 1 });
    expect(convertValue(b, 'maybe')).toMatchObject({ ok: false, reason: 'type' });
    expect(
      convertValue(
        y,
        'b',
        new Map([
          ['a', 0],
          ['b', 1],
        ]),
      ),
    ).toEqual({ ok: true, value: 1 });
    expect(
      convertValue(
        y,
        'c',
        new Map([
          ['a', 0],
          ['b', 1],
        ]),
      ),
    ).toMatchObject({ ok: false, reason: 'category' });
  });
});
