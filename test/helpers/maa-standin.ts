// A stand-in for Microsoft Azure Attestation, for tests only: Azure itself cannot run here. It
// serves what sealtrain's workload uses of MAA over TLS on loopback: `POST /attest/SevSnpVm`
// (report JSON with SnpReport and VcekCertChain, JSON runtime data) and `GET /certs`. It checks
// what MAA checks for that call: the report's signature and chain (sealtrain's own SNP verifier,
// with the test PKI's roots pinned in place of AMD's), and that the first 32 bytes of REPORT_DATA
// are the SHA-256 of the runtime data. It answers `{ token }`, an RS256 JWT with MAA's header
// (`jku`, `kid`) and claims (`x-ms-attestation-type` sevsnpvm, `x-ms-sevsnpvm-*`, `x-ms-runtime`).
// It also serves `POST /attest/AzureGuest`, as MAA does for an Azure confidential VM: it checks the
// vTPM's quote of PCRs 0-7 and its certification of the encryption key (both signed by the
// attestation key, whose certificate must come from the test's AK CA), the HCL runtime data naming
// that attestation key, bound by the SEV-SNP report, which is checked as above. It answers with the
// token encrypted to the vTPM's encryption key (RSAES for the transport key, AES-GCM with the
// associated data "Transport Key"), as Azure's guest attestation clients expect.

import {
  constants,
  createCipheriv,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  verify,
  X509Certificate,
} from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import {
  parseTpmRsaPublic,
  parseTpmsAttest,
  TPM_ENCRYPTION_KID,
  TPM_GENERATED_VALUE,
  TPM_ST_ATTEST_CERTIFY,
  TPM_ST_ATTEST_QUOTE,
  TPMA_OBJECT,
} from '../../src/attest/azure-cvm/index.js';
import { detectTee, type SnpRootSet, verifySnpReport } from '../../src/attest/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { createCaCertificate, createServerCertificate } from '../../src/broker/tls/certificates.js';
import { brokerWithPrincipals, keyClient, sealerFor } from '../broker/helpers.js';

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
  /** The CA (PEM) AzureGuest attestation key certificates must be signed by. */
  akCa?: string;
  signWith?: KeyObject;
  tamper?: (claims: Record<string, unknown>) => Record<string, unknown>;
  /** AzureGuest: wraps the transport key to this public key instead of the vTPM's. */
  wrapTo?: KeyObject;
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
    const checked = await checkSnp(inner, runtime);
    if (typeof checked === 'string') return refuse(checked);
    issued++;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      ...checked.claims,
      'x-ms-attestation-type': 'sevsnpvm',
      'x-ms-runtime': runtimeClaims,
      'x-ms-ver': '1.0',
      iss: url,
      iat: now,
      nbf: now,
      exp: now + 8 * 3600,
    };
    return { status: 200, json: { token: await sign(claims) } };
  }

  function sign(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(options.tamper ? options.tamper(claims) : claims)
      .setProtectedHeader({ alg: 'RS256', jku: `${url}/certs`, kid, typ: 'JWT' })
      .sign(options.signWith ?? signing.privateKey);
  }

  /** The SNP report and its VCEK/ASK/ARK chain, and REPORT_DATA binding `runtime`: the claims, or why not. */
  async function checkSnp(
    inner: { SnpReport?: unknown; VcekCertChain?: unknown },
    runtime: Buffer,
  ): Promise<{ claims: Record<string, unknown> } | string> {
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
      return `the SNP report cannot be read: ${(error as Error).message}`;
    }
    const failed = verified.checks.filter((c) => !c.ok);
    if (failed.length > 0) return failed.map((c) => `${c.id}: ${c.message}`).join(' ');
    const digest = createHash('sha256').update(runtime).digest('hex');
    if (verified.report.reportData.slice(0, 64) !== digest)
      return 'REPORT_DATA does not hold the SHA-256 of the runtime data';
    return { claims: verified.claims as Record<string, unknown> };
  }

  /** What MAA checks of an Azure CVM's vTPM evidence: the reason it refuses, or the token's parts. */
  async function checkGuest(info: Record<string, unknown>) {
    const tpm = (info.TpmInfo ?? {}) as Record<string, unknown>;
    const evidence = ((info.IsolationInfo ?? {}) as { Evidence?: Record<string, unknown> }).Evidence ?? {};
    const std = (v: unknown) => Buffer.from(String(v), 'base64');
    const ak = parseTpmRsaPublic(std(tpm.AikPub), 'AikPub').publicKey;
    const same = (a: KeyObject, b: KeyObject) =>
      a.export({ format: 'jwk' }).n === b.export({ format: 'jwk' }).n;
    const akCert = new X509Certificate(std(tpm.AikCert));
    if (
      !options.akCa ||
      !akCert.verify(new X509Certificate(options.akCa).publicKey) ||
      !same(akCert.publicKey, ak)
    )
      return 'AikCert is not an AK certificate for AikPub from the trusted CA';
    const quoteBytes = std(tpm.PcrQuote);
    if (!verify('sha256', quoteBytes, ak, std(tpm.PcrSignature)))
      return 'PcrSignature does not verify with AikPub';
    const q = parseTpmsAttest(quoteBytes);
    if (q.magic !== TPM_GENERATED_VALUE) return 'PcrQuote was not made by a TPM (magic)';
    const set = tpm.PcrSet as number[];
    const pcrs = tpm.PCRs as { Index: number; Digest: string }[];
    const digest = createHash('sha256')
      .update(Buffer.concat(pcrs.map((p) => std(p.Digest))))
      .digest();
    if (
      q.type !== TPM_ST_ATTEST_QUOTE ||
      !digest.equals(q.pcrDigest) ||
      JSON.stringify(q.pcrSelect[0]?.pcrs) !== JSON.stringify(set) ||
      JSON.stringify(pcrs.map((p) => p.Index)) !== JSON.stringify(set)
    )
      return 'PcrQuote does not quote the PCRs sent';
    const enc = parseTpmRsaPublic(std(tpm.EncKeyPub), 'EncKeyPub');
    const certify = std(tpm.EncKeyCertifyInfo);
    if (!verify('sha256', certify, ak, std(tpm.EncKeyCertifyInfoSignature)))
      return 'EncKeyCertifyInfoSignature does not verify with AikPub';
    const c = parseTpmsAttest(certify);
    if (c.magic !== TPM_GENERATED_VALUE) return 'EncKeyCertifyInfo was not made by a TPM (magic)';
    if (c.type !== TPM_ST_ATTEST_CERTIFY || !c.certifiedName.equals(enc.name))
      return 'EncKeyCertifyInfo does not certify EncKeyPub';
    const a = enc.attributes;
    if (!(a & TPMA_OBJECT.decrypt) || a & TPMA_OBJECT.sign || !(a & TPMA_OBJECT.fixedTPM))
      return 'EncKeyPub is not a decrypt-only key fixed to its TPM';
    const runtime = std(evidence.RunTimeData);
    let proof: { SnpReport?: unknown; VcekCertChain?: unknown };
    let runtimeClaims: { keys?: { kid?: string; n?: string }[] };
    try {
      proof = JSON.parse(std(evidence.Proof).toString('utf8'));
      runtimeClaims = JSON.parse(runtime.toString('utf8'));
    } catch {
      return 'Proof and RunTimeData must be base64 JSON';
    }
    const checked = await checkSnp(proof, runtime);
    if (typeof checked === 'string') return checked;
    const hclAk = runtimeClaims.keys?.find((k) => k.kid === 'HCLAkPub');
    if (hclAk?.n !== ak.export({ format: 'jwk' }).n) return 'RunTimeData does not name AikPub as HCLAkPub';
    return { snp: checked.claims, runtimeClaims, enc: enc.publicKey };
  }

  async function attestGuest(body: Record<string, unknown>): Promise<{ status: number; json: unknown }> {
    const refuse = (message: string) => ({
      status: 400,
      json: { error: { code: 'InvalidParameter', message } },
    });
    let info: Record<string, unknown>;
    let checked: Awaited<ReturnType<typeof checkGuest>>;
    try {
      info = JSON.parse(b64(body.AttestationInfo).toString('utf8'));
      checked = await checkGuest(info);
    } catch (error) {
      return refuse(`the AttestationInfo cannot be read: ${(error as Error).message}`);
    }
    if (typeof checked === 'string') return refuse(checked);
    issued++;
    const now = Math.floor(Date.now() / 1000);
    const encJwk = checked.enc.export({ format: 'jwk' });
    const claims = {
      'x-ms-attestation-type': 'azurevm',
      'x-ms-isolation-tee': {
        ...checked.snp,
        'x-ms-attestation-type': 'sevsnpvm',
        'x-ms-compliance-status': 'azure-compliant-cvm',
        'x-ms-runtime': checked.runtimeClaims,
      },
      'x-ms-runtime': {
        'client-payload': info.ClientPayload,
        keys: [{ kid: TPM_ENCRYPTION_KID, key_ops: ['encrypt'], kty: 'RSA', e: encJwk.e, n: encJwk.n }],
      },
      'x-ms-ver': '1.0',
      iss: url,
      iat: now,
      nbf: now,
      exp: now + 8 * 3600,
    };
    const jwt = Buffer.from(await sign(claims));
    const transport = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', transport, iv).setAAD(Buffer.from('Transport Key'));
    const sealed = Buffer.concat([cipher.update(jwt), cipher.final()]);
    const envelope = {
      Jwt: sealed.toString('base64'),
      EncryptedInnerKey: publicEncrypt(
        { key: options.wrapTo ?? checked.enc, padding: constants.RSA_PKCS1_PADDING },
        transport,
      ).toString('base64'),
      EncryptionParams: {
        Cipher: 'AES',
        BlockMode: 'ChainingModeGCM',
        BlockPadding: 'PKCS7',
        KeySizeInBits: 256,
        Iv: iv.toString('base64'),
      },
      AuthenticationData: cipher.getAuthTag().toString('base64'),
    };
    return { status: 200, json: { token: Buffer.from(JSON.stringify(envelope)).toString('base64url') } };
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
        const guest = path === '/attest/AzureGuest' && query === '2020-10-01';
        if (req.method !== 'POST' || !(guest || (path === '/attest/SevSnpVm' && query === '2022-08-01')))
          return send(404, { error: { code: 'NotFound', message: `${req.method} ${req.url}` } });
        if (fixed) return send(fixed.status, fixed.json);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(400, { error: { code: 'InvalidParameter', message: 'the body is not JSON' } });
        }
        (guest ? attestGuest(body) : attest(body)).then(
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
 * no TEE → `ERR_ATTEST_NO_TEE`; an SEV-SNP guest collects, then fails to reach MAA; an Azure CVM
 * collects through its vTPM, then fails to reach MAA; a TDX guest is
 * refused as unsupported. A CI runner or a laptop has no TEE.
 */
export async function maaUnreachableErrorHere(): Promise<{ platform: string; code: string }> {
  const { platform } = await detectTee();
  const code =
    platform === 'none'
      ? 'ERR_ATTEST_NO_TEE'
      : platform === 'sevsnp' || platform === 'azure-cvm'
        ? 'ERR_BROKER_REQUEST'
        : 'ERR_ATTEST_UNSUPPORTED';
  return { platform, code };
}

/**
 * A sealtrain broker acting as Key Vault for MAA tests: it trusts `authorities` as issuers, holds
 * `data-key` (released on `policies.data`) and `other-image-key` (on `policies.other`), both
 * exportable RSA-2048, and `model-key`, and `secret` sealed to each of the first two.
 */
export async function vaultTrusting(
  dir: string,
  authorities: readonly MaaStandIn[],
  policies: { data: object; other: object },
  secret: Buffer,
): Promise<{ broker: RunningBroker; workload: string; host: string; input: string; otherInput: string }> {
  const started = await brokerWithPrincipals(dir, {
    trustedIssuers: Object.fromEntries(authorities.map((m) => [m.url, m.jwks])),
  });
  const { broker, workload } = started;
  const owners = keyClient(broker, started.owner);
  for (const [name, policy] of [
    ['data-key', policies.data],
    ['other-image-key', policies.other],
  ] as const)
    await owners.createKey(name, 'RSA', {
      keySize: 2048,
      exportable: true,
      releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
    });
  await owners.createKey('model-key', 'RSA', { keySize: 2048 });
  const seal = sealerFor(broker, started.owner, dir);
  return {
    broker,
    workload,
    host: new URL(broker.url).host,
    input: await seal(secret, 'data-key', 'input.sealed'),
    otherInput: await seal(secret, 'other-image-key', 'other.sealed'),
  };
}

/**
 * Stand-ins that sign properly but whose `x-ms-runtime` is not what the workload sent: another
 * key (named `kid`) in place of its own, another key beside its own, or another nonce.
 */
export async function startRuntimeSwappers(
  options: Omit<Parameters<typeof startMaaStandIn>[0], 'tamper'>,
  kid: string,
): Promise<MaaStandIn[]> {
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const strangerKey = { ...stranger, kid, key_ops: ['encrypt'] };
  type Runtime = { keys: object[]; 'client-payload': object };
  const edits = [
    (r: Runtime) => ({ ...r, keys: [strangerKey] }),
    (r: Runtime) => ({ ...r, keys: [...r.keys, strangerKey] }),
    (r: Runtime) => ({ ...r, 'client-payload': { nonce: Buffer.from('another nonce').toString('base64') } }),
  ];
  return Promise.all(
    edits.map((edit) =>
      startMaaStandIn({
        ...options,
        tamper: (c) => ({ ...c, 'x-ms-runtime': edit(c['x-ms-runtime'] as Runtime) }),
      }),
    ),
  );
}
