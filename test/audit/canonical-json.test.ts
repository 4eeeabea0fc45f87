import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendEntry, canonicalJson, GENESIS, hashEntry, ZERO_HASH } from '../../src/audit/index.js';

describe('canonicalJson', () => {
  it('sorts members by UTF-16 code units, drops whitespace and keeps JSON.stringify escapes', () => {
    const value = { b: 1.5, a: [true, null, 'x\n\u0001"'], é: {}, B: -0, '\u{1F600}': 1e21 };
    expect(canonicalJson(value)).toBe('{"B":0,"a":[true,null,"x\\n\\u0001\\""],"b":1.5,"é":{},"😀":1e+21}');
  });

  it('refuses values JSON cannot hold', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1n, () => 1, Symbol('s')]) {
      expect(() => canonicalJson({ x: bad })).toThrow(/canonical JSON/);
    }
  });
});

describe('entry hash', () => {
  it('is SHA-256 of the canonical JSON without hash (known answer, written out by hand)', () => {
    const clock = () => new Date(Date.UTC(2026, 10, 23, 10, 0, 0));
    const event = {
      actor: 'alice@host',
      action: 'keys.rotate',
      outcome: 'ok' as const,
      key: { uri: 'local:alice', version: '2' },
    };
    const { entry, line, state } = appendEntry(GENESIS, event, { clock });
    const canonical = `{"action":"keys.rotate","actor":"alice@host","key":{"uri":"local:alice","version":"2"},"outcome":"ok","prev":"${ZERO_HASH}","seq":0,"time":"2026-11-23T10:00:00.000Z","v":1}`;
    const expected = createHash('sha256').update(canonical).digest('hex');
    expect(entry.hash).toBe(expected);
    expect(hashEntry(entry)).toBe(expected);
    expect(state).toEqual({ next: 1, head: expected });
    expect(line).toBe(
      `{"v":1,"seq":0,"time":"2026-11-23T10:00:00.000Z","actor":"alice@host","action":"keys.rotate","outcome":"ok","key":{"uri":"local:alice","version":"2"},"prev":"${ZERO_HASH}","hash":"${expected}"}`,
    );
  });
});
