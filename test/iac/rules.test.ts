import { describe, expect, it } from 'vitest';
import { RULES } from '../../src/iac/index.js';
import { ALL_CASES } from './fixtures/all-cases.js';
import { findingOf, scanText } from './helpers.js';

describe('every rule has passing and failing fixtures', () => {
  it.each(RULES.map((r) => r.id))('%s', (id) => {
    const statuses = new Set(ALL_CASES.filter((c) => c.rule === id).map((c) => c.status));
    expect(statuses.has('pass'), `${id} has a passing fixture`).toBe(true);
    expect(statuses.has('fail') || statuses.has('warn'), `${id} has a failing fixture`).toBe(true);
  });
});

describe('rule fixtures', () => {
  it.each(ALL_CASES.map((c) => [`${c.rule} ${c.status}: ${c.why}`, c] as const))('%s', async (_, c) => {
    const report = await scanText(c.hcl, {}, c.env ? { env: c.env } : {});
    expect(report.problems).toEqual([]);
    const f = findingOf(report, c.rule, c.resource);
    expect(f.status, f.message).toBe(c.status);
  });
});
