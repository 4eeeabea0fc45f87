import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectAzureCvmEvidence,
  parseAzureCvmEvidence,
  validateAzureCvmPcrs,
  verifyAzureCvmEvidence,
} from '../../../src/attest/azure-cvm/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { portPair, type Swtpm, startSwtpm } from '../../helpers/swtpm.js';
import { FIXTURE, hclBytes, hclWith } from './fixture.js';

let swtpm: Swtpm;
let stateDir = '';
let tcti = '';
const tpm = (tool: string, ...args: string[]) => swtpm.tpm(tool, ...args);

async function writeHcl(bytes: Buffer): Promise<void> {
  await swtpm.writeNv('0x01400001', bytes);
}

const fixtureRuntime = JSON.parse(
  hclBytes()
    .subarray(32 + 1184 + 20, 32 + 1184 + 20 + 1110)
    .toString(),
) as { keys: { kid: string }[] };

beforeAll(async () => {
  swtpm = await startSwtpm();
  ({ tcti, stateDir } = swtpm);
}, 60_000);

afterAll(async () => {
  await swtpm?.stop();
});

const failed = (evidence: unknown, nonce: Uint8Array) =>
  verifyAzureCvmEvidence(parseAzureCvmEvidence(evidence), { nonce })
    .checks.filter((c) => !c.ok)
    .map((c) => c.id);

describe('collectAzureCvmEvidence against swtpm', () => {
  it("collects a quote that verifies with swtpm's AK, while azure.ak fails against the fixture's HCLAkPub", async () => {
    // swtpm caps an NV index at 2048 bytes and the fixture's HCL report holds 2346, so the index gets
    // the fixture's SNP report and its HCLAkPub with the other runtime fields dropped: the report
    // data binding fails as well, because the variable data is not the one the SNP report signed.
    const ak = fixtureRuntime.keys.find((k) => k.kid === 'HCLAkPub');
    await writeHcl(hclWith({ keys: [ak], 'user-data': '00'.repeat(64) }));
    const nonce = randomBytes(32);
    const evidence = await collectAzureCvmEvidence(nonce, { tcti });
    const result = verifyAzureCvmEvidence(parseAzureCvmEvidence(evidence), { nonce });
    const ids = (ok: boolean) => result.checks.filter((c) => c.ok === ok).map((c) => c.id);
    expect(ids(false)).toEqual(['azure.report-data-binding', 'azure.ak']);
    expect(ids(true)).toEqual([
      'azure.quote.magic',
      'azure.quote.type',
      'azure.quote.signature',
      'azure.quote.nonce',
      'azure.quote.pcr-digest',
    ]);
    expect(Buffer.from(result.snpReport)).toEqual(hclBytes().subarray(32, 32 + 1184));
    expect(failed(evidence, randomBytes(32))).toEqual([
      'azure.report-data-binding',
      'azure.ak',
      'azure.quote.nonce',
    ]);
    expect(result.pcrs.size).toBe(24);
    expect(
      validateAzureCvmPcrs(result.pcrs, { 0: '00'.repeat(32), 7: '00'.repeat(32) }).map((c) => c.ok),
    ).toEqual([true, false]);
  }, 60_000);

  it("passes azure.ak when the HCL report names swtpm's own AK", async () => {
    const pem = (
      await tpm('tpm2_readpublic', '-c', '0x81000003', '-f', 'pem', '-o', join(stateDir, 'ak.pem'))
    ).stdout;
    expect(pem).toContain('name');
    const jwk = createPublicKey(await readFile(join(stateDir, 'ak.pem'))).export({ format: 'jwk' });
    await writeHcl(hclWith({ keys: [{ kid: 'HCLAkPub', key_ops: ['sign'], ...jwk }], 'user-data': '' }));
    const nonce = Buffer.from('challenge');
    const evidence = await collectAzureCvmEvidence(nonce, {
      tcti,
      vcek: Buffer.from(FIXTURE.vcek, 'base64url'),
    });
    expect(failed(evidence, nonce)).toEqual(['azure.report-data-binding']);
    expect(evidence.vcek).toBe(FIXTURE.vcek);
  }, 60_000);

  it('writes report data to NV index 0x01400002 first when asked, and leaves no temporary folder', async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('sealtrain-vtpm-'));
    const reportData = randomBytes(64);
    await collectAzureCvmEvidence(randomBytes(16), { tcti, reportData, settleMs: 0 });
    const out = join(stateDir, 'rd.bin');
    await tpm('tpm2_nvread', '-C', 'o', '-o', out, '0x01400002');
    expect(await readFile(out)).toEqual(reportData);
    const after = (await readdir(tmpdir())).filter((n) => n.startsWith('sealtrain-vtpm-'));
    expect(after).toEqual(before);
  }, 60_000);

  it('fails with ERR_ATTEST_COLLECT_FAILED naming the device and the tool output', async () => {
    const closed = `swtpm:host=127.0.0.1,port=${await portPair()}`;
    const error = await collectAzureCvmEvidence(randomBytes(8), { tcti: closed, timeoutMs: 20_000 }).catch(
      (e) => e,
    );
    expect(isSealtrainError(error, 'ERR_ATTEST_COLLECT_FAILED')).toBe(true);
    expect(error.message).toContain(closed);
    expect(error.message).toContain('tpm2_nvread failed');
    expect(error.details.device).toBe(closed);
    const empty = await mkdtemp(join(tmpdir(), 'sealtrain-notools-'));
    const missing = await collectAzureCvmEvidence(randomBytes(8), { tcti, toolDir: empty }).catch((e) => e);
    await rm(empty, { recursive: true });
    expect(isSealtrainError(missing, 'ERR_ATTEST_COLLECT_FAILED')).toBe(true);
    expect(missing.message).toContain('tpm2_nvread is not installed (Debian package tpm2-tools)');
  }, 60_000);

  it('fails when the index holds no HCL report', async () => {
    await writeHcl(Buffer.alloc(64, 1));
    const error = await collectAzureCvmEvidence(randomBytes(8), { tcti }).catch((e) => e);
    expect(isSealtrainError(error, 'ERR_ATTEST_COLLECT_FAILED')).toBe(true);
    expect(error.message).toContain('does not parse');
  }, 60_000);
});
