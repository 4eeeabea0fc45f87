// A run against Azure Key Vault's Secure Key Release, as far as it can exist here: the workload
// attests to an MAA stand-in over TLS (test/helpers/maa-standin.ts; Azure cannot run here) with an
// SEV-SNP report signed by a test AMD PKI (no machine here has the hardware), checks MAA's token,
// and releases from a sealtrain broker acting as the vault, which trusts that MAA as an issuer and
// evaluates each key's release policy on MAA's claims. Bad paths: a policy for another image, a
// report not signed by the VCEK, a forged token, one from another issuer, one for another runtime
// key, simulated evidence. The vault's answers carry an x5c chain, checked as Key Vault's are.

import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/index.js';
import { releaseWithAttestation } from '../../src/broker/client/attested-release.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { type KeyAccessOptions, openKeyAccess, parseRunConfig } from '../../src/run/index.js';
import { unsealBuffer } from '../../src/seal/index.js';
import { signSnpReport, type snpTestPki } from '../attest/gen/snp/pki.mjs';
import { StaticToken, tempDir } from '../broker/helpers.js';
import {
  type MaaStandIn,
  startMaaStandIn,
  startRuntimeSwappers,
  vaultTrusting,
} from '../helpers/maa-standin.js';
import { MILAN_TCB, milanPki, milanReport } from '../helpers/snp-milan.js';

const TCB = MILAN_TCB;
const CHIP_ID = createHash('sha512').update('maa-release chip').digest('hex');
const MEASUREMENT = createHash('sha384').update('maa-release image').digest('hex');
const OTHER = createHash('sha384').update('another image').digest('hex');
const secret = Buffer.from('rows that only an attested SEV-SNP guest may read');

const cleanups: Array<() => Promise<void>> = [];
let pki: ReturnType<typeof snpTestPki>;
let maa: MaaStandIn;
let forger: MaaStandIn;
let swappers: MaaStandIn[];
let elsewhere: MaaStandIn;
let expired: MaaStandIn;
let failing: MaaStandIn;
let broker: RunningBroker;
let workload: string;
let host: string;
let input: string;
let otherInput: string;

function policy(authority: string, measurement: string) {
  const allOf = [
    { claim: 'x-ms-attestation-type', equals: 'sevsnpvm' },
    { claim: 'x-ms-sevsnpvm-launchmeasurement', equals: measurement },
    { claim: 'x-ms-sevsnpvm-is-debuggable', equals: false },
  ];
  return { version: '1.0.0', anyOf: [{ authority, allOf }] };
}

/** The stand-in for the AMD secure processor: a report over the asked-for bytes, test-PKI signed. */
function hardware(sign: (report: Buffer) => Buffer = pki.sign) {
  return async (reportData: Buffer) => {
    const report = milanReport(reportData, { measurement: MEASUREMENT, chipId: CHIP_ID, tcb: TCB });
    sign(report);
    return { report, certificates: { vcek: pki.vcek, ask: pki.roots.ask ?? '', ark: pki.roots.ark } };
  };
}

beforeAll(async () => {
  pki = milanPki(CHIP_ID);
  maa = await startMaaStandIn({ roots: pki.roots });
  cleanups.push(() => maa.close());
  // Signs with a key its own /certs does not serve.
  forger = await startMaaStandIn({
    roots: pki.roots,
    signWith: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  });
  cleanups.push(() => forger.close());
  // Signs properly, but its x-ms-runtime is not what was sent: another key in place of ours, one
  // after ours (the vault might wrap for either), or another nonce.
  swappers = await startRuntimeSwappers({ roots: pki.roots }, 'runtime');
  for (const m of swappers) cleanups.push(() => m.close());
  // Signs properly, but names another issuer than the one the workload asked.
  elsewhere = await startMaaStandIn({
    roots: pki.roots,
    tamper: (c) => ({ ...c, iss: 'https://elsewhere.attest.example' }),
  });
  // Signs properly, but a token that expired an hour ago (a replayed one, or a wrong clock).
  expired = await startMaaStandIn({
    roots: pki.roots,
    tamper: (c) => ({
      ...c,
      iat: (c.iat as number) - 9 * 3600,
      nbf: (c.nbf as number) - 9 * 3600,
      exp: (c.iat as number) - 3600,
    }),
  });
  cleanups.push(() => expired.close());
  cleanups.push(() => elsewhere.close());
  // Answers what a test sets (an outage, throttling, a huge body).
  failing = await startMaaStandIn({ roots: pki.roots });
  cleanups.push(() => failing.close());
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const vault = await vaultTrusting(
    t.dir,
    [maa, forger, ...swappers, elsewhere],
    { data: policy(maa.url, MEASUREMENT), other: policy(maa.url, OTHER) },
    secret,
  );
  ({ broker, workload, host, input, otherInput } = vault);
  cleanups.push(() => broker.close());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function options(
  inputs: string[],
  events: AuditEvent[],
  o: { authority?: MaaStandIn; sign?: (b: Buffer) => Buffer } = {},
): KeyAccessOptions {
  const authority = o.authority ?? maa;
  return {
    inputs,
    outputKey: `azurekv://${host}/keys/model-key`,
    attestation: true,
    broker: {
      credential: new StaticToken(workload),
      ca: broker.caCertificate,
      maa: { url: authority.url, ca: authority.ca },
    },
    collect: { snpReport: hardware(o.sign) },
    audit: { sink: { record: async (e) => void events.push(e) }, actor: 'test' },
  };
}

describe('attested release through MAA', () => {
  it("releases the input key on MAA's token and opens the input in memory", async () => {
    const events: AuditEvent[] = [];
    const before = maa.issued();
    const access = await openKeyAccess(options([input], events));
    try {
      expect(maa.issued()).toBe(before + 1);
      expect(access.attestation).toMatchObject({ type: 'sevsnpvm', simulated: false, issuer: maa.url });
      expect(access.attestation?.claims['x-ms-sevsnpvm-launchmeasurement']).toBe(MEASUREMENT);
      expect(access.released.map((r) => r.uri)).toEqual([`azurekv://${host}/keys/data-key`]);
      const opened = await unsealBuffer(await readFile(input), { providers: access.providers });
      expect(opened.equals(secret)).toBe(true);
      expect(events.map((e) => [e.action, e.outcome])).toEqual([['run.release', 'ok']]);
    } finally {
      access.close();
    }
  });

  it("is denied by the vault when the key's policy pins another image, and audited", async () => {
    const events: AuditEvent[] = [];
    const e = await openKeyAccess(options([otherInput], events)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_RELEASE_DENIED' });
    expect(String((e as Error).message)).toContain('x-ms-sevsnpvm-launchmeasurement');
    expect(events.map((x) => [x.action, x.outcome, x.code])).toEqual([
      ['run.release', 'error', 'ERR_RELEASE_DENIED'],
    ]);
  });

  it('stops at MAA when the report is not signed by the VCEK: no token, no release', async () => {
    const events: AuditEvent[] = [];
    const stranger = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    const before = maa.issued();
    const e = await openKeyAccess(
      options([input], events, { sign: (b) => signSnpReport(b, stranger) }),
    ).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_ATTEST_REJECTED' });
    expect(String((e as Error).message)).toContain('snp.signature');
    expect(String((e as Error).message)).toContain(maa.url);
    expect(maa.issued()).toBe(before);
    expect(events).toEqual([]);
  });

  it('refuses a token that is forged, names another issuer, or holds another runtime key, before any release', async () => {
    for (const [authority, check] of [
      [forger, 'maa.signature'],
      [elsewhere, 'maa.iss'],
      [expired, 'maa.exp'],
      ...swappers.map((m) => [m, 'maa.runtime'] as const),
    ] as const) {
      const events: AuditEvent[] = [];
      const e = await openKeyAccess(options([input], events, { authority })).catch((x: unknown) => x);
      expect(e, check).toMatchObject({ code: 'ERR_ATTEST_REJECTED' });
      expect(String((e as Error).message)).toContain(`${check}:`);
      expect(events).toEqual([]);
    }
  });

  it('tells a failed request to MAA (a wrong URL, throttling, an outage, a huge answer) from a rejection', async () => {
    const huge = { token: 'x'.repeat(2 * 1024 * 1024) };
    for (const [status, json, why] of [
      [404, { error: { code: 'NotFound' } }, /answered 404/],
      [429, { error: { code: 'TooManyRequests' } }, /answered 429/],
      [500, { error: { code: 'InternalError' } }, /answered 500/],
      [200, huge, /over 1048576 bytes/],
    ] as const) {
      failing.answerWith({ status, json });
      const events: AuditEvent[] = [];
      const e = await openKeyAccess(options([input], events, { authority: failing })).catch(
        (x: unknown) => x,
      );
      expect(e, String(status)).toMatchObject({ code: 'ERR_BROKER_REQUEST', details: { url: failing.url } });
      expect(String((e as Error).message)).toMatch(
        /^The request to MAA \(https:\/\/127\.0\.0\.1:\d+\) failed: /,
      );
      expect(String((e as Error).message)).toMatch(why);
      expect(events).toEqual([]);
    }
    // A 200 without a token, or with one that is not a JWT: nothing is released.
    for (const [json, code] of [
      [{}, 'ERR_BROKER_REQUEST'],
      ['garbage', 'ERR_BROKER_REQUEST'],
      [{ token: 'not-a-jwt' }, 'ERR_ATTEST_MALFORMED'],
      [{ token: 'a.b.c' }, 'ERR_ATTEST_MALFORMED'],
    ] as const) {
      failing.answerWith({ status: 200, json });
      const events: AuditEvent[] = [];
      const e = await openKeyAccess(options([input], events, { authority: failing })).catch(
        (x: unknown) => x,
      );
      expect(e, JSON.stringify(json)).toMatchObject({ code });
      expect(events).toEqual([]);
    }
    failing.answerWith({ status: 400, json: { error: { code: 'InvalidParameter', message: 'bad report' } } });
    const rejected = await openKeyAccess(options([input], [], { authority: failing })).catch(
      (x: unknown) => x,
    );
    expect(rejected).toMatchObject({
      code: 'ERR_ATTEST_REJECTED',
      details: { url: failing.url, status: 400 },
    });
  });

  it('refuses simulated evidence with MAA, in the config and in the library', async () => {
    const config = {
      model: { architecture: 'mlp', input_size: 30, hidden_size: 16, output_size: 2 },
      training: { batch_size: 32, learning_rate: 0.001, epochs: 3 },
      security: { key: 'local:k', tee: 'sim', maa: { url: maa.url } },
      data: { dir: 'prepared' },
      output: { dir: 'runs/a' },
    };
    expect(() => parseRunConfig(config, 'train.json')).toThrow(
      /security\.maa.*MAA never accepts simulated evidence/,
    );
    const events: AuditEvent[] = [];
    const sim = generateKeyPairSync('ed25519').privateKey;
    const e = await openKeyAccess({ ...options([input], events), sim: { privateKey: sim } }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ code: 'ERR_USAGE_INVALID' });
    expect(String((e as Error).message)).toContain('MAA never accepts simulated evidence');
  });

  it("refuses a key the vault names under another origin than the one asked (Key Vault's kid is its URL)", async () => {
    // The broker's certificate covers localhost and 127.0.0.1 alike, and it names its keys by the
    // URL it was started with (127.0.0.1). Asked as localhost, it answers a properly signed
    // release whose kid is another vault's: the key is not used.
    const asLocalhost = broker.url.replace('127.0.0.1', 'localhost');
    expect(asLocalhost).not.toBe(broker.url);
    const releaseFrom = (vaultUrl: string) =>
      releaseWithAttestation({
        vaultUrl,
        credential: new StaticToken(workload),
        keyName: 'data-key',
        agent: new Agent({ ca: broker.caCertificate }),
        clientOptions: {
          agent: new Agent({ ca: broker.caCertificate }),
          disableChallengeResourceVerification: true,
        },
        maa: { url: maa.url, agent: new Agent({ ca: maa.ca }) },
        vaultCa: broker.caCertificate,
        collect: { snpReport: hardware() },
      });
    const released = await releaseFrom(broker.url);
    expect(released.kid.startsWith(`${broker.url}/keys/data-key/`)).toBe(true);
    const e = await releaseFrom(asLocalhost).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_KMS_UNWRAP_FAILED',
      message: expect.stringContaining(`released ${broker.url}/keys/data-key/`),
    });
  }, 60_000);
});
