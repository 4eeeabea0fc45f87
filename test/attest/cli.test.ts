import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const DATA = new URL('./data/', import.meta.url).pathname;
const MAA_AT = '2025-12-15T20:00:00Z';
const SNP_AT = '2025-06-01T00:00:00Z';
let dir: string;
let home: string;

interface Failure {
  code: string;
  details: { failures: string[] };
}
const failedIds = (json: Record<string, unknown> | undefined): string[] =>
  ((json?.error as Failure | undefined)?.details.failures ?? []).map((f) => f.split(':')[0] ?? '');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-attest-cli-'));
  home = join(dir, 'home');
  await mkdir(join(dir, 'milan-valid'));
  await copyFile(join(DATA, 'snp-milan-valid/vcek_milan.der'), join(dir, 'milan-valid/vcek.der'));
  await copyFile(join(DATA, 'snp-milan-valid/cert_chain_milan'), join(dir, 'milan-valid/cert_chain'));
  await mkdir(join(dir, 'milan-debug'));
  await copyFile(join(DATA, 'snp-milan-debug/vcek.testcer'), join(dir, 'milan-debug/vcek.der'));
  await copyFile(join(DATA, 'amd/ask_ark_milan.pem'), join(dir, 'milan-debug/ask_ark.pem'));
  await mkdir(join(dir, 'genoa-roots'));
  await copyFile(join(DATA, 'snp-milan-valid/vcek_milan.der'), join(dir, 'genoa-roots/vcek.der'));
  await copyFile(join(DATA, 'amd/ask_ark_genoa.pem'), join(dir, 'genoa-roots/ask_ark.pem'));
  await writeFile(
    join(dir, 'maa-policy.json'),
    JSON.stringify({
      version: 1,
      maa: { issuers: ['https://sharedeus2.eus2.attest.azure.net'] },
      snp: { debug: false },
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealtrain attest verify on real evidence', () => {
  it('accepts the Milan report with its certificates and prints the claims', async () => {
    const r = await cli([
      'attest',
      'verify',
      join(DATA, 'snp-milan-valid/report_milan.hex'),
      '--certs',
      join(dir, 'milan-valid'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const verdict = r.json?.verdict as { ok: boolean; claims: Record<string, unknown> };
    expect(verdict.ok).toBe(true);
    expect(verdict.claims['x-ms-sevsnpvm-launchmeasurement']).toBe(
      '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
    );
  });

  it('rejects the genuine debug report for debug only, with exit code 82', async () => {
    const r = await cli([
      'attest',
      'verify',
      join(DATA, 'snp-milan-debug/attestation.bin'),
      '--certs',
      join(dir, 'milan-debug'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(r.code).toBe(82);
    expect(failedIds(r.json)).toEqual(['policy.debug']);
  });

  it('rejects a flipped byte at the signature, and a Milan VCEK under Genoa roots at the chain', async () => {
    const hex = (await readFile(join(DATA, 'snp-milan-valid/report_milan.hex'), 'utf8')).replace(/\s+/g, '');
    const bytes = Buffer.from(hex, 'hex');
    bytes[21] = (bytes[21] ?? 0) ^ 0x80;
    await writeFile(join(dir, 'flipped.bin'), bytes);
    const flipped = await cli([
      'attest',
      'verify',
      join(dir, 'flipped.bin'),
      '--certs',
      join(dir, 'milan-valid'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(flipped.code).toBe(82);
    expect(failedIds(flipped.json)).toContain('snp.signature');
    const genoa = await cli([
      'attest',
      'verify',
      join(DATA, 'snp-milan-valid/report_milan.hex'),
      '--certs',
      join(dir, 'genoa-roots'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(genoa.code).toBe(82);
    expect(failedIds(genoa.json).some((id) => id.startsWith('snp.chain'))).toBe(true);
  });

  it('accepts the MAA token only inside its validity window', async () => {
    const args = [
      'attest',
      'verify',
      join(DATA, 'maa/attestation.txt'),
      '--jwks',
      join(DATA, 'maa/maa-sharedeus2-jwks.json'),
      '--policy',
      join(dir, 'maa-policy.json'),
      '--json',
    ];
    const pinned = await cli([...args, '--at', MAA_AT]);
    expect(pinned.code, pinned.stderr).toBe(0);
    const expired = await cli(args);
    expect(expired.code).toBe(82);
    expect(failedIds(expired.json)).toContain('maa.exp');
  });

  it('checks the Azure CVM quote against the nonce given', async () => {
    const file = join(DATA, 'azure-cvm-snp/evidence-v1.json');
    const good = await cli(['attest', 'verify', file, '--nonce', 'challenge', '--at', SNP_AT, '--json']);
    expect(good.code, good.stderr).toBe(0);
    const bad = await cli(['attest', 'verify', file, '--nonce', 'another', '--at', SNP_AT, '--json']);
    expect(bad.code).toBe(82);
    expect(failedIds(bad.json)).toEqual(['azure.quote.nonce']);
  });

  it('gives coded errors for garbage evidence and a bad policy', async () => {
    await writeFile(join(dir, 'garbage.bin'), Buffer.alloc(100, 7));
    const garbage = await cli(['attest', 'verify', join(dir, 'garbage.bin'), '--json']);
    expect(garbage.code).toBe(80);
    await writeFile(join(dir, 'bad-policy.json'), JSON.stringify({ version: 1, snp: { debgu: false } }));
    const policy = await cli([
      'attest',
      'verify',
      join(DATA, 'snp-milan-valid/report_milan.hex'),
      '--policy',
      join(dir, 'bad-policy.json'),
      '--json',
    ]);
    expect(policy.code).toBe(85);
    expect(policy.stderr).toMatch(/debgu/);
  });
});

describe('sealtrain attest verify: freshness, operator certificates and bad inputs', () => {
  it("checks an MAA token's client nonce only when --nonce is given", async () => {
    const args = [
      'attest',
      'verify',
      join(DATA, 'maa/attestation.txt'),
      '--jwks',
      join(DATA, 'maa/maa-sharedeus2-jwks.json'),
      '--policy',
      join(dir, 'maa-policy.json'),
      '--at',
      MAA_AT,
      '--json',
    ];
    const fresh = await cli([...args, '--nonce', 'midnight-srs']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((fresh.json?.verdict as { fresh: boolean } | undefined)?.fresh).toBe(true);
    const stale = await cli([...args, '--nonce', 'another-request']);
    expect(failedIds(stale.json)).toEqual(['evidence.binding']);
  });

  it('takes the VCEK from --certs for Azure CVM evidence that lacks one, from a folder with other files', async () => {
    const azure = JSON.parse(await readFile(join(DATA, 'azure-cvm-snp/evidence-v1.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const vcek = Buffer.from(String(azure.vcek), 'base64url');
    delete azure.vcek;
    await writeFile(join(dir, 'azure-no-vcek.json'), JSON.stringify(azure));
    await mkdir(join(dir, 'azure-certs'));
    await writeFile(join(dir, 'azure-certs/vcek.der'), vcek);
    await writeFile(join(dir, 'azure-certs/notes.txt'), 'the VCEK for the Azure fixture');
    const without = await cli([
      'attest',
      'verify',
      join(dir, 'azure-no-vcek.json'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(failedIds(without.json)).toContain('snp.chain.vcek');
    const withCerts = await cli([
      'attest',
      'verify',
      join(dir, 'azure-no-vcek.json'),
      '--certs',
      join(dir, 'azure-certs'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(withCerts.code, withCerts.stderr).toBe(0);
    const beside = await cli([
      'attest',
      'verify',
      join(DATA, 'snp-milan-valid/report_milan.hex'),
      '--certs',
      join(DATA, 'snp-milan-valid'),
      '--at',
      SNP_AT,
      '--json',
    ]);
    expect(beside.code, beside.stderr).toBe(0);
  });

  it('names a malformed JWKS, sim key or runtime key instead of failing internally', async () => {
    await writeFile(join(dir, 'bad.json'), '{bad');
    const jwks = await cli([
      'attest',
      'verify',
      join(DATA, 'maa/attestation.txt'),
      '--jwks',
      join(dir, 'bad.json'),
      '--json',
    ]);
    expect(jwks.code).toBe(80);
    expect(jwks.stderr).toMatch(/JWKS .*bad\.json is not JSON/);
    const ev = join(dir, 'sim-for-keys.json');
    expect((await cli(['attest', 'collect', '--sim', '--nonce', 'k', '--home', home, '-o', ev])).code).toBe(
      0,
    );
    const simKey = await cli([
      'attest',
      'verify',
      ev,
      '--sim-key',
      join(dir, 'bad.json'),
      '--allow-sim',
      '--json',
    ]);
    expect(simKey.code).toBe(80);
    expect(simKey.stderr).toMatch(/bad\.json is not a public key/);
    const runtimeKey = await cli([
      'attest',
      'collect',
      '--sim',
      '--nonce',
      'k',
      '--home',
      home,
      '--runtime-key',
      join(dir, 'bad.json'),
      '--json',
    ]);
    expect(runtimeKey.code).toBe(80);
    const nonce = await cli(['attest', 'verify', ev, '--nonce', 'b64:@@@@', '--json']);
    expect(nonce.code).toBe(80);
  });
});

describe('sealtrain attest with the simulated TEE', () => {
  it('collects sim evidence that the default policy refuses and --allow-sim accepts with the right nonce', async () => {
    const ev = join(dir, 'sim.json');
    const c = await cli(['attest', 'collect', '--sim', '--nonce', 'n-1', '--home', home, '-o', ev, '--json']);
    expect(c.code, c.stderr).toBe(0);
    const refused = await cli(['attest', 'verify', ev, '--home', home, '--nonce', 'n-1', '--json']);
    expect(refused.code).toBe(82);
    expect(failedIds(refused.json)).toEqual(['policy.allow-sim']);
    const ok = await cli(['attest', 'verify', ev, '--home', home, '--nonce', 'n-1', '--allow-sim', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const verdict = ok.json?.verdict as { sim: boolean; claims: Record<string, unknown> };
    expect(verdict.sim).toBe(true);
    expect(verdict.claims['x-ms-attestation-type']).toBe('sim');
    const replay = await cli([
      'attest',
      'verify',
      ev,
      '--home',
      home,
      '--nonce',
      'n-2',
      '--allow-sim',
      '--json',
    ]);
    expect(failedIds(replay.json)).toEqual(['evidence.binding']);
    const otherHome = await cli([
      'attest',
      'verify',
      ev,
      '--home',
      join(dir, 'other'),
      '--allow-sim',
      '--json',
    ]);
    expect(otherHome.code).toBe(82);
    expect(failedIds(otherHome.json)).toContain('sim.signature');
  });

  it('refuses to collect without a TEE unless --sim is given', async () => {
    const d = await cli(['attest', 'detect', '--json']);
    expect(d.code).toBe(0);
    const platform = (d.json?.detection as { platform: string } | undefined)?.platform;
    const c = await cli(['attest', 'collect', '--nonce', 'x', '--home', home, '--json']);
    if (platform === 'none') {
      expect(c.code).toBe(83);
      expect(c.stderr).toMatch(/--sim/);
    } else expect([0, 81, 84]).toContain(c.code);
  });
});
