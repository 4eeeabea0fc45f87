// Azurite, Microsoft's Azure Storage emulator, for tests and `npm run bench -- blob`: the blob
// service on a free loopback port with a temporary folder, telemetry off.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, listening } from './net.mjs';

const BIN = fileURLToPath(new URL('../../node_modules/.bin/azurite-blob', import.meta.url));
/** Azurite's well-known development account (public test configuration, not a secret). */
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const DEV_ACCOUNT = 'devstoreaccount1';

async function waitForPort(port, child) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}`);
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('azurite did not start');
}

/** Starts Azurite's blob service; `stop()` waits for it to exit and removes its folder. */
export async function startAzurite() {
  const location = await mkdtemp(join(tmpdir(), 'sealtrain-azurite-'));
  const port = await freePort();
  const child = spawn(
    BIN,
    [
      ...['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location],
      ...['--silent', '--disableTelemetry', '--skipApiVersionCheck'],
    ],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(location, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    await waitForPort(port, child);
  } catch (error) {
    await stop();
    throw error;
  }
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
  return { connectionString, stop };
}
