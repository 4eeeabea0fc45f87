// `npm run bench -- blob [--json] [--mib N]`: seal an N MiB file (default 1024) into Azure Blob
// Storage (Azurite, on loopback) and unseal it back to a file, beside the same to and from a local
// file, beside a plain SDK uploadFile/downloadToFile of the same bytes and `cp`, all in this run.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { sealFile, unsealFile } from '../dist/seal/index.js';
import { DEV_ACCOUNT as ACCOUNT, startAzurite } from '../test/helpers/azurite.mjs';
import { staticProvider } from '../test/vectors/static-provider.mjs';

const json = process.argv.includes('--json');
const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 1024;
const say = (s) => {
  if (!json) process.stderr.write(`${s}\n`);
};
const seconds = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const gbps = (bytes, s) => bytes / s / 1e9;
const run = (cmd, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });

const provider = staticProvider({ bench: { 1: Buffer.alloc(32, 3) } });
const azurite = await startAzurite();
const work = mkdtempSync(join(tmpdir(), 'sealtrain-bench-blob-'));
const input = join(work, 'plain.bin');
{
  const part = Buffer.allocUnsafe(16 * 1024 * 1024);
  const fd = openSync(input, 'w');
  for (let i = 0; i < MIB / 16; i++) writeSync(fd, randomFillSync(part));
  closeSync(fd);
}
const bytes = statSync(input).size;
const sha = async (file) => {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
};
try {
  const connectionString = azurite.connectionString;
  const service = BlobServiceClient.fromConnectionString(connectionString);
  await service.createContainer('bench');
  const storage = { connectionString };
  const targets = { blob: `az://${ACCOUNT}/bench/data.sealed`, local: join(work, 'data.sealed') };
  const figures = {};
  const want = await sha(input);
  for (const [name, target] of Object.entries(targets)) {
    const seal = { recipients: ['local:bench'], providers: [provider], storage };
    figures[`${name}_seal_s`] = await seconds(() => sealFile(input, target, seal));
    const out = join(work, `${name}.out`);
    figures[`${name}_unseal_s`] = await seconds(() =>
      unsealFile(target, out, { providers: [provider], storage }),
    );
    if ((await sha(out)) !== want) throw new Error(`${name}: round trip differs`);
    rmSync(out);
  }
  const plain = service.getContainerClient('bench').getBlockBlobClient('plain.bin');
  const opts = { blockSize: 8 * 1024 * 1024, concurrency: 4 };
  const sdk_upload_s = await seconds(() => plain.uploadFile(input, opts));
  const sdk_download_s = await seconds(() => plain.downloadToFile(join(work, 'sdk.out'), 0, undefined, opts));
  const cp_s = await seconds(() => run('cp', [input, join(work, 'cp.out')]));
  const result = {
    mib: MIB,
    blob_seal_gbps: gbps(bytes, figures.blob_seal_s),
    blob_unseal_gbps: gbps(bytes, figures.blob_unseal_s),
    local_seal_gbps: gbps(bytes, figures.local_seal_s),
    local_unseal_gbps: gbps(bytes, figures.local_unseal_s),
    anchors: {
      sdk_upload_file_gbps: gbps(bytes, sdk_upload_s),
      sdk_download_file_gbps: gbps(bytes, sdk_download_s),
      cp_gbps: gbps(bytes, cp_s),
    },
  };
  result.ratios = {
    seal_to_blob_vs_sdk_upload: result.blob_seal_gbps / result.anchors.sdk_upload_file_gbps,
    unseal_from_blob_vs_sdk_download: result.blob_unseal_gbps / result.anchors.sdk_download_file_gbps,
    blob_vs_local_seal: result.blob_seal_gbps / result.local_seal_gbps,
    blob_vs_local_unseal: result.blob_unseal_gbps / result.local_unseal_gbps,
    local_seal_vs_cp: result.local_seal_gbps / result.anchors.cp_gbps,
  };
  const f = (x) => x.toFixed(2);
  say(
    `${MIB} MiB file: seal into Azurite ${f(result.blob_seal_gbps)} GB/s vs SDK uploadFile ${f(result.anchors.sdk_upload_file_gbps)} (${f(result.ratios.seal_to_blob_vs_sdk_upload)}×); local folder ${f(result.local_seal_gbps)} (cp ${f(result.anchors.cp_gbps)})`,
  );
  say(
    `unseal from Azurite ${f(result.blob_unseal_gbps)} GB/s vs SDK downloadToFile ${f(result.anchors.sdk_download_file_gbps)} (${f(result.ratios.unseal_from_blob_vs_sdk_download)}×); local folder ${f(result.local_unseal_gbps)}`,
  );
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await azurite.stop();
  rmSync(work, { recursive: true, force: true });
}
