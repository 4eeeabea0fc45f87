import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createPublicKey, randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectAzureCvmEvidence,
  parseAzureCvmEvidence,
  validateAzureCvmPcrs,
  verifyAzureCvmEvidence,
} from '../../../src/attest/azure-cvm/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { freePort, listening } from '../../helpers/net.mjs';
import { FIXTURE, hclBytes } from './fixture.js';

const run = promisify(execFile);

/** Every command this test drives, and the Debian package that ships it. */
const NEEDED: [string, string][] = [
  ['swtpm', 'swtpm'],
  ['tpm2_startup', 'tpm2-tools'],
  ['tpm2_createprimary', 'tpm2-tools'],
  ['tpm2_evictcontrol', 'tpm2-tools'],
  ['tpm2_nvdefine', 'tpm2-tools'],
  ['tpm2_nvwrite', 'tpm2-tools'],
  ['tpm2_pcrextend', 'tpm2-tools'],
];

function requireTools(): void {
  const onPath = (cmd: string) =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, cmd), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = NEEDED.filter(([cmd]) => !onPath(cmd));
  if (missing.length > 0)
    throw new Error(
      `The vTPM test needs ${missing.map(([c]) => c).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`,
    );
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A server port whose successor (swtpm's control port) is free too. */
async function portPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
}

let swtpm: ChildProcess | undefined;
let stateDir = '';
let tcti = '';
const tpm = (tool: string, ...args: string[]) => run(tool, [`--tcti=${tcti}`, ...args]);

/** An HCL report whose variable data is `runtime`, around the fixture's SNP report. */
function hclWith(runtime: unknown): Buffer {
  const head = hclBytes().subarray(0, 32 + 1184 + 20);
  const variable = Buffer.from(JSON.stringify(runtime));
  const out = Buffer.concat([head, variable]);
  out.writeUInt32LE(out.length, 8);
  out.writeUInt32LE(20 + variable.length, 32 + 1184);
  out.writeUInt32LE(variable.length, 32 + 1184 + 16);
  return out;
}

async function writeHcl(bytes: Buffer): Promise<void> {
  await tpm('tpm2_nvundefine', '-C', 'o', '0x01400001').catch(() => undefined);
  await tpm('tpm2_nvdefine', '-C', 'o', '-s', String(bytes.length), '0x01400001');
  const file = join(stateDir, 'hcl.bin');
  await writeFile(file, bytes);
  await tpm('tpm2_nvwrite', '-C', 'o', '-i', file, '0x01400001');
}

const fixtureRuntime = JSON.parse(
  hclBytes()
    .subarray(32 + 1184 + 20, 32 + 1184 + 20 + 1110)
    .toString(),
) as { keys: { kid: string }[] };

beforeAll(async () => {
  requireTools();
  stateDir = await mkdtemp(join(tmpdir(), 'sealtrain-swtpm-'));
  for (let attempt = 0; attempt < 5 && tcti === ''; attempt++) {
    const port = await portPair();
    const child = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${stateDir}`,
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        '--flags',
        'not-need-init',
      ],
      { stdio: 'ignore' },
    );
    swtpm = child;
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      if (await listening(port)) {
        tcti = `swtpm:host=127.0.0.1,port=${port}`;
        break;
      }
      await sleep(25);
    }
    if (tcti === '') child.kill();
  }
  if (tcti === '') throw new Error('swtpm did not start');
  await tpm('tpm2_startup', '-c');
  const ak = join(stateDir, 'ak.ctx');
  await tpm(
    'tpm2_createprimary',
    '-C',
    'o',
    '-G',
    'rsa2048:rsassa-sha256:null',
    '-a',
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign',
    '-c',
    ak,
  );
  await tpm('tpm2_evictcontrol', '-C', 'o', '-c', ak, '0x81000003');
  await tpm('tpm2_pcrextend', `7:sha256=${'ab'.repeat(32)}`);
}, 60_000);

afterAll(async () => {
  swtpm?.kill();
  if (stateDir !== '') await rm(stateDir, { recursive: true, force: true });
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
