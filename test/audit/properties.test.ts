import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type AuditEvent,
  type AuditProblemKind,
  canonicalJson,
  hashEntry,
  verifyChain,
} from '../../src/audit/index.js';
import { buildLog, editLine, errorKinds, KEYS, parse } from './helpers.js';

const events: fc.Arbitrary<AuditEvent> = fc.record(
  {
    actor: fc.constantFrom('alice@host', 'bob@host', 'demo:carol@host'),
    action: fc.constantFrom('keys.create', 'keys.unwrap', 'seal', 'unseal'),
    outcome: fc.constantFrom('ok' as const, 'error' as const),
    key: fc.record({ uri: fc.constantFrom('local:alice', 'local:bob'), version: fc.constantFrom('1', '2') }),
    details: fc.dictionary(
      fc.constantFrom('path', 'n', 'big'),
      fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()),
    ),
  },
  { requiredKeys: ['actor', 'action', 'outcome'] },
);

type Field = 'actor' | 'outcome' | 'seq' | 'time' | 'prev' | 'hash' | 'details';

/** One change to the lines of a log; positions are fractions of its length. */
type Mutation =
  | { type: 'edit'; at: number; field: Field; salt: number }
  | { type: 'delete'; at: number }
  | { type: 'swap'; at: number; other: number }
  | { type: 'duplicate'; at: number; to: number }
  | { type: 'truncate'; keep: number };

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const mutations: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    type: fc.constant('edit' as const),
    at: unit,
    field: fc.constantFrom<Field>('actor', 'outcome', 'seq', 'time', 'prev', 'hash', 'details'),
    salt: fc.integer({ min: 1, max: 1000 }),
  }),
  fc.record({ type: fc.constant('delete' as const), at: unit }),
  fc.record({ type: fc.constant('swap' as const), at: unit, other: unit }),
  fc.record({ type: fc.constant('duplicate' as const), at: unit, to: unit }),
  fc.record({ type: fc.constant('truncate' as const), keep: unit }),
);

const index = (fraction: number, length: number): number => Math.floor(fraction * length);

function edited(entry: AuditEntry, field: Field, salt: number): Partial<AuditEntry> {
  switch (field) {
    case 'actor':
      return { actor: `${entry.actor}-${salt}` };
    case 'outcome':
      return { outcome: entry.outcome === 'ok' ? 'error' : 'ok' };
    case 'seq':
      return { seq: entry.seq + salt };
    case 'time':
      return { time: new Date(Date.parse(entry.time) + salt).toISOString() };
    case 'prev':
      return { prev: hashEntry({ ...entry, prev: String(salt) }) };
    case 'hash':
      return { hash: hashEntry({ ...entry, actor: String(salt) }) };
    case 'details':
      return { details: { ...entry.details, extra: salt } };
  }
}

/** Applies `m` to `lines` in place; returns the kind verify must report, or undefined for a no-op. */
function mutate(lines: string[], m: Mutation): AuditProblemKind | undefined {
  const n = lines.length;
  switch (m.type) {
    case 'edit': {
      const i = index(m.at, n);
      lines[i] = editLine(lines[i], edited(parse(lines[i]), m.field, m.salt));
      return 'edited';
    }
    case 'delete': {
      const i = index(m.at, n);
      lines.splice(i, 1);
      return i === n - 1 ? 'truncated' : 'deleted';
    }
    case 'swap': {
      const i = index(m.at, n);
      const j = index(m.other, n);
      if (i === j) return undefined;
      [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
      return 'reordered';
    }
    case 'duplicate':
      lines.splice(index(m.to, n + 1), 0, lines[index(m.at, n)] ?? '');
      return 'inserted';
    case 'truncate':
      lines.length = index(m.keep, n);
      return 'truncated';
  }
}

describe('audit log properties', () => {
  it('any single edit, deletion, swap, duplication or truncation is reported, as exactly its kind', () => {
    fc.assert(
      fc.property(
        fc.array(events, { minLength: 2, maxLength: 25 }),
        fc.integer({ min: 1, max: 10 }),
        mutations,
        (evs, interval, m) => {
          const { lines, heads } = buildLog(evs, interval);
          expect(verifyChain(lines, heads, KEYS.publicKey).ok).toBe(true);
          const expected = mutate(lines, m);
          fc.pre(expected !== undefined);
          const report = verifyChain(lines, heads, KEYS.publicKey);
          expect(report.ok).toBe(false);
          expect(errorKinds(report)).toEqual([expected]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('canonical JSON does not depend on member order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(value));
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});
