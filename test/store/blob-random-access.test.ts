// One chunk of a sealed blob decrypts from ranged GETs, without downloading the rest.
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealedReader, sealBuffer } from '../../src/seal/index.js';
import { BlobStore } from '../../src/store/index.js';
import { type Azurite, DEV_ACCOUNT, startAzurite } from '../helpers/azurite.mjs';
import { staticProvider } from '../vectors/static-provider.mjs';
import { codeOf } from './conformance.js';

let azurite: Azurite | undefined;
let store: BlobStore;
const provider = staticProvider({ remote: { '1': Buffer.alloc(32, 9) } });
const CHUNK = 64 * 1024;

beforeAll(async () => {
  azurite = await startAzurite();
  await BlobServiceClient.fromConnectionString(azurite.connectionString).createContainer('sealed');
  store = BlobStore.open(`az://${DEV_ACCOUNT}/sealed`, { connectionString: azurite.connectionString });
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

/** The blob as a random-access source that counts the bytes it fetched. */
async function blobSource(path: string) {
  const stat = await store.stat(path);
  let fetched = 0;
  return {
    source: {
      name: store.uri(path),
      size: stat?.size ?? 0,
      read: async (position: number, length: number) => {
        fetched += length;
        return store.getRange(path, position, length);
      },
    },
    fetched: () => fetched,
  };
}

describe('SealedReader over a blob', () => {
  it('decrypts one chunk from ranged reads, fetching a small part of the blob', async () => {
    const plaintext = randomBytes(64 * CHUNK + 123);
    const sealed = await sealBuffer(plaintext, {
      recipients: ['local:remote'],
      providers: [provider],
      chunkSize: CHUNK,
    });
    await store.put('data.sealed', sealed);
    const blob = await blobSource('data.sealed');
    const reader = await SealedReader.fromSource(blob.source, { providers: [provider] });
    try {
      expect(reader.chunkCount).toBe(65);
      expect((await reader.readChunk(40)).equals(plaintext.subarray(40 * CHUNK, 41 * CHUNK))).toBe(true);
      expect(
        (await reader.read(64 * CHUNK + 100, 50)).equals(
          plaintext.subarray(64 * CHUNK + 100, 64 * CHUNK + 123),
        ),
      ).toBe(true);
      expect(blob.fetched()).toBeLessThan(sealed.length / 10);
    } finally {
      await reader.close();
    }
  });

  it('refuses a tampered chunk of the blob without saying where', async () => {
    const plaintext = randomBytes(8 * CHUNK);
    const sealed = await sealBuffer(plaintext, {
      recipients: ['local:remote'],
      providers: [provider],
      chunkSize: CHUNK,
    });
    sealed[sealed.length - 5 * CHUNK] = (sealed[sealed.length - 5 * CHUNK] ?? 0) ^ 1;
    await store.put('tampered.sealed', sealed);
    const reader = await SealedReader.fromSource((await blobSource('tampered.sealed')).source, {
      providers: [provider],
    });
    try {
      expect((await reader.readChunk(0)).equals(plaintext.subarray(0, CHUNK))).toBe(true);
      const failures = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(reader.readChunk(i))));
      expect(failures.filter((c) => c === 'ERR_SEAL_DECRYPT_FAILED').length).toBe(1);
    } finally {
      await reader.close();
    }
  });
});
