// sealFile, unsealFile, inspectFile, verifySealedFile and SealedReader on az:// locations (Azurite).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inspectFile,
  reencryptFile,
  rewrapFile,
  SealedReader,
  sealFile,
  unsealFile,
  verifySealedFile,
} from '../../src/seal/index.js';
import { BlobStore } from '../../src/store/index.js';
import { type Azurite, DEV_ACCOUNT, startAzurite } from '../helpers/azurite.mjs';
import { rejectsWith } from '../helpers/rejects.js';
import { staticProvider } from '../vectors/static-provider.mjs';
import { codeOf } from './conformance.js';

let azurite: Azurite | undefined;
let container: ContainerClient;
let dir = '';
const providers = [staticProvider({ owner: { '1': Buffer.alloc(32, 3) } })];
const AZ = `az://${DEV_ACCOUNT}/sealed-data`;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'sealed-data',
  );
  await container.create();
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-blob-seal-'));
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

function storage() {
  if (!azurite) throw new Error('azurite not started');
  // Small blocks and parts so a few MiB already take the parallel paths.
  return { connectionString: azurite.connectionString, blockSize: 1024 * 1024, concurrency: 3 };
}

/** Plaintext with a marker repeated through it, to look for in what reached the service. */
function plaintext(size: number): Buffer {
  const out = randomBytes(size);
  for (let at = 0; at + 32 < size; at += 100_000) out.write('PATIENT-RECORD-MARKER-0123456789', at);
  return out;
}

describe('sealing to and from Blob Storage', () => {
  it('seals a file straight into a blob and unseals, verifies, inspects and reads it back', async () => {
    const data = plaintext(5 * 1024 * 1024 + 17);
    const input = join(dir, 'records.bin');
    await writeFile(input, data);
    const sealed = await sealFile(input, `${AZ}/ward-7/records.sealed`, {
      recipients: ['local:owner'],
      providers,
      chunkSize: 65536,
      storage: storage(),
    });
    expect(sealed.path).toBe(`${AZ}/ward-7/records.sealed`);
    const raw = await container.getBlockBlobClient('ward-7/records.sealed').downloadToBuffer();
    expect(raw.includes(Buffer.from('PATIENT-RECORD-MARKER'))).toBe(false);
    const blocks = await container.getBlockBlobClient('ward-7/records.sealed').getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBeGreaterThan(3);

    const info = await inspectFile(`${AZ}/ward-7/records.sealed`, { storage: storage() });
    expect(info.plaintextLength).toBe(data.length);
    expect(info.recipients.map((r) => r.uri)).toEqual(['local:owner']);
    const verified = await verifySealedFile(`${AZ}/ward-7/records.sealed`, providers, { storage: storage() });
    expect(verified.plaintextLength).toBe(data.length);

    const output = join(dir, 'records.out');
    const opened = await unsealFile(`${AZ}/ward-7/records.sealed`, output, { providers, storage: storage() });
    expect(opened.bodyDigest).toBe(sealed.bodyDigest);
    expect((await readFile(output)).equals(data)).toBe(true);

    const reader = await SealedReader.open(`${AZ}/ward-7/records.sealed`, { providers, storage: storage() });
    try {
      expect(
        Buffer.from(await reader.read(3_000_000, 1000)).equals(data.subarray(3_000_000, 3_001_000)),
      ).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('refuses to replace a blob unless asked, and replaces it when asked', async () => {
    const input = join(dir, 'small.bin');
    await writeFile(input, 'first version');
    const target = `${AZ}/replace/model.sealed`;
    await sealFile(input, target, { recipients: ['local:owner'], providers, storage: storage() });
    const before = await container.getBlockBlobClient('replace/model.sealed').getProperties();
    await writeFile(input, 'second version');
    const error = await rejectsWith(
      sealFile(input, target, {
        recipients: ['local:owner'],
        providers,
        storage: storage(),
      }),
      'ERR_IO_EXISTS',
    );
    expect(error.message).toContain(target);
    const after = await container.getBlockBlobClient('replace/model.sealed').getProperties();
    expect(after.etag).toBe(before.etag);
    await sealFile(input, target, {
      recipients: ['local:owner'],
      providers,
      storage: storage(),
      overwrite: true,
    });
    const out = join(dir, 'replaced.out');
    await unsealFile(target, out, { providers, storage: storage() });
    expect(await readFile(out, 'utf8')).toBe('second version');
  });

  it('leaves no blob when the input fails partway through a seal', async () => {
    const stdin = new PassThrough();
    const sealing = sealFile('-', `${AZ}/broken/upload.sealed`, {
      recipients: ['local:owner'],
      providers,
      storage: storage(),
      stdio: { stdin },
    });
    stdin.write(randomBytes(3 * 1024 * 1024));
    setTimeout(() => stdin.destroy(new Error('the producer died')), 50);
    expect(await codeOf(sealing)).toBeDefined();
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'broken/' })) names.push(b.name);
    expect(names).toEqual([]);
  });

  it('refuses a tampered blob without writing plaintext, and never unseals into a blob', async () => {
    const input = join(dir, 'tamper.bin');
    await writeFile(input, plaintext(300_000));
    const target = `${AZ}/tamper/t.sealed`;
    await sealFile(input, target, {
      recipients: ['local:owner'],
      providers,
      chunkSize: 65536,
      storage: storage(),
    });
    const blob = container.getBlockBlobClient('tamper/t.sealed');
    const raw = await blob.downloadToBuffer();
    raw[raw.length - 5000] = (raw[raw.length - 5000] ?? 0) ^ 1;
    await blob.uploadData(raw);
    const out = join(dir, 'tamper.out');
    const error = await rejectsWith(
      unsealFile(target, out, { providers, storage: storage() }),
      'ERR_SEAL_DECRYPT_FAILED',
    );
    expect(error.message).not.toMatch(/chunk|offset|\d{4,}/);
    expect((await readdir(dir)).filter((n) => n.startsWith('tamper.out'))).toEqual([]);

    const refused = await rejectsWith(
      unsealFile(target, `${AZ}/plain/out.bin`, { providers, storage: storage() }),
      'ERR_USAGE_INVALID',
    );
    expect(refused.message).toContain('plaintext');
    expect(await codeOf(reencryptFile(target, { providers }))).toBe('ERR_USAGE_INVALID');
  });

  it('rewraps a blob to a new key version, and leaves a blob that changed meanwhile alone', async () => {
    const keks: Record<string, Record<string, Buffer>> = { rot: { '1': Buffer.alloc(32, 1) } };
    const rotating = [staticProvider(keks)];
    const input = join(dir, 'rotate.bin');
    const data = plaintext(2 * 1024 * 1024 + 3);
    await writeFile(input, data);
    const target = `${AZ}/rotate/r.sealed`;
    await sealFile(input, target, {
      recipients: ['local:rot'],
      providers: rotating,
      chunkSize: 65536,
      storage: storage(),
    });
    keks.rot = { ...keks.rot, '2': Buffer.alloc(32, 2) };
    const blocksOf = async (name: string) =>
      ((await container.getBlockBlobClient(name).getBlockList('committed')).committedBlocks ?? []).map(
        (b) => b.name,
      );
    const blocksBefore = await blocksOf('rotate/r.sealed');
    // A copy made by another tool (one Put Blob, no blocks of ours) takes the streaming path.
    const copy = container.getBlockBlobClient('rotate/copy.sealed');
    await copy.uploadData(await container.getBlockBlobClient('rotate/r.sealed').downloadToBuffer());
    const r = await rewrapFile(target, { providers: rotating, storage: storage() });
    // Only the header block was replaced: every body block is the one uploaded by the seal.
    const blocksAfter = await blocksOf('rotate/r.sealed');
    expect(blocksBefore.length).toBeGreaterThan(2);
    expect(blocksAfter.slice(1)).toEqual(blocksBefore.slice(1));
    expect(blocksAfter[0]).not.toBe(blocksBefore[0]);
    await copy.setMetadata({ ward: 'seven' });
    await rewrapFile(`${AZ}/rotate/copy.sealed`, { providers: rotating, storage: storage() });
    expect((await copy.getProperties()).metadata).toEqual({ ward: 'seven' });
    await copy.setHTTPHeaders({ blobContentType: 'application/vnd.sealtrain.sealed' });
    const copyInfo = await inspectFile(`${AZ}/rotate/copy.sealed`, { storage: storage() });
    expect(copyInfo.recipients.map((k) => k.version)).toEqual(['2']);
    // The streamed rewrite kept the header as its own block, so the next rewrap swaps only that.
    const streamed = await blocksOf('rotate/copy.sealed');
    expect(streamed.length).toBeGreaterThan(1);
    await rewrapFile(`${AZ}/rotate/copy.sealed`, {
      providers: rotating,
      recipients: ['local:rot/2'],
      storage: storage(),
    });
    expect((await blocksOf('rotate/copy.sealed')).slice(1)).toEqual(streamed.slice(1));
    const props = await copy.getProperties();
    expect(props.contentType).toBe('application/vnd.sealtrain.sealed');
    expect(props.metadata).toEqual({ ward: 'seven' });
    expect(r.from.map((k) => k.version)).toEqual(['1']);
    expect(r.to.map((k) => k.version)).toEqual(['2']);
    expect((await inspectFile(target, { storage: storage() })).recipients.map((k) => k.version)).toEqual([
      '2',
    ]);
    // Only version 2 exists now: the rewrapped blob opens with it, and the body is the same.
    const onlyNew = [staticProvider({ rot: { '2': Buffer.alloc(32, 2) } })];
    const out = join(dir, 'rotate.out');
    await unsealFile(target, out, { providers: onlyNew, storage: storage() });
    expect((await readFile(out)).equals(data)).toBe(true);
    await unsealFile(`${AZ}/rotate/copy.sealed`, out, {
      providers: onlyNew,
      storage: storage(),
      overwrite: true,
    });
    expect((await readFile(out)).equals(data)).toBe(true);

    // A writer that changes the blob between our read and our commit wins; we replace nothing.
    const blob = container.getBlockBlobClient('rotate/r.sealed');
    const before = await blob.downloadToBuffer();
    keks.rot = { ...keks.rot, '3': Buffer.alloc(32, 3) };
    const [inner] = rotating;
    if (!inner) throw new Error('no provider');
    const racing = {
      ...inner,
      wrap: async (uri: string, dek: Uint8Array) => {
        await blob.setMetadata({ touched: 'yes' });
        return inner.wrap(uri, dek);
      },
    };
    const error = await rejectsWith(
      rewrapFile(target, { providers: [racing], storage: storage() }),
      'ERR_IO_CHANGED',
    );
    expect(error.message).toContain(target);
    expect((await blob.downloadToBuffer()).equals(before)).toBe(true);

    // Rewrapping a blob into a local file leaves the blob as it was.
    const local = join(dir, 'rotated-copy.sealed');
    await rewrapFile(target, { providers: rotating, output: local, storage: storage() });
    expect((await inspectFile(local)).recipients.map((k) => k.version)).toEqual(['3']);
    expect((await blob.downloadToBuffer()).equals(before)).toBe(true);
  });

  it('fails a read of a blob that was replaced after it was opened, rather than mixing versions', async () => {
    const input = join(dir, 'versions.bin');
    await writeFile(input, plaintext(400_000));
    const target = `${AZ}/versions/v.sealed`;
    await sealFile(input, target, {
      recipients: ['local:owner'],
      providers,
      chunkSize: 65536,
      storage: storage(),
    });
    const reader = await SealedReader.open(target, { providers, storage: storage() });
    try {
      expect((await reader.read(0, 10)).length).toBe(10);
      await sealFile(input, target, {
        recipients: ['local:owner'],
        providers,
        storage: storage(),
        overwrite: true,
      });
      const error = await rejectsWith(reader.read(300_000, 10), 'ERR_IO_CHANGED');
      expect(error.message).toContain(target);
    } finally {
      await reader.close();
    }
  });

  it('refuses a truncated blob for unseal, verify and rewrap, and leaves it as it was', async () => {
    const input = join(dir, 'cut.bin');
    await writeFile(input, plaintext(200_000));
    const target = `${AZ}/cut/c.sealed`;
    await sealFile(input, target, {
      recipients: ['local:owner'],
      providers,
      chunkSize: 65536,
      storage: storage(),
    });
    const blob = container.getBlockBlobClient('cut/c.sealed');
    const whole = await blob.downloadToBuffer();
    for (const keep of [whole.length - 1000, 40]) {
      const cut = whole.subarray(0, keep);
      await blob.uploadData(cut);
      const out = join(dir, 'cut.out');
      const opened = await codeOf(unsealFile(target, out, { providers, storage: storage() }));
      expect(['ERR_SEAL_TRUNCATED', 'ERR_SEAL_MALFORMED_HEADER']).toContain(opened);
      expect(await codeOf(verifySealedFile(target, providers, { storage: storage() }))).toBe(opened);
      expect(await codeOf(rewrapFile(target, { providers, storage: storage() }))).toBe(opened);
      expect((await blob.downloadToBuffer()).equals(cut)).toBe(true);
      expect((await readdir(dir)).filter((n) => n.startsWith('cut.out'))).toEqual([]);
    }
  });

  it('refuses block sizes and parallelism that could never upload', () => {
    for (const bad of [{ concurrency: 0 }, { blockSize: 0 }, { blockSize: 1.5 }, { concurrency: Number.NaN }])
      expect(() => BlobStore.open(AZ, { ...storage(), ...bad })).toThrow(/must be a whole number/);
  });

  it('names a missing blob and a bare container', async () => {
    const missing = await rejectsWith(
      verifySealedFile(`${AZ}/nope.sealed`, providers, { storage: storage() }),
      'ERR_IO_NOT_FOUND',
    );
    expect(missing.message).toContain(`${AZ}/nope.sealed`);
    const bare = await rejectsWith(inspectFile(AZ, { storage: storage() }), 'ERR_USAGE_INVALID');
    expect(bare.message).toContain('names a container');
  });
});
