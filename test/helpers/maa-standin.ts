// A stand-in for Microsoft Azure Attestation, for tests only: Azure itself cannot run here. It
// serves what sealtrain's workload uses of MAA over TLS on loopback: `POST /attest/SevSnpVm`
// (report JSON with SnpReport and VcekCertChain, JSON runtime data) and `GET /certs`. It checks
// what MAA checks for that call: the report's signature and chain (sealtrain's own SNP verifier,
// with the test PKI's roots pinned in place of AMD's), and that the first 32 bytes of REPORT_DATA
// are the SHA-256 of the runtime data. It answers `{ token }`, an RS256 JWT with MAA's header
// (`jku`, `kid`) and claims (`x-ms-attestation-type` sevsnpvm, `x-ms-sevsnpvm-*`, `x-ms-runtime`).

import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { detectTee, type SnpRootSet, verifySnpReport } from '../../src/attest/index.js';
import { createCaCertificate, createServerCertificate } from '../../src/broker/tls/certificates.js';

export interface MaaStandIn {
  readonly url: string;
  /** The TLS CA (PEM) clients must trust. */
  readonly ca: string;
  /** The signing keys `/certs` serves, for a vault's trusted issuers. */
  readonly jwks: { keys: Record<string, unknown>[] };
  /** How many attestations it answered with a token. */
  readonly issued: () => number;
  /** From now on, answer every attestation with this status and JSON (`undefined`: attest again). */
  answerWith(answer: { status: number; json: unknown } | undefined): void;
  close(): Promise<void>;
}

const b64 = (text: unknown): Buffer => Buffer.from(String(text), 'base64url');

/**
 * Starts the stand-in on 127.0.0.1. `signWith` replaces its token signing key (a forger whose
 * `/certs` still serves the stand-in's own key); `tamper` edits the claims before signing.
 */
export async function startMaaStandIn(options: {
  roots: SnpRootSet;
  signWith?: KeyObject;
  tamper?: (claims: Record<string, unknown>) => Record<string, unknown>;
}): Promise<MaaStandIn> {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ca = { commonName: 'MAA stand-in CA', ...caKeys };
  const caPem = createCaCertificate(ca);
  const tlsKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = createServerCertificate({ publicKey: tlsKeys.publicKey, hosts: ['127.0.0.1'] }, ca);
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'stand-in-signing-1';
  const jwks = { keys: [{ ...signing.publicKey.export({ format: 'jwk' }), kid, use: 'sig' }] };
  let url = '';
  let issued = 0;
  let fixed: { status: number; json: unknown } | undefined;

  async function attest(body: Record<string, unknown>): Promise<{ status: number; json: unknown }> {
    const refuse = (message: string) => ({
      status: 400,
      json: { error: { code: 'InvalidParameter', message } },
    });
    const runtimeData = body.runtimeData as { data?: unknown; dataType?: unknown } | undefined;
    if (runtimeData?.dataType !== 'JSON') return refuse('runtimeData.dataType must be JSON');
    const runtime = b64(runtimeData.data);
    let inner: { SnpReport?: unknown; VcekCertChain?: unknown };
    let runtimeClaims: unknown;
    try {
      inner = JSON.parse(b64(body.report).toString('utf8'));
      runtimeClaims = JSON.parse(runtime.toString('utf8'));
    } catch {
      return refuse('report and runtimeData.data must be base64url JSON');
    }
    const report = b64(inner.SnpReport);
    // VCEK, ASK, ARK: the ASK and ARK sent must be the pinned ones.
    const [vcek = '', ask = '', ark = ''] = b64(inner.VcekCertChain)
      .toString('utf8')
      .split(/(?<=-----END CERTIFICATE-----)\n?/);
    let verified: Awaited<ReturnType<typeof verifySnpReport>>;
    try {
      const certificates = { vcek, ask, ark };
      verified = await verifySnpReport(report, { roots: { Milan: options.roots }, certificates });
    } catch (error) {
      return refuse(`the SNP report cannot be read: ${(error as Error).message}`);
    }
    const failed = verified.checks.filter((c) => !c.ok);
    if (failed.length > 0) return refuse(failed.map((c) => `${c.id}: ${c.message}`).join(' '));
    const digest = createHash('sha256').update(runtime).digest('hex');
    if (verified.report.reportData.slice(0, 64) !== digest)
      return refuse('REPORT_DATA does not hold the SHA-256 of the runtime data');
    issued++;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      ...verified.claims,
      'x-ms-attestation-type': 'sevsnpvm',
      'x-ms-runtime': runtimeClaims,
      'x-ms-ver': '1.0',
      iss: url,
      iat: now,
      nbf: now,
      exp: now + 8 * 3600,
    };
    const token = await new SignJWT(options.tamper ? options.tamper(claims) : claims)
      .setProtectedHeader({ alg: 'RS256', jku: `${url}/certs`, kid, typ: 'JWT' })
      .sign(options.signWith ?? signing.privateKey);
    return { status: 200, json: { token } };
  }

  const server = createServer(
    { key: tlsKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }), cert },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const send = (status: number, json: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(json));
        };
        const path = new URL(req.url ?? '/', url).pathname;
        if (req.method === 'GET' && path === '/certs') return send(200, jwks);
        const query = new URL(req.url ?? '/', url).searchParams.get('api-version');
        if (req.method !== 'POST' || path !== '/attest/SevSnpVm' || query !== '2022-08-01')
          return send(404, { error: { code: 'NotFound', message: `${req.method} ${req.url}` } });
        if (fixed) return send(fixed.status, fixed.json);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(400, { error: { code: 'InvalidParameter', message: 'the body is not JSON' } });
        }
        attest(body).then(
          (r) => send(r.status, r.json),
          (e: unknown) => send(500, { error: { code: 'InternalError', message: String(e) } }),
        );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ca: caPem,
    jwks,
    issued: () => issued,
    answerWith: (answer) => {
      fixed = answer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The error code MAA mode ends with on this machine when MAA is unreachable (`https://127.0.0.1:9`):
 * no TEE → `ERR_ATTEST_NO_TEE`; an SEV-SNP guest collects, then fails to reach MAA; an Azure CVM or
 * a TDX guest is refused as unsupported. A CI runner or a laptop has no TEE.
 */
export async function maaUnreachableErrorHere(): Promise<{ platform: string; code: string }> {
  const { platform } = await detectTee();
  const code =
    platform === 'none'
      ? 'ERR_ATTEST_NO_TEE'
      : platform === 'sevsnp'
        ? 'ERR_BROKER_REQUEST'
        : 'ERR_ATTEST_UNSUPPORTED';
  return { platform, code };
}
