// The CLI with az:// paths on Azurite and pkcs11: keys on a SoftHSM2 token, as users run it.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, DEV_ACCOUNT, startAzurite } from '../helpers/azurite.mjs';
import { cli, freshHome } from '../helpers/cli.js';
import { initSoftHsmToken, SOFTHSM_MODULE, USER_PIN } from '../kms/conformance/softhsm.js';

let azurite: Azurite | undefined;
let container: ContainerClient;
let home: Awaited<ReturnType<typeof freshHome>>;
let token: Awaited<ReturnType<typeof initSoftHsmToken>>;
let base: string[] = [];
let env: Record<string, string> = {};
const AZ = `az://${DEV_ACCOUNT}/hospital`;
const KEY = 'pkcs11:token=ward-hsm;object=kek';

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('hospital');
  await container.create();
  home = await freshHome();
  token = await initSoftHsmToken('ward-hsm');
  const conn = join(home.dir, 'storage.txt');
  await writeFile(conn, `${azurite.connectionString}\n`, { mode: 0o600 });
  const pin = join(home.dir, 'pin.txt');
  await writeFile(pin, `${USER_PIN}\n`, { mode: 0o600 });
  base = [
    ...['--home', home.home, '--pkcs11-module', SOFTHSM_MODULE, '--pin-file', pin],
    ...['--storage-connection-file', conn],
  ];
  env = { SOFTHSM2_CONF: token.conf };
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  await token?.cleanup();
  await home?.cleanup();
});

async function blobNames(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix })) names.push(b.name);
  return names;
}

describe('sealtrain with az:// paths and pkcs11: keys', () => {
  it('creates an HSM key, seals into a blob, inspects, verifies and unseals it', async () => {
    const created = await cli([...base, 'keys', 'create', KEY, '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    expect((created.json?.key as { uri?: string } | undefined)?.uri).toBe(KEY);
    const listed = await cli([...base, 'keys', 'list', 'pkcs11:token=ward-hsm', '--json'], { env });
    expect((listed.json?.keys as Array<{ uri: string }> | undefined)?.map((k) => k.uri)).toEqual([KEY]);

    const data = randomBytes(3 * 1024 * 1024 + 5);
    data.write('DIAGNOSIS-CODE-MARKER', 1000);
    const input = join(home.dir, 'records.bin');
    await writeFile(input, data);
    const sealed = await cli([...base, 'seal', input, '-o', `${AZ}/records.sealed`, '--key', KEY, '--json'], {
      env,
    });
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.json?.output).toBe(`${AZ}/records.sealed`);
    const raw = await container.getBlockBlobClient('records.sealed').downloadToBuffer();
    expect(raw.includes(Buffer.from('DIAGNOSIS-CODE-MARKER'))).toBe(false);

    const inspected = await cli([...base, 'inspect', `${AZ}/records.sealed`, '--json'], { env });
    expect(inspected.code, inspected.stderr).toBe(0);
    const file = inspected.json?.file as { plaintextLength: number; recipients: Array<{ uri: string }> };
    expect(file.plaintextLength).toBe(data.length);
    expect(file.recipients[0]?.uri).toBe(KEY);
    const verified = await cli([...base, 'verify', `${AZ}/records.sealed`, '--json'], { env });
    expect(verified.code, verified.stderr).toBe(0);

    const output = join(home.dir, 'records.out');
    const opened = await cli([...base, 'unseal', `${AZ}/records.sealed`, '-o', output, '--json'], { env });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.json?.key).toBe(`${KEY}/1`);
    expect((await readFile(output)).equals(data)).toBe(true);

    // Rotation in the HSM, then a rewrap of the blob onto the new version.
    const rotated = await cli([...base, 'keys', 'rotate', KEY, '--json'], { env });
    expect(rotated.code, rotated.stderr).toBe(0);
    const rewrapped = await cli([...base, 'rewrap', `${AZ}/records.sealed`, '--json'], { env });
    expect(rewrapped.code, rewrapped.stderr).toBe(0);
    expect(rewrapped.json?.to).toEqual([`${KEY}/2`]);
    await cli([...base, 'keys', 'disable', KEY, '1'], { env });
    const again = await cli([...base, 'unseal', `${AZ}/records.sealed`, '-o', `${output}.2`, '--json'], {
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json?.key).toBe(`${KEY}/2`);
    expect((await readFile(`${output}.2`)).equals(data)).toBe(true);

    // The local keyring was never needed, so no passphrase was asked for and none exists.
    const audit = await cli([...base, 'audit', 'show', '--json'], { env });
    const entries = (audit.json?.entries ?? []) as Array<{ action: string }>;
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['keys.create', 'seal', 'unseal', 'keys.rotate', 'rewrap', 'keys.disable']),
    );
  });

  it('refuses a wrong PIN, an existing blob and plaintext to a blob, changing nothing', async () => {
    const input = join(home.dir, 'small.bin');
    await writeFile(input, 'small');
    const wrongPin = join(home.dir, 'wrong-pin.txt');
    await writeFile(wrongPin, 'not-the-pin\n');
    const args = base.map((a) => (a.endsWith('pin.txt') ? wrongPin : a));
    const wrong = await cli([...args, 'seal', input, '-o', `${AZ}/wrong/pin.sealed`, '--key', KEY], { env });
    expect(wrong.code).toBe(45);
    expect(wrong.stderr).not.toContain('not-the-pin');
    expect(await blobNames('wrong/')).toEqual([]);

    const again = await cli([...base, 'seal', input, '-o', `${AZ}/records.sealed`, '--key', KEY, '--json'], {
      env,
    });
    expect(again.code).toBe(11);
    expect(again.stderr).toContain(`${AZ}/records.sealed`);

    const plain = await cli([...base, 'unseal', `${AZ}/records.sealed`, '-o', `${AZ}/plain.bin`], { env });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('plaintext');
    expect(await blobNames('plain')).toEqual([]);

    const noModule = await cli(
      ['--home', home.home, 'seal', input, '-o', join(home.dir, 'x.sealed'), '--key', KEY],
      { env },
    );
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toContain('--pkcs11-module');
  });

  it('opens a file sealed for an HSM key and a local key with whichever the user has', async () => {
    const both = await freshHome();
    try {
      const init = await cli([...both.base, 'keys', 'init', '--scrypt-cost', '1024'], { env });
      expect(init.code, init.stderr).toBe(0);
      await cli([...both.base, 'keys', 'create', 'alice'], { env });
      const input = join(both.dir, 'shared.csv');
      await writeFile(input, 'id,label\n1,0\n');
      const sealedPath = join(both.dir, 'shared.sealed');
      const hsm = base.filter((a) => a !== '--home' && a !== home.home);
      const sealed = await cli(
        [...both.base, ...hsm, 'seal', input, '-o', sealedPath, '--key', KEY, '--key', 'local:alice'],
        { env },
      );
      expect(sealed.code, sealed.stderr).toBe(0);
      // Only the keyring passphrase: the HSM recipient is skipped, the local one opens it.
      const local = await cli([...both.base, 'unseal', sealedPath, '-o', `${input}.local`, '--json'], {
        env,
      });
      expect(local.code, local.stderr).toBe(0);
      expect(local.json?.key).toBe('local:alice/1');
      // Only the HSM (a home without a keyring): the local recipient is skipped.
      const viaHsm = await cli([...base, 'unseal', sealedPath, '-o', `${input}.hsm`, '--json'], { env });
      expect(viaHsm.code, viaHsm.stderr).toBe(0);
      expect(viaHsm.json?.key).toBe(`${KEY}/2`);
      expect(await readFile(`${input}.hsm`, 'utf8')).toBe('id,label\n1,0\n');
      // Neither: the error names what was missing for each recipient.
      const none = await cli(['--home', join(both.dir, 'empty'), 'unseal', sealedPath, '-o', `${input}.x`], {
        env,
      });
      expect(none.code).not.toBe(0);
      expect(none.stderr).toContain('--pkcs11-module');
      // The PIN's own options are named when it cannot be read.
      const twice = await cli([...base, '--pin-fd', '3', 'unseal', sealedPath, '-o', `${input}.y`], {
        env,
        fd3: 'x\n',
      });
      expect(twice.stderr).toContain('Give the PKCS#11 PIN with --pin-file or --pin-fd, not both.');
      // A usage mistake stays a usage mistake (exit 2), not "no recipient could open it".
      expect(twice.code).toBe(2);
    } finally {
      await both.cleanup();
    }
  });

  it('names a missing or malformed storage connection file and sends nothing', async () => {
    const input = join(home.dir, 'conn.bin');
    await writeFile(input, 'x');
    const empty = join(home.dir, 'empty-conn.txt');
    await writeFile(empty, '\n');
    const twoLines = join(home.dir, 'two-conn.txt');
    await writeFile(twoLines, 'a=b\nc=d\n');
    const withConn = (file: string) => base.map((a) => (a.endsWith('storage.txt') ? file : a));
    const missing = await cli(
      [...withConn(join(home.dir, 'nope.txt')), 'seal', input, '-o', `${AZ}/conn/a`, '--key', KEY],
      {
        env,
      },
    );
    expect(missing.code).toBe(10);
    expect(missing.stderr).toContain('nope.txt');
    for (const file of [empty, twoLines]) {
      const bad = await cli([...withConn(file), 'seal', input, '-o', `${AZ}/conn/a`, '--key', KEY], { env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(file);
      expect(bad.stderr).not.toContain('c=d');
    }
    expect(await blobNames('conn/')).toEqual([]);
  });

  it('leaves no blob when the sealing process is killed mid-upload', async () => {
    const input = join(home.dir, 'big.bin');
    await writeFile(input, randomBytes(96 * 1024 * 1024));
    const blob = container.getBlockBlobClient('killed/big.sealed');
    let staged = 0;
    const result = await cli([...base, 'seal', input, '-o', `${AZ}/killed/big.sealed`, '--key', KEY], {
      env,
      signalWhen: {
        signal: 'SIGKILL',
        ready: async () => {
          const list = await blob.getBlockList('uncommitted');
          staged = list.uncommittedBlocks?.length ?? 0;
          return staged > 0;
        },
      },
    });
    expect(result.code).toBe(128); // killed by the signal
    expect(staged).toBeGreaterThan(0); // the upload had begun
    expect(await blobNames('killed/')).toEqual([]);
    expect(await blob.exists()).toBe(false);
  }, 60_000);
});
