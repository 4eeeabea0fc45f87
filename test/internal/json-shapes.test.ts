// The strict base64url decoder the release JWE and the MAA token parser share: one spelling per
// byte string, so that a signature or a tag cannot be respelt and still read as the same bytes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isRecord, strictBase64url } from '../../src/internal/json-shapes.js';
import { respelt } from '../helpers/respelt.js';

describe('strictBase64url', () => {
  it('decodes what encoding gives, for every length up to a few blocks', () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = randomBytes(n);
      expect(strictBase64url(bytes.toString('base64url'))).toEqual(bytes);
    }
  });

  it('refuses a last character whose unused bits are set, which Node alone reads as the same bytes', () => {
    // 16 bytes (a GCM tag) and 256 (an RS256 signature) end in one byte: four unused bits.
    for (const n of [1, 2, 16, 256]) {
      const text = randomBytes(n).toString('base64url');
      const other = respelt(text);
      expect(Buffer.from(other, 'base64url'), `${n} bytes`).toEqual(Buffer.from(text, 'base64url'));
      expect(strictBase64url(other), `${n} bytes`).toBeUndefined();
    }
  });

  it('refuses padding, another alphabet, whitespace and an impossible length', () => {
    for (const bad of ['YQ==', 'YQ=', 'a+b/', 'YW Jj', 'YWJj\n', 'YWJjZ', 'A'])
      expect(strictBase64url(bad), bad).toBeUndefined();
  });
});

describe('isRecord', () => {
  it('is true of a JSON object only', () => {
    expect(isRecord({})).toBe(true);
    for (const v of [null, [], 'x', 1, undefined, true]) expect(isRecord(v), String(v)).toBe(false);
  });
});
