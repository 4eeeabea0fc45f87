import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { formatJunit, formatSarif, formatText, RULES, rulesMarkdown } from '../../src/iac/index.js';
import { scanText } from './helpers.js';

// The SARIF 2.1.0 JSON Schema (draft-04) as published with @microsoft/jest-sarif (MIT): we
// validate against the schema file itself, not against our own reading of it.
const require = createRequire(import.meta.url);
const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
const SCHEMA = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

interface SarifResult {
  ruleId: string;
  level: string;
  kind: string;
  locations: { physicalLocation: unknown }[];
  suppressions?: { kind: string }[];
}
interface SarifRun {
  tool: { driver: { rules: unknown[] } };
  results: SarifResult[];
  invocations: {
    toolExecutionNotifications: { locations: { physicalLocation: { region: { startLine: number } } }[] }[];
  }[];
}

const runOf = (log: Record<string, unknown>): SarifRun => (log.runs as SarifRun[])[0] as SarifRun;
const resultOf = (run: SarifRun, id: string): SarifResult =>
  run.results.find((r) => r.ruleId === id) as SarifResult;

const SAMPLE = `
resource "azurerm_storage_account" "sa" {
  name = "sa"
  # sealtrain:ignore ST-10 double encryption is not needed for this account
  min_tls_version = "TLS1_0"
}
variable "open" {}
resource "azurerm_key_vault" "kv" {
  public_network_access_enabled = var.open
}
`;

async function sample() {
  return scanText(SAMPLE, { 'bad.tf': 'resource "a" "b" {\n  x = \n}\n' });
}

describe('SARIF', () => {
  it('is valid SARIF 2.1.0 by its JSON Schema, with rules, locations, suppressions and parse errors', async () => {
    // unicodeRegExp off: one pattern in this schema revision (the language tag) is not a valid Unicode regexp.
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA, 'utf8')));
    const log = formatSarif(await sample(), { toolVersion: '0.1.0' });
    expect(validate(log), JSON.stringify(validate.errors, null, 1)).toBe(true);
    const run = runOf(log);
    expect(run.tool.driver.rules).toHaveLength(RULES.length);
    const st02 = resultOf(run, 'ST-02');
    expect(st02.locations[0]?.physicalLocation).toEqual({
      artifactLocation: { uri: 'main.tf' },
      region: { startLine: 5 },
    });
    expect(st02.level).toBe('error');
    expect(resultOf(run, 'ST-10').suppressions?.[0]?.kind).toBe('inSource');
    expect([resultOf(run, 'KV-04').kind, resultOf(run, 'KV-04').level]).toEqual(['review', 'none']);
    expect(
      run.invocations[0]?.toolExecutionNotifications[0]?.locations[0]?.physicalLocation.region.startLine,
    ).toBe(2);
  });
  it('an invalid log is rejected by the same schema (the check is not vacuous)', async () => {
    const ajv = new Ajv({ strict: false, unicodeRegExp: false });
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA, 'utf8')));
    const log = formatSarif(await sample());
    (runOf(log).results[0] as SarifResult).level = 'fatal';
    expect(validate(log)).toBe(false);
  });
});

describe('JUnit and text', () => {
  it('JUnit has a suite per resource, failures for failed rules and errors for parse problems', async () => {
    const xml = formatJunit(await sample());
    expect(xml).toMatch(/^<\?xml version="1.0"/);
    expect(xml).toMatch(/<testsuite name="azurerm_storage_account.sa" tests="\d+" failures="\d+"/);
    expect(xml).toMatch(/<failure type="high" message="min_tls_version = TLS1_0">main.tf:5 /);
    expect(xml).toMatch(/<skipped message="UNKNOWN: public_network_access_enabled cannot be resolved/);
    expect(xml).toMatch(/<testsuite name="parse" tests="1" failures="0" errors="1"/);
    expect(xml.split('<testsuite ').length - 1).toBe(3);
  });
  it('text groups findings by resource with file:line and ends with a summary', async () => {
    const text = formatText(await sample());
    expect(text).toMatch(/^azurerm_storage_account\.sa {2}\(main\.tf\)\n {2}FAIL {4}high {5}ST-02 /m);
    expect(text).toMatch(/\(main\.tf:5\)/);
    expect(text).toMatch(/^PARSE ERROR bad\.tf:2:7: /m);
    expect(text).toMatch(/1 suppressed, 0 baselined\.$/);
    expect(text).not.toMatch(/ST-10/);
    expect(formatText(await sample(), { all: true })).toMatch(/ST-10 .*\[ignored: double encryption/);
  });
});

describe('docs/scan.md', () => {
  it('lists exactly the rules in the code, with the same severity, fix and other tools', async () => {
    const doc = await readFile(new URL('../../docs/scan.md', import.meta.url), 'utf8');
    const cells = (row: string) =>
      row
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim().replace(/\s+/g, ' '));
    const rows = (text: string) =>
      text
        .split('\n')
        .filter((l) => /^\|\s*[A-Z]+-\d+[a-z]?\s*\|/.test(l))
        .map(cells);
    expect(rows(doc)).toEqual(rows(rulesMarkdown()));
  });
});
