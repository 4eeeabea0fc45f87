import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Claims } from '../../../src/attest/claims.js';
import { claimAt } from '../../../src/attest/claims.js';
import { parseAttestationPolicy } from '../../../src/attest/policy.js';
import { readCertificatesDir } from '../../../src/attest/read-certificates.js';
import { validateSnpClaims } from '../../../src/attest/validate-claims.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const DATA = new URL('../data/', import.meta.url).pathname;
const token = readFileSync(join(DATA, 'maa/attestation.txt'), 'utf8').trim();
const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Claims;
const MEASUREMENT =
  '6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e';

const failed = (snp: unknown) =>
  validateSnpClaims(claims, parseAttestationPolicy({ version: 1, snp }).snp ?? {})
    .filter((c) => !c.ok)
    .map((c) => c.id);

describe('claims', () => {
  it('reads nested MAA claims by dotted path', () => {
    expect(claimAt(claims, 'x-ms-isolation-tee.x-ms-attestation-type')).toBe('sevsnpvm');
    expect(claimAt(claims, 'x-ms-isolation-tee.nope')).toBeUndefined();
    expect(claimAt(claims, 'secureboot.deeper')).toBeUndefined();
  });

  it('validates policy fields against the real token claims nested under x-ms-isolation-tee', () => {
    expect(
      failed({
        debug: false,
        migrationAgent: false,
        vmpl: 0,
        minTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
        measurements: [MEASUREMENT],
        minGuestSvn: 10,
      }),
    ).toEqual([]);
    expect(failed({ minTcb: { microcode: 220, snp: 25 } })).toEqual([
      'policy.min-tcb.snp',
      'policy.min-tcb.microcode',
    ]);
    expect(failed({ measurements: ['00'.repeat(48)], vmpl: 1, debug: true })).toEqual([
      'policy.debug',
      'policy.vmpl',
      'policy.measurement',
    ]);
    expect(failed({ hostData: '11'.repeat(32) })).toEqual(['policy.host-data']);
  });

  it('fails fields a token cannot show instead of passing them', () => {
    expect(failed({ permitProvisionalFirmware: false, signer: 'vcek' })).toEqual([
      'policy.committed-tcb',
      'policy.signer',
    ]);
  });
});

describe('readCertificatesDir', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  it('sorts a DER VCEK and a PEM bundle into roles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealtrain-certs-'));
    dirs.push(dir);
    await copyFile(join(DATA, 'snp-milan-valid/vcek_milan.der'), join(dir, 'vcek.der'));
    await copyFile(join(DATA, 'amd/ask_ark_milan_vlek.pem'), join(dir, 'chain.pem'));
    const certs = await readCertificatesDir(dir);
    expect(Object.keys(certs).sort()).toEqual(['ark', 'asvk', 'vcek']);
  });
  it('refuses garbage and two different certificates for one role', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealtrain-certs-'));
    dirs.push(dir);
    await writeFile(join(dir, 'junk.pem'), 'not a certificate');
    await expect(readCertificatesDir(dir)).rejects.toThrow(/junk\.pem is not an X\.509/);
    await rm(join(dir, 'junk.pem'));
    await copyFile(join(DATA, 'amd/ask_ark_milan.pem'), join(dir, 'a.pem'));
    await copyFile(join(DATA, 'amd/ask_ark_genoa.pem'), join(dir, 'b.pem'));
    const e = await readCertificatesDir(dir).catch((x: unknown) => x);
    expect(isSealtrainError(e, 'ERR_ATTEST_MALFORMED')).toBe(true);
    expect(String((e as Error).message)).toMatch(/two different/);
    await expect(readCertificatesDir(join(dir, 'missing'))).rejects.toThrow(/no such file/);
  });
});
