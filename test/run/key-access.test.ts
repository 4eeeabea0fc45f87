// openKeyAccess reads the output key's public part while the TEE attests: the keys it returns
// open the input and seal for the output key, a missing output key is still reported by name, and
// a refused release is reported as such even when the output key is missing too. The inputs'
// keys are there (inputProviders) before the output key's public part; an attestation started
// while the inputs' recipients are read still refuses an input sealed in another vault. The
// broker's CA is parsed once for all the connections, and still refuses another CA's certificate.

import { createPublicKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOrCreateSimKey } from '../../src/attest/index.js';
import type { AuditEvent } from '../../src/audit/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { type KeyAccessOptions, openKeyAccess } from '../../src/run/index.js';
import { sealBuffer, unsealBuffer } from '../../src/seal/index.js';
import { brokerWithPrincipals, keyClient, StaticToken, sealerFor, tempDir } from '../broker/helpers.js';

const cleanups: Array<() => Promise<void>> = [];
let broker: RunningBroker;
let workload: string;
let host: string;
let sim: Awaited<ReturnType<typeof loadOrCreateSimKey>>['privateKey'];
let input: string;
let strictInput: string;
let foreignInput: string;
/** Another broker's CA, which did not issue this broker's certificate. */
let otherCa: string;
const secret = Buffer.from('rows that only the attested TEE may read');

function policy(authority: string, extra: object[] = []) {
  return {
    encodedPolicy: Buffer.from(
      JSON.stringify({
        version: '1.0.0',
        anyOf: [{ authority, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }, ...extra] }],
      }),
    ),
  };
}

beforeAll(async () => {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  await mkdir(join(t.dir, 'home'));
  sim = (await loadOrCreateSimKey(join(t.dir, 'home'))).privateKey;
  const started = await brokerWithPrincipals(t.dir, {
    allowSimulated: true,
    simPublicKey: createPublicKey(sim),
  });
  ({ broker, workload } = started);
  cleanups.push(() => broker.close());
  host = new URL(broker.url).host;
  const owners = keyClient(broker, started.owner);
  for (const name of ['data-key', 'model-key'])
    await owners.createKey(name, 'RSA', {
      keySize: 2048,
      exportable: true,
      releasePolicy: policy(broker.url),
    });
  await owners.createKey('strict-key', 'RSA', {
    keySize: 2048,
    exportable: true,
    releasePolicy: policy(broker.url, [{ claim: 'x-ms-sim-launchmeasurement', equals: 'ab'.repeat(48) }]),
  });
  const seal = sealerFor(broker, started.owner, t.dir);
  const sealFor = (key: string, name: string) => seal(secret, key, name);
  input = await sealFor('data-key', 'input.sealed');
  strictInput = await sealFor('strict-key', 'strict.sealed');
  // The same key name in a vault this run does not trust.
  const o = await tempDir();
  cleanups.push(o.cleanup);
  const other = await brokerWithPrincipals(o.dir, {
    allowSimulated: true,
    simPublicKey: createPublicKey(sim),
  });
  cleanups.push(() => other.broker.close());
  otherCa = other.broker.caCertificate;
  await keyClient(other.broker, other.owner).createKey('data-key', 'RSA', {
    keySize: 2048,
    exportable: true,
    releasePolicy: policy(other.broker.url),
  });
  foreignInput = await sealerFor(other.broker, other.owner, o.dir)(secret, 'data-key', 'foreign.sealed');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function options(inputs: string[], outputKey: string, events: AuditEvent[]): KeyAccessOptions {
  return {
    inputs,
    outputKey: `azurekv://${host}/keys/${outputKey}`,
    attestation: true,
    sim: { privateKey: sim },
    broker: { credential: new StaticToken(workload), ca: broker.caCertificate },
    audit: { sink: { record: async (e) => void events.push(e) }, actor: 'test' },
  };
}

describe('openKeyAccess', () => {
  it('releases the input key after attestation and holds the output key to seal for', async () => {
    const events: AuditEvent[] = [];
    const access = await openKeyAccess(options([input], 'model-key', events));
    try {
      expect(access.attestation?.type).toBe('sim');
      expect(access.released.map((r) => r.uri)).toEqual([`azurekv://${host}/keys/data-key`]);
      const opened = await unsealBuffer(await readFile(input), { providers: access.providers });
      expect(opened.equals(secret)).toBe(true);
      const out = await sealBuffer(Buffer.from('weights'), {
        recipients: [`azurekv://${host}/keys/model-key`],
        providers: access.providers,
      });
      expect(out.length).toBeGreaterThan(0);
      expect(events.map((e) => [e.action, e.outcome])).toEqual([['run.release', 'ok']]);
    } finally {
      access.close();
    }
  });

  it("parses the broker's CA once, into one TLS context all its connections share", async () => {
    const connect = vi.spyOn(tls, 'connect');
    try {
      const access = await openKeyAccess(options([input], 'model-key', []));
      access.close();
      const port = Number(new URL(broker.url).port);
      const contexts = connect.mock.calls
        .map(([o]) => o as tls.ConnectionOptions)
        .filter((o) => typeof o === 'object' && o !== null && Number(o.port) === port)
        .map((o) => o.secureContext);
      // The attestation and the output key's public part are asked for at once: more than one.
      expect(contexts.length).toBeGreaterThan(1);
      expect(contexts[0]).toBeTypeOf('object');
      for (const c of contexts) expect(c).toBe(contexts[0]);
    } finally {
      connect.mockRestore();
    }
  });

  it('refuses a broker whose certificate the configured CA did not issue, releasing nothing', async () => {
    const events: AuditEvent[] = [];
    const soon = openKeyAccess({
      ...options([input], 'model-key', events),
      broker: { credential: new StaticToken(workload), ca: otherCa },
    });
    const e = await soon.catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_BROKER_REQUEST' });
    expect((e as Error).message).toMatch(
      /cannot reach https:\/\/127\.0\.0\.1:\d+\/attest\/nonce \((self[- ]signed certificate|unable to verify)/,
    );
    await expect(soon.inputProviders).rejects.toBe(e);
    expect(events.filter((x) => x.outcome === 'ok')).toEqual([]);
  });

  it('names a missing output key, after the input key was released and recorded', async () => {
    const events: AuditEvent[] = [];
    const e = await openKeyAccess(options([input], 'no-such-key', events)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_KMS_KEY_NOT_FOUND' });
    expect(String((e as Error).message)).toContain('no-such-key');
    expect(events.map((x) => [x.action, x.outcome])).toEqual([['run.release', 'ok']]);
  });

  it('reports a refused release, not the missing output key read beside it', async () => {
    const events: AuditEvent[] = [];
    const e = await openKeyAccess(options([strictInput], 'no-such-key', events)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_RELEASE_DENIED' });
    expect(events.map((x) => [x.action, x.outcome, x.code])).toEqual([
      ['run.release', 'error', 'ERR_RELEASE_DENIED'],
    ]);
  });

  it('gives the input keys first: they open the input and are the providers of the whole answer', async () => {
    const order: string[] = [];
    const soon = openKeyAccess(options([input], 'model-key', []));
    soon.inputProviders.then(() => order.push('inputs'));
    soon.then(() => order.push('all'));
    const providers = await soon.inputProviders;
    const opened = await unsealBuffer(await readFile(input), { providers });
    expect(opened.equals(secret)).toBe(true);
    const access = await soon;
    try {
      expect(order).toEqual(['inputs', 'all']);
      expect(access.providers).toEqual(providers);
    } finally {
      access.close();
    }
  });

  it('forgets the input keys it gave early when the output key then cannot be read', async () => {
    const events: AuditEvent[] = [];
    const order: string[] = [];
    const soon = openKeyAccess(options([input], 'no-such-key', events));
    soon.inputProviders.then(() => order.push('inputs'));
    const e = await soon.catch((x: unknown) => {
      order.push('failed');
      return x;
    });
    expect(e).toMatchObject({ code: 'ERR_KMS_KEY_NOT_FOUND' });
    expect(order).toEqual(['inputs', 'failed']);
    expect(events.map((x) => [x.action, x.outcome])).toEqual([['run.release', 'ok']]);
    const providers = await soon.inputProviders;
    await expect(unsealBuffer(await readFile(input), { providers })).rejects.toMatchObject({
      code: 'ERR_KMS_UNWRAP_FAILED',
    });
  });

  it('refuses an input sealed in another vault before any key is asked for', async () => {
    const events: AuditEvent[] = [];
    const soon = openKeyAccess(options([input, foreignInput], 'model-key', events));
    const e = await soon.catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_RUN_NOT_ATTESTED' });
    expect(String((e as Error).message)).toContain(foreignInput);
    await expect(soon.inputProviders).rejects.toBe(e);
    expect(events).toEqual([]);
  });

  it('reports an input sealed in another vault, not the refused attestation started beside it', async () => {
    const events: AuditEvent[] = [];
    const badToken = { broker: { credential: new StaticToken('not-a-principal'), ca: broker.caCertificate } };
    const both = await openKeyAccess({
      ...options([input, foreignInput], 'model-key', events),
      ...badToken,
    }).catch((x: unknown) => x);
    expect(both).toMatchObject({ code: 'ERR_RUN_NOT_ATTESTED' });
    // With good inputs, the refused credential is the error, and nothing was released.
    const alone = openKeyAccess({ ...options([input], 'model-key', events), ...badToken });
    await expect(alone).rejects.toMatchObject({ code: 'ERR_BROKER_AUTH' });
    await expect(alone.inputProviders).rejects.toMatchObject({ code: 'ERR_BROKER_AUTH' });
    expect(events).toEqual([]);
  });
});
