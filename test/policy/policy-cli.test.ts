import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReleasePolicy } from '../../src/policy/index.js';
import { runPolicyCli } from './run-policy-cli.js';

const DATA = new URL('../attest/data/', import.meta.url).pathname;
const SKR = join(DATA, 'skr/public_SKR_policy-datadisk.json');
const TOKEN = join(DATA, 'maa/attestation.txt');
const JWKS = join(DATA, 'maa/maa-sharedeus2-jwks.json');
const REPORT = join(DATA, 'snp-milan-valid/report_milan.hex');
const MAA_AT = '2025-12-15T20:00:00Z';
const SNP_AT = '2025-06-01T00:00:00Z';
const BROKER = 'https://127.0.0.1:8443';
let dir: string;
let home: string;
let certs: string;

interface ErrorBody {
  code: string;
  message: string;
  details: { failures?: string[]; problems?: string[]; authority?: string };
}
const errorOf = (json: Record<string, unknown> | undefined) => json?.error as ErrorBody | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-policy-cli-'));
  home = join(dir, 'home');
  certs = join(dir, 'certs');
  await import('node:fs/promises').then((fs) => fs.mkdir(certs));
  await copyFile(join(DATA, 'snp-milan-valid/vcek_milan.der'), join(certs, 'vcek.der'));
  await copyFile(join(DATA, 'snp-milan-valid/cert_chain_milan'), join(certs, 'cert_chain'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealtrain policy validate', () => {
  it('accepts the real SKR policy', async () => {
    const r = await runPolicyCli(['--home', home, 'policy', 'validate', SKR, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, warnings: [], sim: false });
  });

  it('accepts a policy without version, with a warning', async () => {
    const p = join(dir, 'no-version.json');
    await writeFile(
      p,
      JSON.stringify({ anyOf: [{ authority: BROKER, allOf: [{ claim: 'a', equals: 1 }] }] }),
    );
    const r = await runPolicyCli(['--home', home, 'policy', 'validate', p]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`WARNING: Release policy ${p} has no version; it is read as version 1.0.0.`);
  });

  it('refuses a malformed policy with exit 90, naming the path', async () => {
    const p = join(dir, 'bad.json');
    await writeFile(
      p,
      JSON.stringify({
        version: '1.0.0',
        anyOf: [{ authority: BROKER, allOf: [{ claim: 'a', equals: 1, less: 2 }] }],
      }),
    );
    const r = await runPolicyCli(['--home', home, 'policy', 'validate', p, '--json']);
    expect(r.code).toBe(90);
    expect(errorOf(r.json)?.details.problems).toEqual([
      'anyOf[0].allOf[0]: has 2 operators (equals, less); a condition takes exactly one',
    ]);
  });

  it('refuses a missing file with the I/O code and an oversized one with exit 90', async () => {
    expect((await runPolicyCli(['--home', home, 'policy', 'validate', join(dir, 'nope.json')])).code).toBe(
      10,
    );
    const big = join(dir, 'big.json');
    await writeFile(big, ' '.repeat(70_000));
    const r = await runPolicyCli(['--home', home, 'policy', 'validate', big]);
    expect(r.code).toBe(90);
    expect(r.stderr).toContain('is 70000 bytes, over 65536');
  });
});

describe('sealtrain policy explain', () => {
  it('allows the real MAA token under the SKR policy (decoded only, and says so)', async () => {
    const r = await runPolicyCli(['--home', home, 'policy', 'explain', SKR, TOKEN]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("NOTE: the token's signature was NOT verified");
    expect(r.stderr).toContain(
      'ALLOWED by anyOf[1] (token issuer https://sharedeus2.eus2.attest.azure.net).',
    );
  });

  it('verifies the token with --jwks at a pinned time, and rejects it when expired', async () => {
    const ok = await runPolicyCli([
      '--home',
      home,
      'policy',
      'explain',
      SKR,
      TOKEN,
      '--jwks',
      JWKS,
      '--at',
      MAA_AT,
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, allowed: true, source: 'token', verified: true });
    const late = await runPolicyCli([
      '--home',
      home,
      'policy',
      'explain',
      SKR,
      TOKEN,
      '--jwks',
      JWKS,
      '--at',
      '2026-01-01T00:00:00Z',
      '--json',
    ]);
    expect(late.code).toBe(82);
    expect(errorOf(late.json)?.details.failures?.map((f) => f.split(':')[0])).toEqual(['maa.exp']);
  });

  it('denies with exit 91 under another authority, printing each rule', async () => {
    const other = 'https://evil.example.net';
    const r = await runPolicyCli(['--home', home, 'policy', 'explain', SKR, TOKEN, '--authority', other]);
    expect(r.code).toBe(91);
    expect(r.stderr).toContain(
      `DENIED: no rule names the token issuer as its authority (token issuer ${other}).`,
    );
    expect(r.stderr).toContain(
      'FAIL anyOf[1] authority https://sharedeus2.eus2.attest.azure.net/ (allOf): the token was issued by',
    );
    expect(r.stderr).toContain('[ERR_RELEASE_DENIED]');
  });

  it('denies claims JSON with exit 91, naming the failing condition in --json details', async () => {
    const claims = JSON.parse(
      Buffer.from((await readFile(TOKEN, 'utf8')).split('.')[1] ?? '', 'base64url').toString(),
    );
    claims['x-ms-isolation-tee']['x-ms-compliance-status'] = 'not-compliant';
    const file = join(dir, 'claims.json');
    await writeFile(file, JSON.stringify(claims));
    const r = await runPolicyCli(['--home', home, 'policy', 'explain', SKR, file, '--json']);
    expect(r.code).toBe(91);
    expect(errorOf(r.json)).toMatchObject({
      code: 'ERR_RELEASE_DENIED',
      details: {
        authority: 'https://sharedeus2.eus2.attest.azure.net',
        failures: [
          'anyOf[1].allOf[1] x-ms-isolation-tee.x-ms-compliance-status: found "not-compliant"; wanted equals "azure-compliant-cvm"',
        ],
      },
    });
  });

  it('explains verified evidence: needs --authority, then allowed by a generated policy', async () => {
    const policyFile = join(dir, 'milan-policy.json');
    const g = await runPolicyCli([
      '--home',
      home,
      'policy',
      'generate',
      '--from-evidence',
      REPORT,
      '--certs',
      certs,
      '--at',
      SNP_AT,
      '--authority',
      BROKER,
      '-o',
      policyFile,
    ]);
    expect(g.code, g.stderr).toBe(0);
    const policy = parseReleasePolicy(await readFile(policyFile, 'utf8'));
    expect(policy.anyOf[0]?.authority).toBe(BROKER);
    const base = ['--home', home, 'policy', 'explain', policyFile, REPORT, '--certs', certs, '--at', SNP_AT];
    const none = await runPolicyCli(base);
    expect(none.code).toBe(91);
    expect(none.stderr).toContain('NOTE: evidence has no token issuer; pass --authority <url>');
    const r = await runPolicyCli([...base, '--authority', BROKER, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ allowed: true, source: 'evidence', verified: true });
  });
});

describe('sealtrain policy generate', () => {
  it('writes the policy to stdout by default and as JSON with --json', async () => {
    const args = [
      '--home',
      home,
      'policy',
      'generate',
      '--from-evidence',
      REPORT,
      '--certs',
      certs,
      '--at',
      SNP_AT,
      '--authority',
      BROKER,
    ];
    const r = await runPolicyCli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(parseReleasePolicy(r.stdout).anyOf).toHaveLength(1);
    const j = await runPolicyCli([...args, '--json']);
    expect(j.json).toMatchObject({ ok: true, sim: false, policy: { version: '1.0.0' } });
  });

  it('refuses evidence that does not verify (wrong clock) with exit 82', async () => {
    const r = await runPolicyCli([
      '--home',
      home,
      'policy',
      'generate',
      '--from-evidence',
      REPORT,
      '--certs',
      certs,
      '--at',
      '2000-01-01T00:00:00Z',
      '--authority',
      BROKER,
      '--json',
    ]);
    expect(r.code).toBe(82);
    expect(errorOf(r.json)?.code).toBe('ERR_ATTEST_REJECTED');
  });

  it('refuses a bad authority with exit 90, and a missing --authority with exit 2', async () => {
    const base = [
      '--home',
      home,
      'policy',
      'generate',
      '--from-evidence',
      REPORT,
      '--certs',
      certs,
      '--at',
      SNP_AT,
    ];
    const bad = await runPolicyCli([...base, '--authority', 'http://x']);
    expect(bad.code).toBe(90);
    expect(bad.stderr).toContain('anyOf[0].authority: "http://x" is not an https:// URL');
    expect((await runPolicyCli(base)).code).toBe(2);
  });

  it('does not replace an existing output without --force', async () => {
    const out = join(dir, 'exists.json');
    await writeFile(out, '{}');
    const args = [
      '--home',
      home,
      'policy',
      'generate',
      '--from-evidence',
      REPORT,
      '--certs',
      certs,
      '--at',
      SNP_AT,
      '--authority',
      BROKER,
      '-o',
      out,
    ];
    expect((await runPolicyCli(args)).code).toBe(11);
    expect(await readFile(out, 'utf8')).toBe('{}');
    expect((await runPolicyCli([...args, '--force'])).code).toBe(0);
  });
});
