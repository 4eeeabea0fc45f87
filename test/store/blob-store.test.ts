import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealBuffer, unsealBuffer } from '../../src/seal/index.js';
import { BlobStore, parseAzUri } from '../../src/store/index.js';
import { type Azurite, DEV_ACCOUNT, startAzurite } from '../helpers/azurite.mjs';
import { rejectsWith } from '../helpers/rejects.js';
import { staticProvider } from '../vectors/static-provider.mjs';
import { codeOf, readStream, storeConformance } from './conformance.js';

let azurite: Azurite | undefined;
let store: BlobStore | undefined;
const CONTAINER = 'artifacts';

beforeAll(async () => {
  azurite = await startAzurite();
  // The container is made with the SDK directly: a client we did not write sees what the store wrote.
  await BlobServiceClient.fromConnectionString(azurite.connectionString).createContainer(CONTAINER);
  store = BlobStore.open(`az://${DEV_ACCOUNT}/${CONTAINER}`, {
    connectionString: azurite.connectionString,
    blockSize: 4 * 1024 * 1024,
  });
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
});

function current(): BlobStore {
  if (!store) throw new Error('azurite not started');
  return store;
}

describe('BlobStore on Azurite', () => {
  storeConformance(current, (p) => `az://${DEV_ACCOUNT}/${CONTAINER}/${p}`);

  it('stores a sealed file that unseals after a get, and whose chunks read back by range', async () => {
    const provider = staticProvider({ remote: { '1': Buffer.alloc(32, 7) } });
    const plaintext = Buffer.alloc(3 * 65536 + 100, 0x5a);
    const sealed = await sealBuffer(plaintext, { recipients: ['local:remote'], providers: [provider] });
    await current().put('sealed/model.st', sealed, { ifNoneMatch: true });
    const back = await readStream(await current().get('sealed/model.st'));
    expect(Buffer.from(await unsealBuffer(back, { providers: [provider] })).equals(plaintext)).toBe(true);
    const tail = await current().getRange('sealed/model.st', sealed.length - 1000, 1000);
    expect(tail.equals(sealed.subarray(sealed.length - 1000))).toBe(true);
    const tampered = Buffer.from(back);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expect(await codeOf(unsealBuffer(tampered, { providers: [provider] }))).toBe('ERR_SEAL_DECRYPT_FAILED');
  });

  it('uploads a writer’s bytes as parallel blocks, committed in offset order', async () => {
    if (!azurite) throw new Error('azurite not started');
    const small = BlobStore.open(`az://${DEV_ACCOUNT}/${CONTAINER}`, {
      connectionString: azurite.connectionString,
      blockSize: 1024 * 1024,
      concurrency: 3,
    });
    const bytes = Buffer.alloc(5 * 1024 * 1024 + 10, 0x11);
    const out = await small.create('blocks/five.bin');
    await out.write(bytes.subarray(4096), 4096);
    await out.write(bytes.subarray(0, 4096), 0);
    await out.commit();
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(CONTAINER)
      .getBlockBlobClient('blocks/five.bin');
    const list = await blob.getBlockList('committed');
    expect(list.committedBlocks?.map((b) => b.size)).toEqual([
      4096,
      1024 * 1024,
      1024 * 1024,
      1024 * 1024,
      1024 * 1024,
      1024 * 1024 - 4096 + 10,
    ]);
    // A gap is never committed: the writer refuses and the blob stays absent.
    const gappy = await small.create('blocks/gap.bin');
    await gappy.write(Buffer.from('tail'), 100);
    const error = await rejectsWith(gappy.commit(), 'ERR_INTERNAL');
    expect(error.message).toContain('blocks/gap.bin');
    expect(await small.stat('blocks/gap.bin')).toBeUndefined();
  });

  it('names a missing container and refuses a path in the store URI', async () => {
    if (!azurite) throw new Error('azurite not started');
    const other = BlobStore.open(`az://${DEV_ACCOUNT}/nocontainer`, {
      connectionString: azurite.connectionString,
    });
    const error = await rejectsWith(other.put('x', Buffer.from('x')), 'ERR_IO_NOT_FOUND');
    expect(error.message).toBe(
      `Cannot write az://${DEV_ACCOUNT}/nocontainer/x: the container does not exist.`,
    );
    expect(() => BlobStore.open(`az://${DEV_ACCOUNT}/${CONTAINER}/x`, { connectionString: 'x' })).toThrow(
      /not a blob URI/,
    );
    expect(() =>
      BlobStore.open(`az://otheraccount/${CONTAINER}`, { connectionString: azurite?.connectionString ?? '' }),
    ).toThrow(/for account devstoreaccount1, not otheraccount/);
  });
});

describe('parseAzUri', () => {
  it('splits account, container and path', () => {
    expect(parseAzUri('az://acct1/data-set/a/b.st')).toEqual({
      account: 'acct1',
      container: 'data-set',
      path: 'a/b.st',
    });
    expect(parseAzUri('az://acct1/data')).toEqual({ account: 'acct1', container: 'data', path: '' });
  });

  it.each([
    ['https://acct1/data/x', /must start with az:\/\//],
    ['az://AC/data/x', /account "AC"/],
    ['az://acct1/Data/x', /container "Data"/],
    ['az://acct1/a--b/x', /container "a--b"/],
    ['az://acct1/data/../x', /path "..\/x"/],
    ['az://acct1/data/a//b', /path "a\/\/b"/],
    ['az://acct1', /container ""/],
  ])('refuses %s', (uri, reason) => {
    let error: { code?: string; message?: string } = {};
    try {
      parseAzUri(uri);
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe('ERR_USAGE_INVALID');
    expect(error.message).toMatch(reason);
  });
});
