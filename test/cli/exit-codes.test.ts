import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';

const DOC = new URL('../../docs/errors.md', import.meta.url);

async function documentedTable(): Promise<Map<string, number>> {
  const text = await readFile(DOC, 'utf8');
  const rows = new Map<string, number>();
  for (const m of text.matchAll(/^\|\s*`(ERR_[A-Z_]+)`\s*\|\s*(\d+)\s*\|/gm))
    rows.set(m[1] ?? '', Number(m[2]));
  return rows;
}

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes in the union, with the exit codes the CLI uses', async () => {
    const doc = await documentedTable();
    expect([...doc.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(doc.get(code), code).toBe(EXIT_CODES[code]);
  });

  it('gives every code its own exit code, clear of 0, 1 and the signal range', () => {
    const values = Object.values(EXIT_CODES);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(v).toBeGreaterThan(1);
      expect(v).toBeLessThan(126);
    }
  });

  it('names every code ERR_<AREA>_<REASON> (ERR_INTERNAL alone has no reason)', () => {
    for (const code of ERROR_CODES.filter((c) => c !== 'ERR_INTERNAL'))
      expect(code).toMatch(/^ERR_[A-Z]+_[A-Z_]+$/);
  });
});
