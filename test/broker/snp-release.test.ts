// Secure Key Release to SEV-SNP evidence, end to end against a broker over TLS: an AMD-like test
// PKI (RSA-PSS ARK/ASK, P-384 VCEK with AMD's extensions) pinned as the broker's Milan roots, a
// version-3 Milan report bound to the broker's nonce and the workload's runtime key, the broker's
// token, KeyClient.releaseKey and the in-memory unwrap. No sim evidence anywhere.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportDataFor } from '../../src/attest/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { unwrapReleasedKey } from '../../src/broker/release/index.js';
import { signSnpReport, type snpTestPki } from '../attest/gen/snp/pki.mjs';
import { MILAN_TCB, milanPki, milanReport } from '../helpers/snp-milan.js';
import { brokerWithPrincipals, keyClient, raw, sdkFailure, tempDir } from './helpers.js';

const TCB = MILAN_TCB;
const CHIP_ID = createHash('sha512').update('snp-release chip').digest('hex');
const MEASUREMENT = createHash('sha384').update('snp-release launch').digest('hex');
const OTHER_MEASUREMENT = createHash('sha384').update('another image').digest('hex');

let pki: ReturnType<typeof snpTestPki>;
let broker: RunningBroker;
let owner: string;
let workload: string;
let cleanup: () => Promise<void>;

/** A fresh nonce for the workload, as bytes and as the base64url text the broker issued. */
async function nonce(token = workload): Promise<{ text: string; bytes: Buffer }> {
  const res = await raw(broker, '/attest/nonce', { token });
  expect(res.status).toBe(200);
  const text = ((await res.json()) as { nonce: string }).nonce;
  return { text, bytes: Buffer.from(text, 'base64url') };
}

/** A `sevsnp` evidence envelope (docs/spec/evidence-v1.md) for `runtime`, signed by `signReport`. */
async function envelope(
  runtime: KeyObject,
  options: { measurement?: string; guestPolicy?: bigint; signReport?: (b: Buffer) => Buffer } = {},
): Promise<string> {
  const n = await nonce();
  const data = reportDataFor(n.bytes, runtime);
  const report = milanReport(data, {
    measurement: options.measurement ?? MEASUREMENT,
    chipId: CHIP_ID,
    tcb: TCB,
    ...(options.guestPolicy !== undefined ? { guestPolicy: options.guestPolicy } : {}),
  });
  (options.signReport ?? pki.sign)(report);
  return JSON.stringify({
    'sealtrain-evidence': 1,
    kind: 'sevsnp',
    createdAt: new Date().toISOString(),
    nonce: n.text,
    runtime: { keys: [runtime.export({ format: 'jwk' })] },
    sevsnp: { report: report.toString('base64'), certificates: { vcek: pki.vcek } },
  });
}

async function postEvidence(body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await raw(broker, '/attest/evidence', { method: 'POST', token: workload, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function releasePolicy(measurement: string): Uint8Array {
  const allOf = [
    { claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sevsnpvm' },
    { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement', equals: measurement },
    { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable', equals: false },
  ];
  return Buffer.from(JSON.stringify({ version: '1.0.0', anyOf: [{ authority: broker.url, allOf }] }));
}

beforeAll(async () => {
  pki = milanPki(CHIP_ID);
  const temp = await tempDir();
  cleanup = temp.cleanup;
  ({ broker, owner, workload } = await brokerWithPrincipals(temp.dir, {
    verify: { snp: { roots: { Milan: pki.roots } } },
  }));
});
afterAll(async () => {
  await broker?.close();
  await cleanup?.();
});

describe('Secure Key Release to SEV-SNP evidence', () => {
  it('issues a token with the report as MAA claims and releases a key whose policy pins the measurement', async () => {
    const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attested = await postEvidence(await envelope(runtime.publicKey));
    expect(attested.status, JSON.stringify(attested.body)).toBe(200);
    const token = String(attested.body.token);
    const claims = decodeJwt(token) as Record<string, unknown>;
    expect(claims.iss).toBe(broker.url);
    expect(claims['x-ms-attestation-type']).toBe('sevsnpvm');
    expect(claims['x-ms-isolation-tee']).toMatchObject({
      'x-ms-attestation-type': 'sevsnpvm',
      'x-ms-sevsnpvm-launchmeasurement': MEASUREMENT,
      'x-ms-sevsnpvm-is-debuggable': false,
      'x-ms-sevsnpvm-microcode-svn': TCB.microcode,
      'x-ms-sevsnpvm-snpfw-svn': TCB.snp,
    });
    expect((claims['x-ms-runtime'] as { keys: unknown[] }).keys).toEqual([
      runtime.publicKey.export({ format: 'jwk' }),
    ]);

    await keyClient(broker, owner).createOctKey('snp-key', {
      exportable: true,
      releasePolicy: { encodedPolicy: releasePolicy(MEASUREMENT) },
    });
    const released = await keyClient(broker, workload).releaseKey('snp-key', token);
    const brokerJwks = await (await raw(broker, '/certs')).json();
    const out = await unwrapReleasedKey(released.value, runtime.privateKey, { brokerJwks });
    expect(out.kty).toBe('oct');
    expect((out.material as Buffer).length).toBe(32);
    (out.material as Buffer).fill(0);
  });

  it('denies a key whose policy pins another measurement, naming the condition', async () => {
    await keyClient(broker, owner).createOctKey('other-image', {
      exportable: true,
      releasePolicy: { encodedPolicy: releasePolicy(OTHER_MEASUREMENT) },
    });
    const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attested = await postEvidence(await envelope(runtime.publicKey));
    expect(attested.status).toBe(200);
    const denied = await sdkFailure(
      keyClient(broker, workload).releaseKey('other-image', String(attested.body.token)),
    );
    expect(denied).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(denied.message).toMatch(/ was denied: policy\.condition: anyOf\[0\]\.allOf\[1\]: /);
    expect(denied.message).toContain(
      `x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement found "${MEASUREMENT}"; wanted equals "${OTHER_MEASUREMENT}".`,
    );
  });

  it('rejects a report signed by a P-384 key other than the VCEK, naming snp.signature', async () => {
    const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const body = await envelope(runtime.publicKey, {
      signReport: (b) => signSnpReport(b, stranger.privateKey),
    });
    const refused = await postEvidence(body);
    expect(refused.status).toBe(403);
    const error = (refused.body as { error: { message: string } }).error;
    expect(error.message).toBe(
      'Evidence the request body (sevsnp) was rejected: snp.signature: The report signature does not verify under the certified key.',
    );
  });

  it('rejects a debuggable guest under the default attestation policy, naming policy.debug', async () => {
    const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const refused = await postEvidence(await envelope(runtime.publicKey, { guestPolicy: 0xb0000n }));
    expect(refused.status).toBe(403);
    const error = (refused.body as { error: { message: string } }).error;
    expect(error.message).toMatch(/^Evidence the request body \(sevsnp\) was rejected: policy\.debug: /);
  });

  it('refuses the same evidence twice: the nonce is spent', async () => {
    const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const body = await envelope(runtime.publicKey);
    expect((await postEvidence(body)).status).toBe(200);
    const replay = await postEvidence(body);
    expect(replay.status).toBe(403);
    expect((replay.body as { error: { message: string } }).error.message).toContain(
      'attest.nonce: The nonce was already used (a replay).',
    );
  });
});
