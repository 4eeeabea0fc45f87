import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendEntry, canonicalJson, type SignedHead, verifyChain } from '../../src/audit/index.js';
import { buildLog, editLine, errorKinds, KEYS, parse, sampleEvents, steppingClock } from './helpers.js';

/** Ten entries (seq 0–9) with heads at seq 3, 7 and 9. */
const base = () => buildLog(sampleEvents(10), 4);
const verify = (lines: string[], heads: string[], options = {}) =>
  verifyChain(lines, heads, KEYS.publicKey, options);

describe('verifyChain', () => {
  it('accepts an untouched log and reports where it is signed through', () => {
    const { lines, heads, state } = base();
    const report = verify(lines, heads);
    expect(report).toEqual({
      ok: true,
      entries: 10,
      signedThrough: 9,
      last: { seq: 9, hash: state.head },
      problems: [],
    });
  });

  it('accepts an empty log', () => {
    expect(verify([], [])).toEqual({ ok: true, entries: 0, signedThrough: null, last: null, problems: [] });
  });

  it('names an edited entry by seq and line', () => {
    const { lines, heads } = base();
    lines[2] = (lines[2] ?? '').replace('"actor":"carol@host"', '"actor":"mallory@host"');
    const report = verify(lines, heads);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'edited', seq: 2, line: 3, source: 'log' }),
    ]);
  });

  it('names an edited entry whose hash was recomputed: the one its successor no longer links to', () => {
    const { lines, heads } = base();
    lines[4] = editLine(lines[4], { actor: 'mallory@host' }, true);
    const report = verify(lines, heads);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'edited', seq: 4, line: 5 })]);
  });

  it('names an entry whose prev was changed and hash recomputed', () => {
    const { lines, heads } = base();
    lines[5] = editLine(lines[5], { prev: 'ab'.repeat(32) }, true);
    expect(verify(lines, heads).problems).toEqual([
      expect.objectContaining({ kind: 'edited', seq: 5, line: 6 }),
    ]);
  });

  it('detects a rewrite of the whole chain after an entry against the signed heads', () => {
    const { lines, heads } = base();
    let prev = parse(lines[3]).hash;
    for (let i = 4; i < lines.length; i++) {
      const changes = i === 4 ? { prev, actor: 'mallory@host' } : { prev };
      lines[i] = editLine(lines[i], changes, true);
      prev = parse(lines[i]).hash;
    }
    const report = verify(lines, heads);
    expect(errorKinds(report)).toEqual(['head-mismatch']);
    expect(report.problems.filter((p) => p.kind === 'head-mismatch').map((p) => p.seq)).toEqual([7, 9]);
    expect(report.signedThrough).toBe(3);
  });

  it('names deleted entries', () => {
    const { lines, heads } = base();
    lines.splice(5, 1);
    const one = verify(lines, heads);
    expect(one.problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 5, line: 6 })]);
    expect(one.problems[0]?.message).toContain('seq 5');
    lines.splice(0, 1);
    const two = verify(lines, heads);
    expect(two.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['deleted', 0],
      ['deleted', 5],
    ]);
  });

  it('names several consecutive deleted entries in one problem', () => {
    const { lines, heads } = base();
    lines.splice(2, 3);
    const report = verify(lines, heads);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ kind: 'deleted', seq: 2, line: 3 });
    expect(report.problems[0]?.message).toContain('seq 2–4');
  });

  it('names a duplicated line as inserted', () => {
    const { lines, heads } = base();
    lines.splice(6, 0, lines[3] ?? '');
    const report = verify(lines, heads);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'inserted', seq: 3, line: 7 })]);
    expect(report.problems[0]?.message).toContain('repeats entry seq 3 from line 4');
  });

  it('names a forged entry that reuses a seq as inserted, keeping the one the chain links to', () => {
    const { lines, heads } = base();
    const before = parse(lines[4]);
    const forged = appendEntry(
      { next: 5, head: before.hash },
      { actor: 'mallory@host', action: 'keys.export', outcome: 'ok' },
    );
    lines.splice(5, 0, forged.line);
    const report = verify(lines, heads);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'inserted', seq: 5, line: 6 })]);
  });

  it('names reordered entries', () => {
    const { lines, heads } = base();
    [lines[2], lines[6]] = [lines[6] ?? '', lines[2] ?? ''];
    const report = verify(lines, heads);
    expect(errorKinds(report)).toEqual(['reordered']);
    expect(report.problems.map((p) => [p.seq, p.line])).toEqual([
      [6, 3],
      [2, 7],
    ]);
  });

  it('names an adjacent swap as reordered', () => {
    const { lines, heads } = base();
    [lines[4], lines[5]] = [lines[5] ?? '', lines[4] ?? ''];
    const report = verify(lines, heads);
    expect(errorKinds(report)).toEqual(['reordered']);
    expect(report.problems).toHaveLength(1);
  });

  it('detects truncation before the last signed head', () => {
    const { lines, heads } = base();
    const report = verify(lines.slice(0, 7), heads);
    expect(errorKinds(report)).toEqual(['truncated']);
    expect(report.problems[0]).toMatchObject({ kind: 'truncated', source: 'heads', seq: 7, line: 3 });
    expect(report.signedThrough).toBe(3);
    expect(report.problems.find((p) => p.kind === 'unsigned-tail')).toMatchObject({
      severity: 'warning',
      seq: 4,
    });
  });

  it('cannot see truncation of unsigned entries, except against a pinned head', () => {
    const { lines, heads, state } = buildLog(sampleEvents(8), 4);
    const more = buildLog(sampleEvents(10), 4);
    const cut = more.lines.slice(0, 8);
    expect(lines).toEqual(cut);
    expect(verify(cut, heads).ok).toBe(true);
    const pinned = { seq: 9, hash: more.state.head };
    const report = verify(cut, heads, { expectedHead: pinned });
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'truncated', source: 'pinned', seq: 8 }),
    ]);
    expect(verify(more.lines, more.heads, { expectedHead: pinned }).ok).toBe(true);
    const other = verify(more.lines, more.heads, {
      expectedHead: { seq: 7, hash: state.head.replace(/^./, 'f') },
    });
    expect(errorKinds(other)).toEqual(['head-mismatch']);
  });

  it('detects a changed head and a changed signature', () => {
    const { lines, heads } = base();
    const head = JSON.parse(heads[1] ?? '') as SignedHead;
    heads[1] = JSON.stringify({ ...head, time: '2030-01-01T00:00:00.000Z' });
    const sig = head.sig.startsWith('A') ? `B${head.sig.slice(1)}` : `A${head.sig.slice(1)}`;
    heads[2] = (heads[2] ?? '').replace(/"sig":"[^"]+"/, `"sig":"${sig}"`);
    const report = verify(lines, heads);
    expect(
      report.problems.filter((p) => p.severity === 'error').map((p) => [p.kind, p.source, p.line]),
    ).toEqual([
      ['bad-signature', 'heads', 2],
      ['bad-signature', 'heads', 3],
    ]);
    expect(report.signedThrough).toBe(3);
  });

  it('rejects heads signed by another key when the public key is pinned', () => {
    const other = generateKeyPairSync('ed25519');
    const { lines, heads } = buildLog(sampleEvents(10), 4, other.privateKey);
    const report = verify(lines, heads);
    expect(errorKinds(report)).toEqual(['bad-signature']);
    expect(report.problems.filter((p) => p.kind === 'bad-signature')).toHaveLength(3);
    expect(report.problems[0]?.message).toMatch(/signed by key [0-9a-f]{12}…, not by the trusted key/);
    expect(report.signedThrough).toBeNull();
    expect(report.problems.at(-1)).toMatchObject({ kind: 'unsigned-tail', severity: 'warning', seq: 0 });
    expect(verifyChain(lines, heads, other.publicKey).ok).toBe(true);
  });

  it('reports malformed lines in either file', () => {
    const { lines, heads } = base();
    lines[4] = 'not json';
    lines[6] = canonicalJson(parse(lines[6]));
    heads[0] = '{"v":1}';
    const report = verify(lines, heads);
    expect(report.problems.map((p) => [p.kind, p.source, p.seq, p.line])).toEqual([
      ['malformed', 'log', undefined, 5],
      ['malformed', 'log', 6, 7],
      ['malformed', 'heads', undefined, 1],
    ]);
    expect(report.problems[1]?.message).toContain('exact form');
  });

  it('reports every problem, not only the first', () => {
    const { lines, heads } = base();
    lines[2] = editLine(lines[2], { outcome: 'error' });
    lines.splice(6, 1);
    lines.push('{"torn":');
    const report = verify(lines, heads);
    expect(report.problems.map((p) => [p.kind, p.seq, p.line])).toEqual([
      ['edited', 2, 3],
      ['malformed', undefined, 10],
      ['deleted', 6, 7],
    ]);
  });

  it('treats entries after the last head as a warning, or an error when strict', () => {
    const { lines, heads } = buildLog(sampleEvents(6), 4);
    const unsigned = lines.concat(buildLog(sampleEvents(8)).lines.slice(6));
    const lax = verify(unsigned, heads.slice(0, 1));
    expect(lax.ok).toBe(true);
    expect(lax.problems).toEqual([
      expect.objectContaining({ kind: 'unsigned-tail', severity: 'warning', seq: 4, line: 5 }),
    ]);
    const strict = verify(unsigned, heads.slice(0, 1), { strict: true });
    expect(strict.ok).toBe(false);
    expect(strict.problems[0]?.severity).toBe('error');
  });

  it('uses the clock it is given', () => {
    const { line } = appendEntry(
      { next: 0, head: '0'.repeat(64) },
      sampleEvents(1)[0] ?? { actor: 'a', action: 'a', outcome: 'ok' },
      {
        clock: steppingClock(0),
      },
    );
    expect(parse(line).time).toBe('1970-01-01T00:00:00.000Z');
  });
});
