import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Claims } from '../../src/attest/index.js';
import {
  type ClaimNode,
  type ExplainNode,
  evaluatePolicy,
  explainText,
  failedConditions,
  parseReleasePolicy,
  policyAllowsSim,
  type ReleasePolicy,
} from '../../src/policy/index.js';

const DATA = new URL('../attest/data/', import.meta.url);
const skr = parseReleasePolicy(readFileSync(new URL('skr/public_SKR_policy-datadisk.json', DATA), 'utf8'));
const token = readFileSync(new URL('maa/attestation.txt', DATA), 'utf8').trim();
const maaClaims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Claims;
const EUS2 = 'https://sharedeus2.eus2.attest.azure.net';
const A = 'https://a.example';

const one = (condition: unknown) => parseReleasePolicy({ anyOf: [{ authority: A, allOf: [condition] }] });
const leaf = (d: ReturnType<typeof evaluatePolicy>): ClaimNode => {
  const rule = d.explanation[0];
  if (rule?.kind !== 'authority' || rule.children[0]?.kind !== 'claim') throw new Error('no leaf');
  return rule.children[0];
};

describe('evaluatePolicy with the real SKR policy and the real MAA token', () => {
  it('allows the token from sharedeus2, naming the rule', () => {
    const d = evaluatePolicy(skr, maaClaims, { authority: EUS2 });
    expect(d.allowed).toBe(true);
    expect(d.matchedRule).toBe(1);
    const rule = d.explanation[1];
    expect(rule).toMatchObject({
      kind: 'authority',
      authorityMatched: true,
      conditionsPassed: true,
      passed: true,
    });
    expect(explainText(d)).toContain(`ALLOWED by anyOf[1] (token issuer ${EUS2}).`);
    expect(failedConditions(d)).toEqual([]);
  });

  it('matches authorities with and without a trailing slash, scheme and host in any case', () => {
    expect(evaluatePolicy(skr, maaClaims, { authority: `${EUS2}/` }).matchedRule).toBe(1);
    expect(
      evaluatePolicy(skr, maaClaims, { authority: 'HTTPS://SHAREDEUS2.eus2.attest.azure.net' }).matchedRule,
    ).toBe(1);
    // The policy writes sharedscus without a slash; an issuer with one matches too.
    expect(
      evaluatePolicy(skr, maaClaims, { authority: 'https://sharedscus.scus.attest.azure.net/' }).matchedRule,
    ).toBe(2);
  });

  it('denies the same claims from another authority, and the explanation names it', () => {
    const other = 'https://evil.example.net';
    const d = evaluatePolicy(skr, maaClaims, { authority: other });
    expect(d.allowed).toBe(false);
    expect(
      d.explanation.every((n) => n.kind === 'authority' && !n.authorityMatched && n.conditionsPassed),
    ).toBe(true);
    const text = explainText(d);
    expect(text.split('\n')[0]).toBe(
      `DENIED: no rule names the token issuer as its authority (token issuer ${other}).`,
    );
    expect(text).toContain(
      `FAIL anyOf[1] authority https://sharedeus2.eus2.attest.azure.net/ (allOf): the token was issued by ${other}, not by this authority (its conditions hold)`,
    );
    expect(failedConditions(d)).toHaveLength(26);
  });

  it('denies when no issuer is given', () => {
    const d = evaluatePolicy(skr, maaClaims);
    expect(d.allowed).toBe(false);
    expect(explainText(d).split('\n')[0]).toBe(
      'DENIED: no rule names the token issuer as its authority (no token issuer given).',
    );
  });

  it('denies a non-compliant VM from the right authority, naming the failing claim', () => {
    const tee = maaClaims['x-ms-isolation-tee'] as Record<string, unknown>;
    const claims = {
      ...maaClaims,
      'x-ms-isolation-tee': { ...tee, 'x-ms-compliance-status': 'nope' },
    } as Claims;
    const d = evaluatePolicy(skr, claims, { authority: EUS2 });
    expect(d.allowed).toBe(false);
    const failed = failedConditions(d) as ClaimNode[];
    expect(failed.map((n) => [n.path, n.claim, n.reason])).toEqual([
      [
        'anyOf[1].allOf[1]',
        'x-ms-isolation-tee.x-ms-compliance-status',
        'found "nope"; wanted equals "azure-compliant-cvm"',
      ],
    ]);
    expect(explainText(d)).toContain(
      'FAIL x-ms-isolation-tee.x-ms-compliance-status: found "nope"; wanted equals "azure-compliant-cvm"',
    );
  });
});

describe('operators', () => {
  const claims: Claims = { s: 'abc', n: 5, b: false, z: null, o: { inner: 7 }, arr: [1] };
  it.each<[unknown, boolean, string]>([
    [{ claim: 's', equals: 'abc' }, true, 'found "abc"; wanted equals "abc"'],
    [{ claim: 's', equals: 'ABC' }, false, 'found "abc"; wanted equals "ABC"'],
    [{ claim: 'n', equals: 5 }, true, 'found 5; wanted equals 5'],
    [{ claim: 'n', equals: '5' }, false, 'a number (5), not a string; wanted equals "5"'],
    [{ claim: 'b', equals: false }, true, 'found false; wanted equals false'],
    [{ claim: 'b', equals: true }, false, 'found false; wanted equals true'],
    [{ claim: 's', notEquals: 'x' }, true, 'found "abc"; wanted notEquals "x"'],
    [{ claim: 's', notEquals: 'abc' }, false, 'found "abc"; wanted notEquals "abc"'],
    [{ claim: 'b', notEquals: 0 }, false, 'a boolean (false), not a number; wanted notEquals 0'],
    [{ claim: 'n', less: 6 }, true, 'found 5; wanted less 6'],
    [{ claim: 'n', less: 5 }, false, 'found 5; wanted less 5'],
    [{ claim: 'n', lessOrEquals: 5 }, true, 'found 5; wanted lessOrEquals 5'],
    [{ claim: 'n', lessOrEquals: 4 }, false, 'found 5; wanted lessOrEquals 4'],
    [{ claim: 'n', greater: 4 }, true, 'found 5; wanted greater 4'],
    [{ claim: 'n', greater: 5 }, false, 'found 5; wanted greater 5'],
    [{ claim: 'n', greaterOrEquals: 5 }, true, 'found 5; wanted greaterOrEquals 5'],
    [{ claim: 'n', greaterOrEquals: 6 }, false, 'found 5; wanted greaterOrEquals 6'],
    [{ claim: 's', greater: 1 }, false, 'a string ("abc"), not a number; wanted greater 1'],
    [{ claim: 's', exists: true }, true, 'present ("abc"); wanted present'],
    [{ claim: 'nope', exists: true }, false, 'absent; wanted present'],
    [{ claim: 'nope', exists: false }, true, 'absent; wanted absent'],
    [{ claim: 's', exists: false }, false, 'present ("abc"); wanted absent'],
    [{ claim: 'z', exists: true }, true, 'present (null); wanted present'],
    [{ claim: 'o.inner', equals: 7 }, true, 'found 7; wanted equals 7'],
    [{ claim: 'o', equals: 7 }, false, 'an object, which does not compare; wanted equals 7'],
    [{ claim: 'arr', equals: 1 }, false, 'an array, which does not compare; wanted equals 1'],
    [{ claim: 'z', equals: 'null' }, false, 'null, which does not compare; wanted equals "null"'],
  ])('%j on the claims → %s', (condition, passed, reason) => {
    const node = leaf(evaluatePolicy(one(condition), claims, { authority: A }));
    expect([node.passed, node.reason]).toEqual([passed, reason]);
  });

  it.each(['equals', 'notEquals', 'less', 'greaterOrEquals'])('a missing claim fails %s', (op) => {
    const node = leaf(evaluatePolicy(one({ claim: 'a.b.c', [op]: 1 }), {}, { authority: A }));
    expect(node).toMatchObject({ passed: false, present: false, reason: `absent; wanted ${op} 1` });
    expect(node).not.toHaveProperty('found');
  });

  it('never reads inherited properties as claims', () => {
    for (const claim of ['constructor', '__proto__', 'toString', 's.length'])
      expect(leaf(evaluatePolicy(one({ claim, exists: true }), { s: 'abc' }, { authority: A })).passed).toBe(
        false,
      );
  });
});

describe('nested allOf / anyOf', () => {
  const policy = parseReleasePolicy({
    anyOf: [
      {
        authority: A,
        anyOf: [
          {
            allOf: [
              { claim: 'a', equals: 1 },
              {
                anyOf: [
                  { claim: 'b', equals: 2 },
                  { claim: 'c', equals: 3 },
                ],
              },
            ],
          },
          { claim: 'd', equals: 4 },
        ],
      },
    ],
  });
  it.each<[Claims, boolean]>([
    [{ a: 1, b: 2 }, true],
    [{ a: 1, c: 3 }, true],
    [{ d: 4 }, true],
    [{ a: 1 }, false],
    [{ b: 2, c: 3 }, false],
    [{}, false],
  ])('%j → %s', (claims, allowed) => {
    expect(evaluatePolicy(policy, claims, { authority: A }).allowed).toBe(allowed);
  });

  it('explains every level and lists only the conditions that made it fail', () => {
    const d = evaluatePolicy(policy, { a: 1, b: 9 }, { authority: A });
    const paths = (nodes: readonly ExplainNode[]) => nodes.map((n) => `${n.path} ${n.passed}`);
    expect(paths(failedConditions(d))).toEqual([
      'anyOf[0].anyOf[0].allOf[1].anyOf[0] false',
      'anyOf[0].anyOf[0].allOf[1].anyOf[1] false',
      'anyOf[0].anyOf[1] false',
    ]);
    expect(explainText(d)).toBe(
      [
        'DENIED: no rule holds (token issuer https://a.example).',
        '  FAIL anyOf[0] authority https://a.example (anyOf): the token issuer matches; its conditions fail',
        '    FAIL allOf: 1 of 2 fail',
        '      ok   a: found 1; wanted equals 1',
        '      FAIL anyOf: none of 2 holds',
        '        FAIL b: found 9; wanted equals 2',
        '        FAIL c: absent; wanted equals 3',
        '    FAIL d: absent; wanted equals 4',
      ].join('\n'),
    );
  });
});

describe('policyAllowsSim', () => {
  it('is false for the real SKR policy', () => {
    expect(policyAllowsSim(skr)).toBe(false);
  });
  it.each(['x-ms-attestation-type', 'x-ms-isolation-tee.x-ms-attestation-type'])(
    'is true when a rule has %s equals sim, even nested',
    (claim) => {
      const p = parseReleasePolicy({
        anyOf: [
          {
            authority: A,
            allOf: [
              {
                anyOf: [
                  { claim, equals: 'sevsnpvm' },
                  { claim, equals: 'sim' },
                ],
              },
            ],
          },
        ],
      });
      expect(policyAllowsSim(p)).toBe(true);
    },
  );
  it('is false for notEquals sim, for sim on another claim, and for SIM in capitals', () => {
    for (const c of [
      { claim: 'x-ms-attestation-type', notEquals: 'sim' },
      { claim: 'x-ms-compliance-status', equals: 'sim' },
      { claim: 'x-ms-attestation-type', equals: 'SIM' },
    ])
      expect(policyAllowsSim(one(c))).toBe(false);
  });
});

describe('policies built in code', () => {
  it('never allows through an empty group, which parsing would have refused', () => {
    const policy = {
      version: '1.0.0',
      anyOf: [{ authority: 'https://a.example', allOf: [] }],
    } as unknown as ReleasePolicy;
    expect(evaluatePolicy(policy, {}, { authority: 'https://a.example' }).allowed).toBe(false);
  });
});
