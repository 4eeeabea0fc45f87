// A run on an Azure confidential VM against Azure Key Vault, as far as it can exist here: the
// vTPM is Debian's swtpm with an attestation key at 0x81000003, an AK certificate at 0x01C101D0
// and an HCL report at 0x01400001 whose SEV-SNP report (signed by a test AMD PKI: no machine here
// has the hardware) binds runtime claims naming that AK. The workload speaks MAA's AzureGuest
// protocol to a stand-in (test/helpers/maa-standin.ts; Azure cannot run here), which checks the
// quote, the certification of the vTPM encryption key and the SNP report, and answers with its
// token encrypted to that key. A sealtrain broker acts as the vault: it wraps the released key to
// the token's TpmEphemeralEncryptionKey, and the unwrap happens inside the (software) TPM.

import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  X509Certificate,
} from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAzureGuest } from '../../src/attest/azure-cvm/index.js';
import type { AuditEvent } from '../../src/audit/index.js';
import { keyInVtpm } from '../../src/broker/client/attested-release.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { createCaCertificate, createServerCertificate } from '../../src/broker/tls/certificates.js';
import { type KeyAccessOptions, openKeyAccess } from '../../src/run/index.js';
import { unsealBuffer } from '../../src/seal/index.js';
import { hclWith } from '../attest/azure-cvm/fixture.js';
import type { snpTestPki } from '../attest/gen/snp/pki.mjs';
import { StaticToken, tempDir } from '../broker/helpers.js';
import {
  type MaaStandIn,
  startMaaStandIn,
  startRuntimeSwappers,
  vaultTrusting,
} from '../helpers/maa-standin.js';
import { MILAN_TCB, milanPki, milanReport } from '../helpers/snp-milan.js';
import { type Swtpm, startSwtpm } from '../helpers/swtpm.js';

const CHIP_ID = createHash('sha512').update('azure-guest chip').digest('hex');
const MEASUREMENT = createHash('sha384').update('azure-guest image').digest('hex');
const OTHER = createHash('sha384').update('another image').digest('hex');
const secret = Buffer.from('rows that only an attested Azure confidential VM may read');

const cleanups: Array<() => Promise<void>> = [];
let pki: ReturnType<typeof snpTestPki>;
let swtpm: Swtpm;
let maa: MaaStandIn;
let misdirected: MaaStandIn;
let swappers: MaaStandIn[];
let broker: RunningBroker;
let workload: string;
let host: string;
let input: string;
let otherInput: string;
let root: string;
let thimUrl: string;

function policy(authority: string, measurement: string) {
  const allOf = [
    { claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sevsnpvm' },
    { claim: 'x-ms-isolation-tee.x-ms-compliance-status', equals: 'azure-compliant-cvm' },
    { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement', equals: measurement },
  ];
  return { version: '1.0.0', anyOf: [{ authority, allOf }] };
}

/** The vTPM's NV contents as Azure's paravisor leaves them: the AK certificate and the HCL report. */
async function provisionVtpm(akCa: Parameters<typeof createServerCertificate>[1]): Promise<void> {
  const pem = join(swtpm.stateDir, 'ak.pem');
  await swtpm.tpm('tpm2_readpublic', '-c', '0x81000003', '-f', 'pem', '-o', pem);
  const ak = createPublicKey(await readFile(pem));
  const akCert = createServerCertificate({ publicKey: ak, hosts: ['ak.vtpm.test'] }, akCa);
  await swtpm.writeNv('0x01c101d0', Buffer.from(new X509Certificate(akCert).raw));
  const runtime = JSON.stringify({
    keys: [{ kid: 'HCLAkPub', key_ops: ['sign'], ...ak.export({ format: 'jwk' }) }],
    'vm-configuration': { 'secure-boot': true, 'tpm-enabled': true, vmUniqueId: 'test-vm' },
  });
  const reportData = Buffer.concat([createHash('sha256').update(runtime).digest(), Buffer.alloc(32)]);
  const report = milanReport(reportData, { measurement: MEASUREMENT, chipId: CHIP_ID, tcb: MILAN_TCB });
  pki.sign(report);
  await swtpm.writeNv('0x01400001', hclWith(runtime, report));
}

/** A stand-in for Azure's instance metadata service (THIM): the VCEK and its chain. */
async function startThim(): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ vcekCert: pki.vcek, certificateChain: `${pki.roots.ask ?? ''}\n${pki.roots.ark}` }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata/THIM/amd/certification`;
}

beforeAll(async () => {
  pki = milanPki(CHIP_ID);
  swtpm = await startSwtpm();
  cleanups.push(() => swtpm.stop());
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const akCa = { commonName: 'Test vTPM AK CA', ...caKeys };
  const akCaPem = createCaCertificate(akCa);
  await provisionVtpm(akCa);
  maa = await startMaaStandIn({ roots: pki.roots, akCa: akCaPem });
  cleanups.push(() => maa.close());
  // Wraps its answer to a key that is not this vTPM's.
  misdirected = await startMaaStandIn({
    roots: pki.roots,
    akCa: akCaPem,
    wrapTo: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
  });
  cleanups.push(() => misdirected.close());
  // Sign properly, but x-ms-runtime names another key in place of the vTPM's, another key beside
  // it, or another nonce.
  swappers = await startRuntimeSwappers({ roots: pki.roots, akCa: akCaPem }, 'TpmEphemeralEncryptionKey');
  for (const m of swappers) cleanups.push(() => m.close());
  thimUrl = await startThim();
  const t = await tempDir();
  cleanups.push(t.cleanup);
  // What detection reads: a Hyper-V guest with a TPM device (the device itself is swtpm's socket).
  root = join(t.dir, 'root');
  await mkdir(join(root, 'sys/class/dmi/id'), { recursive: true });
  await mkdir(join(root, 'dev'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'sys/class/dmi/id/sys_vendor'), 'Microsoft Corporation\n');
  await writeFile(join(root, 'dev/tpmrm0'), '');
  await writeFile(join(root, 'etc/os-release'), 'NAME="Ubuntu"\nVERSION_ID="24.04"\n');
  const vault = await vaultTrusting(
    t.dir,
    [maa, misdirected, ...swappers],
    { data: policy(maa.url, MEASUREMENT), other: policy(maa.url, OTHER) },
    secret,
  );
  ({ broker, workload, host, input, otherInput } = vault);
  cleanups.push(() => broker.close());
}, 120_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function options(inputs: string[], events: AuditEvent[], authority: MaaStandIn = maa): KeyAccessOptions {
  return {
    inputs,
    outputKey: `azurekv://${host}/keys/model-key`,
    attestation: true,
    broker: {
      credential: new StaticToken(workload),
      ca: broker.caCertificate,
      maa: { url: authority.url, ca: authority.ca },
    },
    collect: { root, tcti: swtpm.tcti, thim: { url: thimUrl } },
    audit: { sink: { record: async (e) => void events.push(e) }, actor: 'test' },
  };
}

const vtpmFolders = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('sealtrain-vtpm-key-'));

describe('attested release on an Azure confidential VM (MAA AzureGuest, vTPM-held key)', () => {
  it('releases the input key to the vTPM encryption key and opens the input in memory', async () => {
    const events: AuditEvent[] = [];
    const before = maa.issued();
    const folders = await vtpmFolders();
    const access = await openKeyAccess(options([input], events));
    try {
      expect(maa.issued()).toBe(before + 1);
      expect(access.attestation).toMatchObject({ type: 'azurevm', simulated: false, issuer: maa.url });
      expect(access.released.map((r) => r.uri)).toEqual([`azurekv://${host}/keys/data-key`]);
      const opened = await unsealBuffer(await readFile(input), { providers: access.providers });
      expect(opened.equals(secret)).toBe(true);
      expect(events.map((e) => [e.action, e.outcome])).toEqual([['run.release', 'ok']]);
      // The key's working folder is gone once the releases are done.
      expect(await vtpmFolders()).toEqual(folders);
    } finally {
      access.close();
    }
  }, 60_000);

  it('makes no software runtime key where the vTPM holds it', async () => {
    expect(await keyInVtpm({ root, tcti: swtpm.tcti })).toBe(true);
    // A test standing in for the SEV-SNP hardware, or a machine with no vTPM: a software key.
    expect(
      await keyInVtpm({ root, snpReport: async () => ({ report: Buffer.alloc(0), certificates: {} }) }),
    ).toBe(false);
    expect(await keyInVtpm({ root: join(root, 'etc') })).toBe(false);
  });

  it("is denied by the vault when the key's policy pins another image, and audited", async () => {
    const events: AuditEvent[] = [];
    const e = await openKeyAccess(options([otherInput], events)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_RELEASE_DENIED' });
    expect(String((e as Error).message)).toContain('x-ms-sevsnpvm-launchmeasurement');
    expect(events.map((x) => [x.action, x.outcome, x.code])).toEqual([
      ['run.release', 'error', 'ERR_RELEASE_DENIED'],
    ]);
  }, 60_000);

  it('cannot open an answer wrapped to another key, nor use a token for another key or nonce: nothing released', async () => {
    const folders = await vtpmFolders();
    for (const [authority, words] of [
      [misdirected, 'EncryptedInnerKey'],
      [swappers[0], 'maa.runtime'],
      [swappers[1], 'maa.runtime'],
      [swappers[2], 'client-payload.nonce'],
    ] as const) {
      const events: AuditEvent[] = [];
      const e = await openKeyAccess(options([input], events, authority)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'ERR_ATTEST_REJECTED' });
      expect(String((e as Error).message)).toContain(words);
      expect(events).toEqual([]);
    }
    // The vTPM key's working folder is removed on these error paths too.
    expect(await vtpmFolders()).toEqual(folders);
  }, 60_000);

  it('names a vTPM without its AK certificate, asks MAA nothing and leaves no working folder', async () => {
    const saved = join(swtpm.stateDir, 'ak-cert.kept');
    await swtpm.tpm('tpm2_nvread', '-C', 'o', '-o', saved, '0x01c101d0');
    await swtpm.tpm('tpm2_nvundefine', '-C', 'o', '0x01c101d0');
    const folders = await vtpmFolders();
    const before = maa.issued();
    try {
      const e = await openKeyAccess(options([input], [])).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'ERR_ATTEST_COLLECT_FAILED' });
      expect(String((e as Error).message)).toContain('0x01c101d0');
      expect(maa.issued()).toBe(before);
      expect(await vtpmFolders()).toEqual(folders);
    } finally {
      await swtpm.writeNv('0x01c101d0', await readFile(saved));
    }
  }, 60_000);

  it('stops at MAA when the AK certificate is not from the trusted CA', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const saved = join(swtpm.stateDir, 'ak-cert.saved');
    await swtpm.tpm('tpm2_nvread', '-C', 'o', '-o', saved, '0x01c101d0');
    const pem = join(swtpm.stateDir, 'ak.pem');
    const ak = createPublicKey(await readFile(pem));
    const forged = createServerCertificate(
      { publicKey: ak, hosts: ['ak.vtpm.test'] },
      { commonName: 'Not Azure', ...other },
    );
    await swtpm.writeNv('0x01c101d0', Buffer.from(new X509Certificate(forged).raw));
    try {
      const before = maa.issued();
      const e = await openKeyAccess(options([input], [])).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'ERR_ATTEST_REJECTED' });
      expect(String((e as Error).message)).toContain('AikCert');
      expect(maa.issued()).toBe(before);
    } finally {
      await swtpm.writeNv('0x01c101d0', await readFile(saved));
    }
  }, 60_000);

  it('leaves an encryption key that stops working once a PCR changes, and is gone when closed', async () => {
    const request = await prepareAzureGuest({
      tcti: swtpm.tcti,
      root,
      clientPayload: { nonce: 'n' },
      certificates: { vcek: pki.vcek, ask: pki.roots.ask ?? '', ark: pki.roots.ark },
    });
    const aesKey = Buffer.alloc(32, 7);
    const block = publicEncrypt(
      { key: request.key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      aesKey,
    );
    try {
      expect(await request.key.oaepDecrypt(block, 'sha1')).toEqual(aesKey);
      await swtpm.tpm('tpm2_pcrextend', `0:sha256=${'cd'.repeat(32)}`);
      const e = await request.key.oaepDecrypt(block, 'sha1').catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'ERR_ATTEST_COLLECT_FAILED' });
      expect(String((e as Error).message)).toContain('policy check failed');
    } finally {
      await request.key.close();
    }
    await expect(request.key.oaepDecrypt(block, 'sha1')).rejects.toMatchObject({ code: 'ERR_USAGE_INVALID' });
  }, 60_000);
});
