import { createDecipheriv, type KeyObject, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SealtrainError } from '../../errors/index.js';
import { registerTempDir } from '../../store/index.js';
import type { SnpCertificates } from '../evidence.js';
import { maaCertChain } from '../maa/sev-snp-vm-request.js';
import { hex, pcrList, quote, VTPM_AK_HANDLE, VTPM_HCL_REPORT_INDEX } from './collect-vtpm.js';
import { parseHclReport } from './hcl-report.js';
import { runTpm2, type ToolRunner } from './internal/tpm2-tools.js';
import { parseTpmRsaPublic } from './tpm-public.js';

/** The api-version of MAA's `attest/AzureGuest` that Azure's guest attestation clients use. */
export const AZURE_GUEST_API_VERSION = '2020-10-01';

/** The vTPM NV index holding the attestation key's certificate (issued by Azure). */
export const VTPM_AK_CERT_INDEX = 0x01c101d0;

/** The PCRs a Linux guest quotes for MAA (SHA-256 bank), and binds its encryption key's policy to. */
export const AZURE_GUEST_PCRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];

/** The kid MAA gives the vTPM's ephemeral encryption key in `x-ms-runtime.keys`. */
export const TPM_ENCRYPTION_KID = 'TpmEphemeralEncryptionKey';

/** The associated data of the AES-GCM envelope MAA puts its token in for an AzureGuest client. */
const TRANSPORT_AAD = Buffer.from('Transport Key', 'ascii');

/** The encryption key's attributes: decrypt only, made in this TPM, no dictionary-attack lockout. */
const ENCRYPTION_KEY_ATTRIBUTES = 'decrypt|fixedtpm|fixedparent|sensitivedataorigin|noda';

/** The measured-boot log the kernel exposes (empty when there is none, as in a test TPM). */
const TCG_LOG = 'sys/kernel/security/tpm0/binary_bios_measurements';

/**
 * The vTPM's ephemeral encryption key: RSA-2048, made under the null hierarchy (gone at the next
 * TPM reset), usable only while PCRs 0–7 hold the values they had when it was made (a PCR policy),
 * and certified by the attestation key. Its private part never leaves the TPM: decryption happens
 * there, and the plaintext comes back through a pipe for the caller to wipe.
 */
export interface VtpmEncryptionKey {
  readonly publicKey: KeyObject;
  /** RSA-OAEP with `hash` (MGF1 the same), no label: what Key Vault wraps released keys with. */
  oaepDecrypt(block: Buffer, hash: 'sha1' | 'sha256' | 'sha384'): Promise<Buffer>;
  /** RSAES-PKCS1-v1_5: what MAA wraps its token's transport key with. */
  rsaesDecrypt(block: Buffer): Promise<Buffer>;
  /** Flushes the key and removes its working folder; later decryptions fail. */
  close(): Promise<void>;
}

/** What {@link prepareAzureGuest} returns: MAA's request body, and the key its answer is wrapped to. */
export interface AzureGuestRequest {
  /** `{ AttestationInfo }`: base64url of the JSON MAA's AzureGuest endpoint reads. */
  readonly body: { readonly AttestationInfo: string };
  readonly key: VtpmEncryptionKey;
}

/** Options for {@link prepareAzureGuest}. */
export interface AzureGuestOptions {
  /** The TCTI: default `device:/dev/tpmrm0`. */
  readonly tcti?: string;
  /** A folder holding the `tpm2_*` tools; default: found on PATH. */
  readonly toolDir?: string;
  /** Per-command limit (ms); default 60000. */
  readonly timeoutMs?: number;
  /** The file-system root `/etc/os-release` and the TCG log are read under (tests). */
  readonly root?: string;
  /** `ClientPayload`: string values MAA copies to `x-ms-runtime.client-payload`, base64-encoded. */
  readonly clientPayload: Readonly<Record<string, string>>;
  /**
   * The VCEK, and the ASK and ARK when THIM sent them (the pinned AMD ones complete the chain); may
   * be on its way while the vTPM works.
   */
  readonly certificates: SnpCertificates | Promise<SnpCertificates>;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** `NAME` and `VERSION_ID` of os-release, as the guest attestation clients report them. */
async function osInfo(root: string): Promise<{ name: string; major: number; minor: number }> {
  const text = await readFile(join(root, 'etc/os-release'), 'utf8').catch(() => '');
  const field = (key: string) =>
    /^"?(.*?)"?$/.exec(
      text
        .split('\n')
        .find((l) => l.startsWith(`${key}=`))
        ?.slice(key.length + 1) ?? '',
    )?.[1] ?? '';
  const [major = 0, minor = 0] = field('VERSION_ID')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  return { name: field('NAME') || 'Linux', major, minor };
}

/** Runs the TPM steps in order: one folder, one decryption at a time (each flushes what the TPM holds after it). */
class VtpmSession {
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #unregister: () => void;

  constructor(
    readonly run: ToolRunner,
    readonly dir: string,
  ) {
    this.#unregister = registerTempDir(dir);
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  tool(tool: string, args: readonly string[], what: string, input?: Buffer): Promise<Buffer> {
    return runTpm2(this.run, tool, args, what, input);
  }

  /**
   * Flushes transient objects and sessions: a TPM reached without a resource manager (a socket,
   * `/dev/tpm0`) keeps what each tool leaves loaded, and holds only a few of each; behind
   * `/dev/tpmrm0` only this connection's are touched.
   */
  async flush(): Promise<void> {
    for (const [flag, what] of [
      ['-t', 'transient objects'],
      ['-l', 'loaded sessions'],
      ['-s', 'saved sessions'],
    ] as const)
      await this.tool('tpm2_flushcontext', [flag], `flush ${what}`);
  }

  /** One step at a time, in order. */
  serial<T>(step: () => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new SealtrainError('ERR_USAGE_INVALID', 'The vTPM encryption key was already closed.'),
      );
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.flush().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
    this.#unregister();
  }
}

/**
 * Decrypts `block` inside the TPM with the encryption key. The PCR policy is satisfied within the
 * one tool run (`-p pcr:…`): a policy session would not outlive its process behind a resource
 * manager such as `/dev/tpmrm0`.
 */
async function tpmDecrypt(s: VtpmSession, block: Buffer, scheme: string): Promise<Buffer> {
  try {
    // The ciphertext goes in on standard input, the plaintext comes out on standard output.
    return await s.tool(
      'tpm2_rsadecrypt',
      ['-c', s.file('enc.ctx'), '-p', `pcr:${pcrList(AZURE_GUEST_PCRS)}`, '-s', scheme],
      'decrypt with the vTPM encryption key',
      block,
    );
  } finally {
    await s.flush().catch(() => {});
  }
}

/**
 * Makes the encryption key from random unique data (a key of its own, which no one can make again
 * once its context is gone), bound by policy to the PCR values `pcrs` just quoted, certifies it
 * with the AK, and reads what MAA needs about it.
 */
async function makeEncryptionKey(s: VtpmSession, pcrs: readonly Buffer[]) {
  const policy = s.file('policy.dat');
  const values = s.file('pcrs.bin');
  const ctx = s.file('enc.ctx');
  await writeFile(values, Buffer.concat(pcrs), { mode: 0o600 });
  await s.tool(
    'tpm2_createpolicy',
    ['--policy-pcr', '-l', pcrList(AZURE_GUEST_PCRS), '-f', values, '-L', policy],
    'make the PCR policy for the encryption key',
  );
  await s.tool(
    'tpm2_createprimary',
    [
      '-C',
      'n',
      '-G',
      'rsa2048:null:null',
      '-a',
      ENCRYPTION_KEY_ATTRIBUTES,
      '-L',
      policy,
      '-u',
      '-',
      '-c',
      ctx,
    ],
    'make the ephemeral encryption key',
    randomBytes(32),
  );
  await s.flush();
  await s.tool('tpm2_readpublic', ['-c', ctx, '-o', s.file('enc.pub')], 'read the encryption key');
  await s.flush();
  const [attest, signature] = [s.file('certify.att'), s.file('certify.sig')];
  await s.tool(
    'tpm2_certify',
    ['-c', ctx, '-C', hex(VTPM_AK_HANDLE), '-g', 'sha256', '-o', attest, '-s', signature, '-f', 'plain'],
    'certify the encryption key with the attestation key',
  );
  await s.flush();
  return {
    pub: await readFile(s.file('enc.pub')),
    certifyInfo: await readFile(attest),
    certifySignature: await readFile(signature),
  };
}

/**
 * Collects what MAA's `attest/AzureGuest` reads on an Azure confidential VM, with Debian's
 * tpm2-tools: the HCL report (the SEV-SNP report and the runtime claims naming the attestation
 * key) from NV index 0x01400001, the AK's certificate from NV index 0x01C101D0 and its public
 * area, a quote of SHA-256 PCRs 0–7, the measured-boot log, and a fresh encryption key certified
 * by the AK (see {@link VtpmEncryptionKey}), which MAA wraps its answer to and Key Vault releases
 * to. Field names and encodings follow Azure's guest attestation clients (protocol version 2.0).
 * The caller closes the returned key.
 */
export async function prepareAzureGuest(options: AzureGuestOptions): Promise<AzureGuestRequest> {
  const run: ToolRunner = {
    tcti: options.tcti ?? 'device:/dev/tpmrm0',
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.toolDir === undefined ? {} : { toolDir: options.toolDir }),
  };
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-vtpm-key-'));
  await chmod(dir, 0o700);
  const s = new VtpmSession(run, dir);
  try {
    const root = options.root ?? '/';
    const nvRead = (index: number, what: string) =>
      s.tool('tpm2_nvread', ['-C', 'o', hex(index)], `read ${what} from NV index ${hex(index)}`);
    const hcl = parseHclReport(await nvRead(VTPM_HCL_REPORT_INDEX, 'the HCL report'));
    const akCert = await nvRead(VTPM_AK_CERT_INDEX, "the attestation key's certificate");
    await s.tool(
      'tpm2_readpublic',
      ['-c', hex(VTPM_AK_HANDLE), '-o', s.file('ak.pub')],
      'read the attestation key',
    );
    const q = await quote(run, dir, { pcrs: AZURE_GUEST_PCRS, format: 'plain' });
    await s.flush();
    const enc = await makeEncryptionKey(s, q.pcrs);
    const publicKey = parseTpmRsaPublic(enc.pub, 'EncKeyPub').publicKey;
    const os = await osInfo(root);
    const certificates = await options.certificates;
    const tcgLog = await readFile(join(root, TCG_LOG)).catch(() => Buffer.alloc(0));
    const info = {
      AttestationProtocolVersion: '2.0',
      OSType: b64(Buffer.from('Linux')),
      OSDistro: b64(Buffer.from(os.name)),
      OSVersionMajor: os.major,
      OSVersionMinor: os.minor,
      OSBuild: b64(Buffer.from('NotApplication')),
      TcgLogs: b64(tcgLog),
      ClientPayload: Object.fromEntries(
        Object.entries(options.clientPayload).map(([k, v]) => [k, b64(Buffer.from(v))]),
      ),
      TpmInfo: {
        AikCert: b64(akCert),
        AikPub: b64(await readFile(s.file('ak.pub'))),
        PcrQuote: b64(q.message),
        PcrSignature: b64(q.signature),
        PcrSet: AZURE_GUEST_PCRS,
        PCRs: AZURE_GUEST_PCRS.map((Index, i) => ({ Index, Digest: b64(q.pcrs[i] ?? Buffer.alloc(0)) })),
        EncKeyPub: b64(enc.pub),
        EncKeyCertifyInfo: b64(enc.certifyInfo),
        EncKeyCertifyInfoSignature: b64(enc.certifySignature),
      },
      IsolationInfo: {
        Type: 'SevSnp',
        Evidence: {
          Proof: b64(
            Buffer.from(
              JSON.stringify({
                SnpReport: b64url(hcl.snpReport),
                VcekCertChain: b64(Buffer.from(maaCertChain(hcl.snpReport, certificates))),
              }),
            ),
          ),
          RunTimeData: b64(hcl.runtimeData.variableData),
        },
      },
    };
    const key: VtpmEncryptionKey = {
      publicKey,
      oaepDecrypt: (block, hash) => s.serial(() => tpmDecrypt(s, block, `oaep-${hash}`)),
      rsaesDecrypt: (block) => s.serial(() => tpmDecrypt(s, block, 'rsaes')),
      close: () => s.close(),
    };
    return { body: { AttestationInfo: b64url(Buffer.from(JSON.stringify(info))) }, key };
  } catch (error) {
    await s.close().catch(() => {}); // the collection's error comes first
    throw error;
  }
}

const malformedAnswer = (field: string, why: string, cause?: unknown) =>
  new SealtrainError('ERR_ATTEST_MALFORMED', `MAA's AzureGuest answer: ${field} ${why}.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { field },
  });

/**
 * Opens the token MAA answers an AzureGuest attestation with: base64url JSON holding the JWT
 * encrypted with AES-GCM (`Jwt`, `EncryptionParams.Iv`, `AuthenticationData` the tag, the
 * associated data "Transport Key") under a key wrapped to the vTPM encryption key with
 * RSAES-PKCS1-v1_5 (`EncryptedInnerKey`), which only this TPM, with these PCRs, can unwrap.
 * Returns the JWT, still to be verified; the transport key is wiped.
 */
export async function openAzureGuestToken(token: string, key: VtpmEncryptionKey): Promise<string> {
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (cause) {
    throw malformedAnswer('token', 'is not base64url JSON', cause);
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope))
    throw malformedAnswer('token', 'is not a JSON object');
  const field = (value: unknown, name: string) => {
    if (typeof value !== 'string' || value === '') throw malformedAnswer(name, 'is missing');
    return Buffer.from(value, 'base64');
  };
  const params = (envelope.EncryptionParams ?? {}) as Record<string, unknown>;
  const ciphertext = field(envelope.Jwt, 'Jwt');
  const wrapped = field(envelope.EncryptedInnerKey, 'EncryptedInnerKey');
  const iv = field(params.Iv, 'EncryptionParams.Iv');
  const tag = field(envelope.AuthenticationData, 'AuthenticationData');
  if (tag.length !== 16)
    throw malformedAnswer('AuthenticationData', `is ${tag.length} bytes, not a 16-byte tag`);
  if (iv.length !== 12)
    throw malformedAnswer('EncryptionParams.Iv', `is ${iv.length} bytes, not a 12-byte nonce`);
  const transportKey = await key.rsaesDecrypt(wrapped).catch((cause: unknown) => {
    // A key already closed is the caller's error; anything else the vTPM says is named.
    if (cause instanceof SealtrainError && cause.code === 'ERR_USAGE_INVALID') throw cause;
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `MAA's answer does not open with this VM's vTPM encryption key (EncryptedInnerKey): ${(cause as Error).message}`,
      { cause, details: { field: 'EncryptedInnerKey' } },
    );
  });
  try {
    if (![16, 24, 32].includes(transportKey.length))
      throw malformedAnswer('EncryptedInnerKey', `holds ${transportKey.length} bytes, not an AES key`);
    const decipher = createDecipheriv(
      `aes-${transportKey.length * 8}-gcm` as 'aes-256-gcm',
      transportKey,
      iv,
    ).setAAD(TRANSPORT_AAD);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw new SealtrainError('ERR_ATTEST_REJECTED', "MAA's encrypted token does not authenticate.", {
        cause,
        details: { field: 'Jwt' },
      });
    }
  } finally {
    transportKey.fill(0);
  }
}
