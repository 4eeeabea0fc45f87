import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addPrincipal, BrokerStore, type RunningBroker, revokePrincipal } from '../../src/broker/index.js';
import { brokerWithPrincipals, keyClient, pass, raw, sdkFailure, tempDir } from './helpers.js';

const API = 'api-version=7.6';
const running: Array<{ broker: RunningBroker; cleanup: () => Promise<void> }> = [];

async function start(options: Parameters<typeof brokerWithPrincipals>[1] = {}) {
  const temp = await tempDir();
  const started = await brokerWithPrincipals(temp.dir, options);
  running.push({ broker: started.broker, cleanup: temp.cleanup });
  return started;
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.broker.close();
    await r.cleanup();
  }
});

describe('broker authentication and limits', () => {
  it('answers an anonymous request 401 with the challenge the SDK parses', async () => {
    const { broker } = await start();
    const res = await raw(broker, `/keys/x?${API}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer authorization="https://login.microsoftonline.com/sealtrain-broker", resource="https://vault.azure.net"',
    );
    expect(await res.json()).toEqual({
      error: { code: 'Unauthorized', message: 'The request has no bearer token.' },
    });
  });

  it('answers an unknown token 401, and unknown routes only after authentication', async () => {
    const { broker, owner } = await start();
    expect((await raw(broker, '/nowhere', { token: 'stbk_forged' })).status).toBe(401);
    expect((await raw(broker, '/nowhere')).status).toBe(401);
    const res = await raw(broker, '/nowhere', { token: owner });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NotFound');
    expect((await raw(broker, `/keys/x?${API}`, { method: 'DELETE', token: owner })).status).toBe(405);
  });

  it('requires a known api-version on Key Vault routes', async () => {
    const { broker, owner } = await start();
    const missing = await raw(broker, '/keys/x', { token: owner });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({
      error: { code: 'BadParameter', message: 'The query parameter "api-version" is missing.' },
    });
    const old = await raw(broker, '/keys/x?api-version=2016-10-01', { token: owner });
    expect(old.status).toBe(400);
  });

  it('refuses an expired token (401) and a revoked one (401)', async () => {
    let clock = new Date('2030-01-01T00:00:00Z');
    const { broker, owner, stateDir } = await start({ now: () => clock });
    const store = await BrokerStore.open(stateDir, pass(), { mustExist: true });
    const { token: shortLived } = await addPrincipal(
      store,
      { name: 'brief', role: 'owner' },
      { ttlSeconds: 60, now: () => clock },
    );
    expect((await raw(broker, `/keys?${API}`, { token: shortLived })).status).toBe(200);
    clock = new Date(clock.getTime() + 61_000);
    const expired = await raw(broker, `/keys?${API}`, { token: shortLived });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({
      error: { code: 'Unauthorized', message: 'The token of principal "brief" has expired.' },
    });
    await revokePrincipal(store, 'alice');
    store.close();
    const revoked = await raw(broker, `/keys?${API}`, { token: owner });
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { error: { message: string } }).error.message).toBe(
      'The token of principal "alice" was revoked.',
    );
  });

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const { broker, owner } = await start({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ kty: 'oct', tags: { pad: 'x'.repeat(2000) } });
    const declared = await raw(broker, `/keys/big/create?${API}`, {
      method: 'POST',
      token: owner,
      body: big,
    });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      error: { code: 'RequestTooLarge', message: 'The request body is larger than 1024 bytes.' },
    });
    const streamed = await raw(broker, `/keys/big/create?${API}`, {
      method: 'POST',
      token: owner,
      body: big,
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(streamed.status).toBe(413);
    const small = await raw(broker, `/keys/small/create?${API}`, {
      method: 'POST',
      token: owner,
      body: '{"kty":"oct"}',
    });
    expect(small.status).toBe(200);
  });

  it('limits each principal with a token bucket: 429 with Retry-After', async () => {
    const { broker, owner, workload } = await start({ rateLimit: { ratePerSecond: 0.01, burst: 3 } });
    for (let i = 0; i < 3; i++)
      expect((await raw(broker, `/keys?${API}`, { token: owner })).status).toBe(200);
    const limited = await raw(broker, `/keys?${API}`, { token: owner });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('100');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('Throttled');
    // Another principal has its own bucket.
    expect((await raw(broker, '/attest/nonce', { token: workload })).status).toBe(200);
  });

  it('refuses malformed bodies naming the field', async () => {
    const { broker, owner } = await start();
    const notJson = await raw(broker, `/keys/k/create?${API}`, {
      method: 'POST',
      token: owner,
      body: '{oops',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toBe(
      'The request body is not JSON.',
    );
    const badSize = await raw(broker, `/keys/k/create?${API}`, {
      method: 'POST',
      token: owner,
      body: JSON.stringify({ kty: 'RSA', key_size: 1024 }),
    });
    expect(((await badSize.json()) as { error: { message: string } }).error.message).toBe(
      'Field "key_size" is 1024; RSA keys are 2048, 3072, 4096 bits.',
    );
    const badOps = await raw(broker, `/keys/k/create?${API}`, {
      method: 'POST',
      token: owner,
      body: JSON.stringify({ kty: 'oct', key_ops: ['sign'] }),
    });
    expect(((await badOps.json()) as { error: { message: string } }).error.message).toBe(
      'Field "key_ops" names sign; the broker supports wrapKey, unwrapKey.',
    );
    const badPolicy = await sdkFailure(
      keyClient(broker, owner).createRsaKey('p', {
        exportable: true,
        releasePolicy: { encodedPolicy: Buffer.from('{"version":"1.0.0"}') },
      }),
    );
    expect(badPolicy.status).toBe(400);
    expect(badPolicy.message).toContain('anyOf');
  });

  it('serves /healthz and /certs without a token, /metrics only with one', async () => {
    const { broker, owner } = await start();
    expect(await (await raw(broker, '/healthz')).json()).toEqual({ status: 'ok' });
    const certs = (await (await raw(broker, '/certs')).json()) as {
      keys: Array<{ kty: string; alg: string }>;
    };
    expect(certs.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' });
    expect((await raw(broker, '/metrics')).status).toBe(401);
    await raw(broker, `/keys?${API}`, { token: owner });
    const text = await (await raw(broker, '/metrics', { token: owner })).text();
    expect(text).toContain('sealtrain_broker_requests_total{route="/keys",method="GET",status="200"} 1');
    expect(text).toContain('sealtrain_broker_request_duration_seconds_bucket');
  });

  it('keeps the TLS private keys private (0600) and prints how to trust the CA', async () => {
    const temp = await tempDir();
    const lines: string[] = [];
    const { broker, stateDir } = await brokerWithPrincipals(temp.dir, { log: (l) => lines.push(l) });
    running.push({ broker, cleanup: temp.cleanup });
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(stateDir, 'tls', 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(stateDir, 'tls', 'server-key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(stateDir, 'state.json'))).mode & 0o777).toBe(0o600);
    expect(lines[0]).toBe(`sealtrain broker listening on ${broker.url}`);
    expect(lines[1]).toContain(`NODE_EXTRA_CA_CERTS=${join(stateDir, 'tls', 'ca.pem')}`);
  });
});
