import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/index.js';
import { RULES } from '../../src/iac/index.js';
import { cli } from '../helpers/cli.js';

let dir: string;
const MAIN = `
resource "azurerm_storage_account" "sa" {
  name                            = "sa"
  public_network_access_enabled   = false
  allow_nested_items_to_be_public = false
  min_tls_version                 = "TLS1_0"
}
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-scan-'));
  await writeFile(join(dir, 'main.tf'), MAIN);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const home = () => ['--home', join(dir, 'home')];

describe('sealtrain scan', () => {
  it('prints the table on stdout and exits 0 without --fail-on', async () => {
    const r = await cli(['scan', dir, ...home()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(
      /azurerm_storage_account\.sa .*\n {2}FAIL {4}high {5}ST-02 .*main\.tf:6\)/,
    );
  });

  it('--json prints one JSON object with the summary and the findings', async () => {
    const r = await cli(['scan', dir, '--json', ...home()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.ok).toBe(true);
    expect(((r.json?.summary ?? {}) as Record<string, number>).fail).toBeGreaterThan(0);
    expect(((r.json?.findings ?? []) as { ruleId: string }[]).some((f) => f.ruleId === 'ST-02')).toBe(true);
  });

  it('--fail-on high exits ERR_IAC_FINDINGS and lists the failures; --fail-on with a threshold above them passes', async () => {
    const r = await cli(['scan', dir, '--fail-on', 'high', '--json', ...home()]);
    expect(r.code).toBe(EXIT_CODES.ERR_IAC_FINDINGS);
    const error = r.json?.error as { code: string; details: { failures: string[] } };
    expect(error.code).toBe('ERR_IAC_FINDINGS');
    expect(error.details.failures.join('\n')).toMatch(/ST-02 azurerm_storage_account\.sa \(.*main\.tf:6\)/);
    const ok = await cli(['scan', dir, '--fail-on', 'critical', ...home()]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a baseline written from the findings accepts them next time', async () => {
    const baseline = join(dir, 'baseline.json');
    expect((await cli(['scan', dir, '--write-baseline', baseline, ...home()])).code).toBe(0);
    const r = await cli(['scan', dir, '--baseline', baseline, '--fail-on', 'info', ...home()]);
    expect(r.code, r.stderr).toBe(0);
    await writeFile(join(dir, 'bad-baseline.json'), '{"version": 1}');
    const bad = await cli(['scan', dir, '--baseline', join(dir, 'bad-baseline.json'), ...home()]);
    expect(bad.code).toBe(EXIT_CODES.ERR_IAC_BASELINE_INVALID);
    expect(bad.stderr).toMatch(/"findings" must be a list/);
  });

  it('--format sarif -o writes a SARIF log; --format junit prints XML on stdout', async () => {
    const out = join(dir, 'scan.sarif');
    const r = await cli(['scan', dir, '--format', 'sarif', '-o', out, ...home()]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(out, 'utf8')).version).toBe('2.1.0');
    const x = await cli(['scan', join(dir, 'main.tf'), '--format', 'junit', ...home()]);
    expect(x.stdout.toString()).toMatch(/^<\?xml/);
  });

  it('a malformed file exits ERR_IAC_PARSE with file and line, after scanning the others', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'sealtrain-scan-bad-'));
    try {
      await writeFile(join(bad, 'main.tf'), MAIN);
      await writeFile(join(bad, 'broken.tf'), 'resource "a" "b" {\n  x = \n}\n');
      const r = await cli(['scan', bad, ...home()]);
      expect(r.code).toBe(EXIT_CODES.ERR_IAC_PARSE);
      expect(r.stderr).toMatch(/broken\.tf:2:\d+: .*\[ERR_IAC_PARSE\]/);
      expect(r.stdout.toString()).toMatch(/ST-02/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('--format json prints the whole report, passes included', async () => {
    const r = await cli(['scan', dir, '--format', 'json', ...home()]);
    const report = JSON.parse(r.stdout.toString()) as { findings: { status: string }[]; files: number };
    expect(report.files).toBe(1);
    expect(report.findings.some((f) => f.status === 'pass')).toBe(true);
  });

  it('UNKNOWN counts for --fail-on only with --fail-on-unknown', async () => {
    const unresolved = await mkdtemp(join(tmpdir(), 'sealtrain-scan-unknown-'));
    try {
      await writeFile(
        join(unresolved, 'main.tf'),
        'variable "open" {}\nresource "azurerm_container_registry" "cr" {\n  public_network_access_enabled = var.open\n}\n',
      );
      const args = ['scan', unresolved, '--fail-on', 'high', ...home()];
      const lenient = await cli(args);
      expect(lenient.code, lenient.stderr).toBe(0);
      expect(lenient.stdout.toString()).toMatch(/UNKNOWN +high +CR-02 .*var\.open has no value/);
      const strict = await cli([...args, '--fail-on-unknown', '--json']);
      expect(strict.code).toBe(EXIT_CODES.ERR_IAC_FINDINGS);
      expect(JSON.stringify(strict.json)).toMatch(/CR-02 azurerm_container_registry\.cr/);
    } finally {
      await rm(unresolved, { recursive: true, force: true });
    }
  });

  it('lists the rules', async () => {
    const r = await cli(['scan', '--list-rules', '--json', ...home()]);
    expect(((r.json?.rules ?? []) as unknown[]).length).toBe(RULES.length);
  });

  it.each([
    [['--fail-on', 'severe'], 'ERR_USAGE_INVALID'],
    [['--format', 'xml'], 'ERR_USAGE_INVALID'],
  ] as const)('%j is a usage error', async (args, code) => {
    const r = await cli(['scan', dir, ...args, ...home()]);
    expect(r.code).toBe(EXIT_CODES[code]);
  });

  it('a missing path is ERR_IO_NOT_FOUND; no path is a usage error', async () => {
    expect((await cli(['scan', join(dir, 'nope'), ...home()])).code).toBe(EXIT_CODES.ERR_IO_NOT_FOUND);
    expect((await cli(['scan', ...home()])).code).toBe(EXIT_CODES.ERR_USAGE_INVALID);
  });
});
