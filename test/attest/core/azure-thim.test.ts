// Azure's instance metadata service cannot exist here: a local HTTP server stands in for it,
// answering with the documented shape and the real VCEK of the Azure CVM fixture.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchAzureVcek } from '../../../src/attest/collect/azure-thim.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const fixture = JSON.parse(
  readFileSync(new URL('../data/azure-cvm-snp/evidence-v1.json', import.meta.url), 'utf8'),
) as { vcek: string };
const vcek = new X509Certificate(Buffer.from(fixture.vcek, 'base64url'));
let server: Server;
let base: string;
const seen: Array<string | undefined> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers.metadata as string | undefined);
    if (req.headers.metadata !== 'true') return void res.writeHead(400).end();
    if (req.url === '/ok')
      return void res.end(JSON.stringify({ vcekCert: vcek.toString(), certificateChain: '' }));
    if (req.url === '/garbage') return void res.end(JSON.stringify({ vcekCert: 'nope' }));
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('fetchAzureVcek (Azure IMDS THIM stand-in)', () => {
  it('sends Metadata: true and returns the VCEK as DER', async () => {
    expect(await fetchAzureVcek({ url: `${base}/ok` })).toEqual(vcek.raw);
    expect(seen.at(-1)).toBe('true');
  });
  it('says what failed and how to go on, for errors and non-certificates', async () => {
    for (const path of ['/fail', '/garbage']) {
      const e = await fetchAzureVcek({ url: `${base}${path}` }).catch((x: unknown) => x);
      expect(isSealtrainError(e, 'ERR_ATTEST_COLLECT_FAILED')).toBe(true);
      expect((e as Error).message).toMatch(/--no-thim/);
    }
    const closed = await fetchAzureVcek({ url: 'http://127.0.0.1:1/x', timeoutMs: 2000 }).catch(
      (x: unknown) => x,
    );
    expect(isSealtrainError(closed, 'ERR_ATTEST_COLLECT_FAILED')).toBe(true);
  });
});
