import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import { POLICY_LIMITS, parseReleasePolicy, validateReleasePolicy } from '../../src/policy/index.js';

const SKR = new URL('../attest/data/skr/public_SKR_policy-datadisk.json', import.meta.url);
const skrText = readFileSync(SKR, 'utf8');

/** The problems a bad policy is refused for, as `path: message`. */
function problems(value: unknown): string[] {
  try {
    parseReleasePolicy(value, 'p.json');
  } catch (error) {
    if (isSealtrainError(error, 'ERR_POLICY_INVALID'))
      return [...((error.details.problems as string[]) ?? [])];
    throw error;
  }
  throw new Error('the policy was accepted');
}

const ok = (allOf: unknown[]) => ({
  version: '1.0.0',
  anyOf: [{ authority: 'https://a.example', allOf }],
});
const eq = { claim: 'x', equals: 'y' };

describe('parseReleasePolicy on the real Key Vault policy', () => {
  it('parses Azure data-disk policy (26 regional authorities) without warnings', () => {
    const { policy, warnings } = validateReleasePolicy(skrText, 'skr.json');
    expect(warnings).toEqual([]);
    expect(policy.version).toBe('1.0.0');
    expect(policy.anyOf).toHaveLength(26);
    expect(policy.anyOf[1]?.authority).toBe('https://sharedeus2.eus2.attest.azure.net/');
    expect(policy).toEqual(JSON.parse(skrText));
  });

  it('accepts the same policy without version as 1.0.0, with a warning', () => {
    const { version: _, ...rest } = JSON.parse(skrText) as Record<string, unknown>;
    const { policy, warnings } = validateReleasePolicy(rest, 'no-version.json');
    expect(policy.version).toBe('1.0.0');
    expect(warnings).toEqual(['Release policy no-version.json has no version; it is read as version 1.0.0.']);
  });

  it('keeps the grammar shape: parse of the parse output is the same', () => {
    const once = parseReleasePolicy(skrText);
    expect(parseReleasePolicy(JSON.stringify(once))).toEqual(once);
  });
});

describe('parseReleasePolicy refuses malformed policies, naming the path', () => {
  it.each<[string, unknown, string[]]>([
    ['not an object', [], ['(top level): must be an object, not an array']],
    ['another version', { ...ok([eq]), version: '2.0' }, ['version: must be "1.0.0", not "2.0"']],
    ['version as a number', { ...ok([eq]), version: 1 }, ['version: must be "1.0.0", not 1']],
    ['no anyOf', { version: '1.0.0' }, ['anyOf: is missing: a policy is an anyOf of authority rules']],
    ['empty anyOf', { version: '1.0.0', anyOf: [] }, ['anyOf: must list 1 to 64 authority rules, not 0']],
    ['an unknown top-level field', { ...ok([eq]), allOf: [] }, ['allOf: is not a field allowed here']],
    [
      'a miscased field',
      { ...ok([eq]), anyof: [] },
      ['anyof: is not a field allowed (field names are case-sensitive: did you mean anyOf?)'],
    ],
    ['no authority', { anyOf: [{ allOf: [eq] }] }, ['anyOf[0].authority: is missing']],
    [
      'an http authority',
      { anyOf: [{ authority: 'http://a.example', allOf: [eq] }] },
      [
        'anyOf[0].authority: "http://a.example" is not an https:// URL without credentials, query or fragment',
      ],
    ],
    [
      'a bare host authority',
      { anyOf: [{ authority: 'my.attestation.com', allOf: [eq] }] },
      [
        'anyOf[0].authority: "my.attestation.com" is not an https:// URL without credentials, query or fragment',
      ],
    ],
    [
      'an authority with a query',
      { anyOf: [{ authority: 'https://a.example/?x=1', allOf: [eq] }] },
      [
        'anyOf[0].authority: "https://a.example/?x=1" is not an https:// URL without credentials, query or fragment',
      ],
    ],
    [
      'a numeric authority',
      { anyOf: [{ authority: 5, allOf: [eq] }] },
      ["anyOf[0].authority: must be the attestation service's URL (a string), not a number"],
    ],
    [
      'a rule with both allOf and anyOf',
      { anyOf: [{ authority: 'https://a.example', allOf: [eq], anyOf: [eq] }] },
      ['anyOf[0]: has both allOf and anyOf; use one'],
    ],
    [
      'a rule without conditions',
      { anyOf: [{ authority: 'https://a.example' }] },
      ['anyOf[0]: needs allOf or anyOf'],
    ],
    ['an empty allOf', ok([]), ['anyOf[0].allOf: must list at least one condition']],
    [
      'an empty nested anyOf',
      ok([{ anyOf: [] }]),
      ['anyOf[0].allOf[0].anyOf: must list at least one condition'],
    ],
    [
      'allOf as an object',
      { anyOf: [{ authority: 'https://a.example', allOf: eq }] },
      ['anyOf[0].allOf: must be an array of conditions, not an object'],
    ],
    [
      'two operators',
      ok([{ claim: 'x', equals: 1, less: 2 }]),
      ['anyOf[0].allOf[0]: has 2 operators (equals, less); a condition takes exactly one'],
    ],
    [
      'no operator',
      ok([{ claim: 'x' }]),
      [
        'anyOf[0].allOf[0]: has no operator: add one of equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists',
      ],
    ],
    [
      'a misspelt operator',
      ok([{ claim: 'x', equal: 'y' }]),
      [
        'anyOf[0].allOf[0].equal: is not a field allowed',
        'anyOf[0].allOf[0]: has no operator: add one of equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists',
      ],
    ],
    [
      'an unknown field in a condition',
      ok([{ ...eq, note: 'hi' }]),
      ['anyOf[0].allOf[0].note: is not a field allowed'],
    ],
    [
      'claim mixed with allOf',
      ok([{ ...eq, allOf: [eq] }]),
      ['anyOf[0].allOf[0]: mixes claim with allOf; nest them instead'],
    ],
    [
      'both allOf and anyOf in a condition',
      ok([{ allOf: [eq], anyOf: [eq] }]),
      ['anyOf[0].allOf[0]: has both allOf and anyOf; nest one inside the other instead'],
    ],
    [
      'a condition that is neither',
      ok([{ foo: 1 }]),
      [
        'anyOf[0].allOf[0].foo: is not a field allowed',
        'anyOf[0].allOf[0]: is not a condition: it needs claim, allOf or anyOf',
      ],
    ],
    [
      'a condition that is a string',
      ok(['x == y']),
      ['anyOf[0].allOf[0]: must be a condition object, not a string'],
    ],
    [
      'a numeric claim name',
      ok([{ claim: 5, equals: 1 }]),
      ['anyOf[0].allOf[0].claim: must be a claim name (a string), not a number'],
    ],
    [
      'an empty claim name',
      ok([{ claim: '', equals: 1 }]),
      ['anyOf[0].allOf[0].claim: must be 1 to 256 characters, not 0'],
    ],
    [
      'an empty claim part',
      ok([{ claim: 'a..b', equals: 1 }]),
      ['anyOf[0].allOf[0].claim: "a..b" has an empty part: dotted claim names look like a.b.c'],
    ],
    [
      'an object value',
      ok([{ claim: 'x', equals: { a: 1 } }]),
      ['anyOf[0].allOf[0].equals: must be a string, number or boolean, not an object'],
    ],
    [
      'an array value',
      ok([{ claim: 'x', notEquals: [1] }]),
      ['anyOf[0].allOf[0].notEquals: must be a string, number or boolean, not an array'],
    ],
    [
      'a null value',
      ok([{ claim: 'x', equals: null }]),
      ['anyOf[0].allOf[0].equals: must be a string, number or boolean, not null'],
    ],
    [
      'a string for less',
      ok([{ claim: 'x', less: '5' }]),
      ['anyOf[0].allOf[0].less: must be a number (less compares numbers), not a string'],
    ],
    [
      'a boolean for greaterOrEquals',
      ok([{ claim: 'x', greaterOrEquals: true }]),
      [
        'anyOf[0].allOf[0].greaterOrEquals: must be a number (greaterOrEquals compares numbers), not a boolean',
      ],
    ],
    [
      'a string for exists',
      ok([{ claim: 'x', exists: 'true' }]),
      ['anyOf[0].allOf[0].exists: must be true or false, not a string'],
    ],
    [
      'an over-long value',
      ok([{ claim: 'x', equals: 'a'.repeat(1025) }]),
      ['anyOf[0].allOf[0].equals: is 1025 characters, over the limit of 1024'],
    ],
  ])('refuses %s', (_name, value, expected) => {
    expect(problems(value)).toEqual(expected);
  });

  it('reports every problem, in order, and names the first path in details', () => {
    const bad = { version: '9', anyOf: [{ authority: 'x', allOf: [{ claim: 'a', less: 'b' }] }] };
    let details: Record<string, unknown> = {};
    try {
      parseReleasePolicy(bad, 'bad.json');
    } catch (error) {
      if (!isSealtrainError(error)) throw error;
      expect(error.message).toBe(
        'Release policy bad.json is invalid: version: must be "1.0.0", not "9"; anyOf[0].authority: "x" is not an https:// URL without credentials, query or fragment; anyOf[0].allOf[0].less: must be a number (less compares numbers), not a string.',
      );
      details = { ...error.details };
    }
    expect(details.path).toBe('version');
  });

  it('refuses text that is not JSON, and text over the size limit', () => {
    expect(() => parseReleasePolicy('{', 'p.json')).toThrow('Release policy p.json is not JSON.');
    const big = JSON.stringify({ ...ok([eq]), pad: ' '.repeat(POLICY_LIMITS.bytes) });
    expect(problems(big)).toEqual([
      `(top level): is ${Buffer.byteLength(big)} bytes, over the limit of 65536`,
    ]);
  });

  it('refuses nesting deeper than the limit, without recursing further', () => {
    let deep: unknown = eq;
    for (let i = 0; i < 10_000; i++) deep = { anyOf: [deep] };
    const found = problems({ anyOf: [{ authority: 'https://a.example', allOf: [deep] }] });
    expect(found).toEqual([
      `anyOf[0].allOf${'[0].anyOf'.repeat(POLICY_LIMITS.depth)}: nests allOf/anyOf deeper than 8 levels`,
    ]);
  });

  it('accepts nesting at the limit', () => {
    let deep: unknown = eq;
    for (let i = 0; i < POLICY_LIMITS.depth - 1; i++) deep = { anyOf: [deep] };
    expect(() => parseReleasePolicy(ok([deep]))).not.toThrow();
  });

  it('refuses too many rules, too many entries in one list, and too many conditions', () => {
    const rule = { authority: 'https://a.example', allOf: [eq] };
    expect(problems({ anyOf: Array(65).fill(rule) })).toEqual([
      'anyOf: must list 1 to 64 authority rules, not 65',
    ]);
    expect(problems(ok(Array(65).fill(eq)))).toEqual([
      'anyOf[0].allOf: lists 65 conditions, over the limit of 64',
    ]);
    const wide = { anyOf: Array(40).fill({ authority: 'https://a.example', allOf: Array(30).fill(eq) }) };
    expect(problems(wide)).toEqual([
      'anyOf[34].allOf[4]: is past the limit of 1024 conditions in one policy',
    ]);
  });

  it('stops after 20 problems', () => {
    expect(problems(ok(Array(40).fill({ claim: 'x', less: 'a' })))).toHaveLength(20);
  });
});
