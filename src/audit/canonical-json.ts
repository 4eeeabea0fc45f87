import { SealtrainError } from '../errors/index.js';

/**
 * Serialises a JSON value canonically: object members sorted by name (UTF-16 code units), no
 * whitespace, strings and numbers as `JSON.stringify` writes them. For the values the audit log
 * holds this is RFC 8785 (JCS). Members whose value is `undefined` are left out, like
 * `JSON.stringify` does.
 *
 * @throws {SealtrainError} `ERR_INTERNAL` for values JSON cannot hold (non-finite numbers,
 *   functions, bigints, symbols).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notJson(`the number ${String(value)}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((name) => record[name] !== undefined)
      .sort()
      .map((name) => `${JSON.stringify(name)}:${canonicalJson(record[name])}`);
    return `{${members.join(',')}}`;
  }
  throw notJson(`a value of type ${typeof value}`);
}

function notJson(what: string): SealtrainError {
  return new SealtrainError('ERR_INTERNAL', `Cannot serialise ${what} as canonical JSON.`);
}
