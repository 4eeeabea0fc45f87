import { createHash, createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SealtrainError } from '../../errors/index.js';
import { runTpm2, type ToolRunner } from './internal/tpm2-tools.js';
import { parseAzureCvmEvidence } from './parse-evidence.js';
import { parseTpmSignature, parseTpmsAttest, TPM_ALG } from './tpm-attest.js';

/** The vTPM NV index holding the HCL report. */
export const VTPM_HCL_REPORT_INDEX = 0x01400001;
/** The vTPM NV index the paravisor watches: 64 bytes written here become the report's `user-data`. */
export const VTPM_REPORT_DATA_INDEX = 0x01400002;
/** The persistent handle of the vTPM attestation key. */
export const VTPM_AK_HANDLE = 0x81000003;

/** Every PCR of the SHA-256 bank: what sealtrain's own vTPM evidence quotes. */
const ALL_PCRS = Array.from({ length: 24 }, (_, i) => i);
const QUOTE_ATTEMPTS = 3;

/** Options for {@link collectAzureCvmEvidence}. */
export interface CollectAzureCvmOptions {
  /** The TCTI: default `device:/dev/tpmrm0`; e.g. `swtpm:host=127.0.0.1,port=2321`. */
  readonly tcti?: string;
  /**
   * Up to 64 bytes to write to NV index 0x01400002 first, so the paravisor makes a fresh HCL report
   * whose `user-data` holds them. Absent: the report made at boot is read as it is.
   */
  readonly reportData?: Uint8Array;
  /** How long to wait after writing `reportData` for the fresh report (ms); default 3000. */
  readonly settleMs?: number;
  /** A VCEK (DER) to include, e.g. from the Azure IMDS THIM endpoint. */
  readonly vcek?: Uint8Array;
  /** A folder holding the `tpm2_*` tools; default: found on PATH. */
  readonly toolDir?: string;
  /** Per-command limit (ms); default 60000. */
  readonly timeoutMs?: number;
}

/** base64url with padding, as trustee's evidence (serde_with `Base64<UrlSafe>`) writes it. */
const b64url = (bytes: Uint8Array) =>
  Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

export const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

async function writeReportData(
  run: ToolRunner,
  dir: string,
  data: Uint8Array,
  settleMs: number,
): Promise<void> {
  if (data.length > 64) throw new RangeError('report data must be at most 64 bytes');
  const file = join(dir, 'report-data.bin');
  const padded = Buffer.alloc(64);
  Buffer.from(data).copy(padded);
  await writeFile(file, padded, { mode: 0o600 });
  const index = hex(VTPM_REPORT_DATA_INDEX);
  const defined = await runTpm2(run, 'tpm2_nvreadpublic', [index], 'look up NV index').then(
    () => true,
    () => false,
  );
  if (!defined)
    await runTpm2(run, 'tpm2_nvdefine', ['-C', 'o', '-s', '64', index], `define NV index ${index}`);
  await runTpm2(
    run,
    'tpm2_nvwrite',
    ['-C', 'o', '-i', file, index],
    `write report data to NV index ${index}`,
  );
  await sleep(settleMs);
}

/** A quote as tpm2_quote writes it: the TPMS_ATTEST, the signature, the quoted PCR values. */
export interface RawQuote {
  readonly message: Buffer;
  readonly signature: Buffer;
  readonly pcrs: Buffer[];
}

/** What to quote: SHA-256 PCRs `pcrs`, `nonce` as qualifying data, the signature's form. */
export interface QuoteRequest {
  readonly pcrs: readonly number[];
  readonly nonce?: Uint8Array;
  /** `tss`: a TPMT_SIGNATURE; `plain`: the bare RSA signature. */
  readonly format: 'tss' | 'plain';
}

/** The `tpm2_*` PCR list for SHA-256 PCRs `pcrs`. */
export const pcrList = (pcrs: readonly number[]) => `sha256:${pcrs.join(',')}`;

async function quoteOnce(run: ToolRunner, dir: string, q: QuoteRequest): Promise<RawQuote> {
  const [msg, sig, pcr] = ['quote.msg', 'quote.sig', 'quote.pcrs'].map((f) => join(dir, f)) as [
    string,
    string,
    string,
  ];
  const args = ['-c', hex(VTPM_AK_HANDLE), '-l', pcrList(q.pcrs), '-g', 'sha256'];
  if (q.nonce !== undefined) args.push('-q', Buffer.from(q.nonce).toString('hex'));
  await runTpm2(
    run,
    'tpm2_quote',
    [...args, '-m', msg, '-s', sig, '-f', q.format, '-o', pcr, '-F', 'values'],
    'quote PCRs',
  );
  const values = await readFile(pcr);
  if (values.length !== q.pcrs.length * 32)
    throw new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `Cannot read PCRs on ${run.tcti}: tpm2_quote wrote ${values.length} bytes of PCR values, not ${q.pcrs.length * 32}.`,
      { details: { device: run.tcti, command: 'tpm2_quote' } },
    );
  const pcrs = q.pcrs.map((_, i) => values.subarray(i * 32, i * 32 + 32));
  return { message: await readFile(msg), signature: await readFile(sig), pcrs };
}

/** Quotes, retrying when a PCR was extended between the quote and the read of its value. */
export async function quote(run: ToolRunner, dir: string, q: QuoteRequest): Promise<RawQuote> {
  for (let attempt = 1; ; attempt++) {
    const got = await quoteOnce(run, dir, q);
    const digest = createHash('sha256').update(Buffer.concat(got.pcrs)).digest();
    if (digest.equals(parseTpmsAttest(got.message).pcrDigest) || attempt >= QUOTE_ATTEMPTS) return got;
  }
}

/** The bare RSASSA signature when that is what the TPM made (the fixture's form), else the TPMT_SIGNATURE. */
function signatureHex(tss: Buffer): string {
  const parsed = parseTpmSignature(tss);
  const plain =
    parsed.scheme === 'rsassa' && parsed.hashAlg === TPM_ALG.sha256 && tss.length !== parsed.signature.length;
  return (plain ? parsed.signature : tss).toString('hex');
}

async function readEvidence(
  run: ToolRunner,
  dir: string,
  nonce: Uint8Array,
  options: CollectAzureCvmOptions,
) {
  if (options.reportData !== undefined)
    await writeReportData(run, dir, options.reportData, options.settleMs ?? 3000);
  const hclFile = join(dir, 'hcl-report.bin');
  const index = hex(VTPM_HCL_REPORT_INDEX);
  await runTpm2(
    run,
    'tpm2_nvread',
    ['-C', 'o', '-o', hclFile, index],
    `read the HCL report from NV index ${index}`,
  );
  const q = await quote(run, dir, { pcrs: ALL_PCRS, nonce, format: 'tss' });
  const akFile = join(dir, 'ak.pem');
  await runTpm2(
    run,
    'tpm2_readpublic',
    ['-c', hex(VTPM_AK_HANDLE), '-f', 'pem', '-o', akFile],
    'read the attestation key',
  );
  const akPub = createPublicKey(await readFile(akFile)).export({ type: 'spki', format: 'der' });
  return {
    version: 1,
    tpm_quote: {
      signature: signatureHex(q.signature),
      message: q.message.toString('hex'),
      pcrs: q.pcrs.map((p) => p.toString('hex')),
    },
    hcl_report: b64url(await readFile(hclFile)),
    ...(options.vcek === undefined ? {} : { vcek: b64url(options.vcek) }),
    ak_pub: b64url(akPub),
  };
}

/**
 * Collects Azure confidential-VM evidence through the vTPM with Debian's tpm2-tools: optionally
 * writes report data to NV index 0x01400002 (the paravisor then refreshes the report), reads the
 * HCL report from NV index 0x01400001, quotes SHA-256 PCRs 0–23 with the attestation key at
 * 0x81000003 and `nonce` as qualifying data (1 to 64 bytes: the request binding), reads the PCR
 * values and the key, and returns the evidence JSON `parseAzureCvmEvidence` reads (checked by
 * parsing it). Tools run without a shell; temporary files live in a private folder removed after.
 * A tool failure is `ERR_ATTEST_COLLECT_FAILED` naming the device and the tool's output.
 */
export async function collectAzureCvmEvidence(
  nonce: Uint8Array,
  options: CollectAzureCvmOptions = {},
): Promise<Record<string, unknown>> {
  if (nonce.length === 0 || nonce.length > 64) throw new RangeError('a nonce must be 1 to 64 bytes');
  const run: ToolRunner = {
    tcti: options.tcti ?? 'device:/dev/tpmrm0',
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.toolDir === undefined ? {} : { toolDir: options.toolDir }),
  };
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-vtpm-'));
  try {
    await chmod(dir, 0o700);
    const evidence = await readEvidence(run, dir, nonce, options);
    try {
      parseAzureCvmEvidence(evidence);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new SealtrainError(
        'ERR_ATTEST_COLLECT_FAILED',
        `The vTPM on ${run.tcti} returned evidence that does not parse: ${reason}`,
        {
          cause,
          details: { device: run.tcti },
        },
      );
    }
    return evidence;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
