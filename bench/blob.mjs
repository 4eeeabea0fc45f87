// `npm run bench -- blob [--json] [--mib N]`: seal N MiB (default 1024) into Azure Blob Storage
// (Azurite, on loopback) and back, beside the same through the local-folder store and beside a
// plain upload and download of the same bytes with the Azure SDK, all measured in this run.
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { sealBuffer, unsealBuffer } from '../dist/seal/index.js';
import { BlobStore, LocalFolderStore } from '../dist/store/index.js';
import { staticProvider } from '../test/vectors/static-provider.mjs';

const json = process.argv.includes('--json');
const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 1024;
const say = (s) => {
  if (!json) process.stderr.write(`${s}\n`);
};
const ACCOUNT = 'devstoreaccount1';
// Azurite's published development key: public test configuration, not a secret.
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startAzurite() {
  const location = mkdtempSync(join(tmpdir(), 'sealtrain-bench-azurite-'));
  const port = await freePort();
  const bin = fileURLToPath(new URL('../node_modules/.bin/azurite-blob', import.meta.url));
  const child = spawn(
    bin,
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--disableTelemetry',
      '--skipApiVersionCheck',
    ],
    { stdio: 'ignore' },
  );
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`;
  for (let i = 0; i < 100; i++) {
    try {
      await BlobServiceClient.fromConnectionString(connectionString).getContainerClient('probe').exists();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(location, { recursive: true, force: true, maxRetries: 5 });
  };
  return { connectionString, stop };
}

const seconds = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const gbps = (bytes, s) => bytes / s / 1e9;

const plaintext = randomFillSync(Buffer.allocUnsafe(MIB * 1024 * 1024));
const provider = staticProvider({ bench: { 1: Buffer.alloc(32, 3) } });
const azurite = await startAzurite();
const local = mkdtempSync(join(tmpdir(), 'sealtrain-bench-local-'));
try {
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await service.createContainer('bench');
  const blobs = BlobStore.open(`az://${ACCOUNT}/bench`, { connectionString: azurite.connectionString });
  const folder = new LocalFolderStore(local);
  const stores = { blob: blobs, local: folder };
  const figures = {};
  for (const [name, store] of Object.entries(stores)) {
    let sealed;
    figures[`${name}_seal_put_s`] = await seconds(async () => {
      sealed = await sealBuffer(plaintext, { recipients: ['local:bench'], providers: [provider] });
      await store.put('data.sealed', sealed);
    });
    figures[`${name}_get_unseal_s`] = await seconds(async () => {
      const chunks = [];
      for await (const c of await store.get('data.sealed')) chunks.push(c);
      const back = await unsealBuffer(Buffer.concat(chunks), { providers: [provider] });
      if (!Buffer.from(back).equals(plaintext)) throw new Error('round trip differs');
    });
  }
  const plain = service.getContainerClient('bench').getBlockBlobClient('plain.bin');
  const sdk_upload_s = await seconds(() =>
    plain.uploadData(plaintext, { blockSize: 8 * 1024 * 1024, concurrency: 4 }),
  );
  const sdk_download_s = await seconds(async () => {
    await plain.downloadToBuffer(Buffer.allocUnsafe(plaintext.length), 0, plaintext.length, {
      blockSize: 8 * 1024 * 1024,
      concurrency: 4,
    });
  });
  const bytes = plaintext.length;
  const result = {
    mib: MIB,
    blob_seal_put_gbps: gbps(bytes, figures.blob_seal_put_s),
    blob_get_unseal_gbps: gbps(bytes, figures.blob_get_unseal_s),
    local_seal_put_gbps: gbps(bytes, figures.local_seal_put_s),
    local_get_unseal_gbps: gbps(bytes, figures.local_get_unseal_s),
    anchors: { sdk_upload_gbps: gbps(bytes, sdk_upload_s), sdk_download_gbps: gbps(bytes, sdk_download_s) },
  };
  result.ratios = {
    seal_put_vs_sdk_upload: result.blob_seal_put_gbps / result.anchors.sdk_upload_gbps,
    get_unseal_vs_sdk_download: result.blob_get_unseal_gbps / result.anchors.sdk_download_gbps,
    blob_vs_local_seal_put: result.blob_seal_put_gbps / result.local_seal_put_gbps,
  };
  say(
    `${MIB} MiB: seal+put to Azurite ${result.blob_seal_put_gbps.toFixed(2)} GB/s vs SDK upload ${result.anchors.sdk_upload_gbps.toFixed(2)} (${result.ratios.seal_put_vs_sdk_upload.toFixed(2)}×); local folder ${result.local_seal_put_gbps.toFixed(2)}`,
  );
  say(
    `get+unseal from Azurite ${result.blob_get_unseal_gbps.toFixed(2)} GB/s vs SDK download ${result.anchors.sdk_download_gbps.toFixed(2)} (${result.ratios.get_unseal_vs_sdk_download.toFixed(2)}×); local folder ${result.local_get_unseal_gbps.toFixed(2)}`,
  );
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await azurite.stop();
  rmSync(local, { recursive: true, force: true });
}
