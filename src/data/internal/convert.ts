import type { RawValue } from '../records.js';
import type { ColumnSpec } from '../schema.js';

/** Field texts that mean "no value" in common exports. */
const MISSING = new Set(['', 'na', 'n/a', 'null', 'none', '?']);
/** A decimal number as people and exports write it; rejects hex, `Infinity`, `1e`, blanks. */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const TRUE = new Set(['true', 'yes', '1', 't', 'y']);
const FALSE = new Set(['false', 'no', '0', 'f', 'n']);

/** Why a value broke its column. */
export type InvalidReason = 'type' | 'not-finite' | 'range' | 'category';

/** A converted value: a number (a category's index, a boolean as 0/1), missing, or invalid. */
export type Converted =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly missing: true }
  | { readonly ok: false; readonly missing: false; readonly reason: InvalidReason; readonly detail: string };

const missing: Converted = { ok: false, missing: true };

function invalid(reason: InvalidReason, detail: string): Converted {
  return { ok: false, missing: false, reason, detail };
}

function show(raw: RawValue): string {
  const text = String(raw);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** The largest float32: values are kept as float32, and a larger one would become Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

function checkNumber(column: ColumnSpec, raw: RawValue, value: number): Converted {
  if (Math.abs(value) > FLOAT32_MAX) return invalid('not-finite', `${show(raw)} is beyond the float32 range`);
  if (column.type === 'integer' && !Number.isInteger(value))
    return invalid('type', `${show(raw)} is not an integer`);
  if ((column.min !== undefined && value < column.min) || (column.max !== undefined && value > column.max)) {
    return invalid('range', `${show(raw)} is outside ${column.min ?? '−∞'}..${column.max ?? '∞'}`);
  }
  return { ok: true, value };
}

/**
 * The common case without allocating: a plain decimal (starting with a digit, or a minus and a
 * digit; not 0x/0b/0o) that fits a number or integer column. NaN means "not that case": call
 * {@link convertValue}, which decides and explains. Agrees with {@link convertValue} wherever it
 * returns a number.
 */
export function fastNumber(column: ColumnSpec, raw: RawValue): number {
  if (typeof raw !== 'string' || (column.type !== 'number' && column.type !== 'integer')) return Number.NaN;
  // A leading minus: the digits start one further on (Number() refuses "-0x…" by itself).
  const from = raw.charCodeAt(0) === 45 ? 1 : 0;
  const c0 = raw.charCodeAt(from);
  if (!(c0 >= 48 && c0 <= 57)) return Number.NaN;
  if (c0 === 48) {
    const c1 = raw.charCodeAt(from + 1) | 32;
    if (c1 === 120 || c1 === 98 || c1 === 111) return Number.NaN; // 0x, 0b, 0o
  }
  const value = decimal(raw, from);
  if (Number.isNaN(value) || Math.abs(value) > FLOAT32_MAX) return Number.NaN;
  if (column.type === 'integer' && !Number.isInteger(value)) return Number.NaN;
  if ((column.min !== undefined && value < column.min) || (column.max !== undefined && value > column.max))
    return Number.NaN;
  return value;
}

/** Powers of ten that are exact doubles. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * `+text` for a text of digits from `from` on (after a minus when `from` is 1), about twice as
 * fast where it matters: digits with at most one point and at most 15 digits in all are read
 * as an integer below 10¹⁵ (exact) divided by a power of ten (exact), and one IEEE division
 * rounds correctly, as `+text` does. Any other text is left to `+text`.
 */
function decimal(text: string, from: number): number {
  const n = text.length;
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let i = from;
  for (; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    mantissa = mantissa * 10 + d;
    digits++;
  }
  if (i < n) {
    if (text.charCodeAt(i) !== 46) return +text;
    for (i++; i < n; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return +text;
      mantissa = mantissa * 10 + d;
      digits++;
      scale++;
    }
  }
  if (digits === 0 || digits > 15) return +text;
  const value = scale === 0 ? mantissa : mantissa / (POWERS_OF_TEN[scale] as number);
  return from === 1 ? -value : value;
}

/**
 * For a category column: its categories that {@link convertValue} gives as they are written (no
 * space around them, not a missing-value marker), so a value found here needs no other look.
 */
export function plainCategories(column: ColumnSpec): ReadonlyMap<string, number> | undefined {
  if (column.type !== 'category' || column.categories === undefined) return undefined;
  const plain = new Map<string, number>();
  column.categories.forEach((name, i) => {
    if (name.trim() === name && !isMissing(name) && !plain.has(name)) plain.set(name, i);
  });
  return plain;
}

/** Whether a raw value means "no value". */
export function isMissing(raw: RawValue): boolean {
  return raw === null || (typeof raw === 'string' && MISSING.has(raw.trim().toLowerCase()));
}

/** Whether `c` (a char code) is 0-9. */
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parses a decimal number strictly; NaN when the text is not one. */
export function parseNumber(raw: RawValue): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'boolean') return Number.NaN;
  const text = String(raw);
  // Fast path for the common case, a plain decimal that Number() reads: it starts with a digit,
  // a sign or a point, ends with a digit or a point, and is not 0x/0b/0o (Number() would take those).
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  if (
    (isDigit(first) || first === 45 || first === 43 || first === 46) &&
    (isDigit(last) || last === 46) &&
    !(
      first === 48 &&
      text.length > 1 &&
      !isDigit(text.charCodeAt(1)) &&
      text.charCodeAt(1) !== 46 &&
      text.charCodeAt(1) !== 101 &&
      text.charCodeAt(1) !== 69
    )
  ) {
    const n = Number(text);
    if (!Number.isNaN(n)) return n;
  }
  const trimmed = text.trim();
  return NUMBER.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/**
 * Converts one raw value for its column. `categories` maps each allowed category to its index.
 * Ranges are inclusive.
 */
export function convertValue(
  column: ColumnSpec,
  raw: RawValue,
  categories?: ReadonlyMap<string, number>,
): Converted {
  // The common case first: a plain decimal in a number column is never a missing-value marker.
  if ((column.type === 'number' || column.type === 'integer') && typeof raw === 'string' && raw.length > 0) {
    const c = raw.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      const value = parseNumber(raw);
      if (Number.isFinite(value)) return checkNumber(column, raw, value);
    }
  }
  if (isMissing(raw)) return missing;
  switch (column.type) {
    case 'category': {
      const index = categories?.get(String(raw).trim());
      return index === undefined
        ? invalid('category', `${show(raw)} is not one of its categories`)
        : { ok: true, value: index };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw ? 1 : 0 };
      const text = String(raw).trim().toLowerCase();
      if (TRUE.has(text)) return { ok: true, value: 1 };
      if (FALSE.has(text)) return { ok: true, value: 0 };
      return invalid('type', `${show(raw)} is not a boolean`);
    }
    default: {
      if (typeof raw === 'string' && NOT_FINITE.test(raw.trim()))
        return invalid('not-finite', `${show(raw)} is not a finite number`);
      const value = parseNumber(raw);
      if (Number.isNaN(value)) return invalid('type', `${show(raw)} is not a number`);
      if (!Number.isFinite(value)) return invalid('not-finite', `${show(raw)} is not a finite number`);
      // The same checks as the fast path: a value beyond float32 either way (−1e39 too) is refused.
      return checkNumber(column, raw, value);
    }
  }
}
