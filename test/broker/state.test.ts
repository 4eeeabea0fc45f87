import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditEntries, verifyAuditLog } from '../../src/audit/index.js';
import { addPrincipal, BrokerStore, startBroker } from '../../src/broker/index.js';
import {
  brokerWithPrincipals,
  cryptoClient,
  FAST_SCRYPT,
  keyClient,
  pass,
  rejectsWith,
  sdkFailure,
  tempDir,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

/** Every file under `root`, recursively, with its bytes. */
async function allFiles(root: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, bytes: await readFile(path) });
  }
  return out;
}

describe('broker state at rest', () => {
  it('holds no key material, token or key name in clear in any file', async () => {
    const sub = join(dir, 'clear');
    const { broker, owner, stateDir } = await brokerWithPrincipals(sub);
    const client = keyClient(broker, owner);
    await client.createOctKey('secret-name-oct');
    await client.createRsaKey('secret-name-rsa');
    await broker.close();

    const store = await BrokerStore.open(stateDir, pass(), { mustExist: true });
    const doc = await store.read();
    store.close();
    const needles: Buffer[] = [Buffer.from(owner), Buffer.from('secret-name')];
    for (const versions of Object.values(doc.keys)) {
      for (const v of versions) {
        const raw = Buffer.from(v.material, 'base64');
        const piece = raw.subarray(raw.length - 32);
        needles.push(
          piece,
          Buffer.from(piece.toString('hex')),
          Buffer.from(piece.toString('base64url').slice(0, 40)),
        );
      }
    }
    const files = (await allFiles(stateDir)).filter((f) => !f.path.includes(`${join('state', 'audit')}`));
    expect(files.map((f) => f.path.slice(stateDir.length + 1)).sort()).toEqual([
      'state.json',
      'tls/ca-key.pem',
      'tls/ca.pem',
      'tls/server-key.pem',
      'tls/server.pem',
    ]);
    for (const file of files)
      for (const needle of needles) expect(file.bytes.includes(needle), file.path).toBe(false);
    // The audit log names keys (that is its job) but never holds material or tokens.
    for (const file of await allFiles(join(stateDir, 'audit')))
      for (const needle of needles.filter((n) => !n.toString().startsWith('secret-name')))
        expect(file.bytes.includes(needle), file.path).toBe(false);
  });

  it('refuses a wrong passphrase with ERR_BROKER_STATE', async () => {
    const stateDir = join(dir, 'clear', 'state');
    const error = await rejectsWith(
      startBroker({ stateDir, passphrase: pass('not-the-passphrase'), log: () => {} }),
      'ERR_BROKER_STATE',
    );
    expect(error.message).toBe(
      `Cannot open the broker state ${join(stateDir, 'state.json')}: wrong passphrase, or the file was modified.`,
    );
  });

  it('refuses a modified state file with the same error, and a malformed one naming the field', async () => {
    const stateDir = join(dir, 'tamper');
    const store = await BrokerStore.open(stateDir, pass(), { scryptCost: FAST_SCRYPT });
    store.close();
    const path = join(stateDir, 'state.json');
    const envelope = JSON.parse(await readFile(path, 'utf8'));
    const sealed = Buffer.from(envelope.sealed, 'base64');
    sealed[10] = (sealed[10] ?? 0) ^ 1;
    await writeFile(path, JSON.stringify({ ...envelope, sealed: sealed.toString('base64') }));
    const flipped = await rejectsWith(BrokerStore.open(stateDir, pass()), 'ERR_BROKER_STATE');
    expect(flipped.message).toContain('wrong passphrase, or the file was modified');
    await writeFile(path, JSON.stringify({ ...envelope, generation: envelope.generation + 1 }));
    await rejectsWith(BrokerStore.open(stateDir, pass()), 'ERR_BROKER_STATE');
    await writeFile(path, JSON.stringify({ ...envelope, version: 2 }));
    const version = await rejectsWith(BrokerStore.open(stateDir, pass()), 'ERR_BROKER_STATE');
    expect(version.message).toBe(`Cannot open the broker state ${path}: field "version" is 2, not 1.`);
    await writeFile(path, 'not json');
    expect((await rejectsWith(BrokerStore.open(stateDir, pass()), 'ERR_BROKER_STATE')).message).toContain(
      'it is not JSON',
    );
  });

  it('refuses to open a missing state with mustExist', async () => {
    const error = await rejectsWith(
      BrokerStore.open(join(dir, 'none'), pass(), { mustExist: true }),
      'ERR_BROKER_STATE',
    );
    expect(error.message).toContain('There is no broker state in');
  });

  it('sees principals another process adds while it runs', async () => {
    const sub = join(dir, 'live');
    const { broker, stateDir } = await brokerWithPrincipals(sub);
    const store = await BrokerStore.open(stateDir, pass(), { mustExist: true });
    const { token } = await addPrincipal(store, { name: 'late', role: 'owner' });
    store.close();
    expect((await keyClient(broker, token).createOctKey('late-key')).name).toBe('late-key');
    await broker.close();
  });

  it('audits every decision: principal, operation, key, version, outcome and reason', async () => {
    const sub = join(dir, 'audit');
    const { broker, owner, workload, stateDir } = await brokerWithPrincipals(sub);
    const key = await keyClient(broker, owner).createOctKey('audited');
    const wrapped = await cryptoClient(broker, key.id ?? '', owner).wrapKey('A256KW', randomBytes(32));
    await sdkFailure(cryptoClient(broker, key.id ?? '', workload).unwrapKey('A256KW', wrapped.result));
    await broker.close();
    const entries = await readAuditEntries(join(stateDir, 'audit'));
    const create = entries.find((e) => e.action === 'broker.keys.create' && e.outcome === 'ok');
    expect(create).toMatchObject({
      actor: 'alice',
      key: { uri: 'broker:audited', version: key.properties.version },
      details: { status: 200, route: '/keys/{name}/create', kty: 'oct' },
    });
    const denied = entries.find((e) => e.action === 'broker.keys.unwrap');
    expect(denied).toMatchObject({
      actor: 'trainer',
      outcome: 'error',
      code: 'ERR_BROKER_AUTH',
      details: { status: 403, reason: 'forbidden' },
    });
    const challenge = entries.find((e) => e.actor === 'anonymous');
    expect(challenge).toMatchObject({
      outcome: 'error',
      code: 'ERR_BROKER_AUTH',
      details: { status: 401, reason: 'unauthenticated' },
    });
    expect((await verifyAuditLog(join(stateDir, 'audit'))).ok).toBe(true);
  });
});
