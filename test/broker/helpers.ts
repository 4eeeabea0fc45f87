import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { attestWorkload } from '../../src/broker/client/attested-release.js';
import {
  addPrincipal,
  type BrokerOptions,
  BrokerStore,
  type RunningBroker,
  startBroker,
} from '../../src/broker/index.js';
import { AzureKeyVaultProvider } from '../../src/kms/index.js';
import { sealBuffer } from '../../src/seal/index.js';

/** The broker passphrase the tests use. */
export const PASSPHRASE = 'marmalade-lantern-quartz-41';
/** scrypt cost for tests: the smallest the state accepts. */
export const FAST_SCRYPT = 1024;

export const pass = (value = PASSPHRASE): Buffer => Buffer.from(value);

/** A temp folder, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-broker-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A TokenCredential that hands out a fixed broker token and records the scopes asked for. */
export class StaticToken implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(readonly token: string) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

/** SDK client options that trust the broker's CA; the challenge names vault.azure.net, not 127.0.0.1. */
export function clientOptions(broker: RunningBroker) {
  return {
    agent: new Agent({ ca: broker.caCertificate }),
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  };
}

/** A running broker in `dir/state` with an owner and a workload principal. */
export async function brokerWithPrincipals(
  dir: string,
  options: Partial<BrokerOptions> = {},
): Promise<{ broker: RunningBroker; owner: string; workload: string; stateDir: string }> {
  const stateDir = join(dir, 'state');
  const broker = await startBroker({
    stateDir,
    passphrase: pass(),
    scryptCost: FAST_SCRYPT,
    log: () => {},
    ...options,
  });
  const store = await BrokerStore.open(stateDir, pass(), { mustExist: true });
  try {
    const owner = (await addPrincipal(store, { name: 'alice', role: 'owner' })).token;
    const workload = (await addPrincipal(store, { name: 'trainer', role: 'workload' })).token;
    return { broker, owner, workload, stateDir };
  } finally {
    store.close();
  }
}

/** Seals bytes into `dir/name` for one of `broker`'s keys, as its owner (`ownerToken`). */
export function sealerFor(
  broker: RunningBroker,
  ownerToken: string,
  dir: string,
): (bytes: Buffer, key: string, name: string) => Promise<string> {
  const vault = new AzureKeyVaultProvider({
    vaultUrl: broker.url,
    credential: new StaticToken(ownerToken),
    clientOptions: clientOptions(broker),
  });
  const host = new URL(broker.url).host;
  return async (bytes, key, name) => {
    const path = join(dir, name);
    await writeFile(
      path,
      await sealBuffer(bytes, { recipients: [`azurekv://${host}/keys/${key}`], providers: [vault] }),
    );
    return path;
  };
}

/** Attests a simulated workload (`sim`'s key) to `broker`; `over` adds the runtime key or the wrapping. */
export function attestSim(
  broker: RunningBroker,
  workload: string,
  sim: KeyObject,
  over: Partial<Parameters<typeof attestWorkload>[0]> = {},
) {
  return attestWorkload({
    vaultUrl: broker.url,
    credential: new StaticToken(workload),
    agent: new Agent({ ca: broker.caCertificate }),
    clientOptions: clientOptions(broker),
    sim: { privateKey: sim },
    ...over,
  });
}

export function keyClient(broker: RunningBroker, token: string): KeyClient {
  return new KeyClient(broker.url, new StaticToken(token), clientOptions(broker));
}

export function cryptoClient(broker: RunningBroker, kid: string, token: string): CryptographyClient {
  return new CryptographyClient(kid, new StaticToken(token), clientOptions(broker));
}

/** A raw HTTPS request to the broker. */
export async function raw(
  broker: Pick<RunningBroker, 'url' | 'caCertificate'>,
  path: string,
  init: { method?: string; token?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: () => Promise<unknown>; text: () => Promise<string> }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      `${broker.url}${path}`,
      {
        method: init.method ?? 'GET',
        ca: broker.caCertificate,
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({
            status: res.statusCode ?? 0,
            headers,
            json: async () => JSON.parse(text),
            text: async () => text,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export { rejectsWith } from '../helpers/rejects.js';

/** Awaits an SDK call that must fail, and returns its HTTP status and Key Vault error code. */
export async function sdkFailure(
  promise: Promise<unknown>,
): Promise<{ status: number; code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message: string };
    return { status: e.statusCode ?? 0, code: e.code ?? '', message: e.message };
  }
  throw new Error('expected the SDK call to fail, but it succeeded');
}
