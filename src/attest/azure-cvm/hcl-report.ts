import { SealtrainError } from '../../errors/index.js';
import { SNP_REPORT_BYTES } from '../evidence.js';
import { ByteReader, malformed } from './internal/reader.js';

/** "HCLA" read as a little-endian 32-bit integer: the HCL report's signature. */
export const HCL_SIGNATURE = 0x414c4348;
/** The attestation header that starts an HCL report. */
export const HCL_HEADER_BYTES = 32;
/** Where the hardware report ends and the IGVM runtime data begins (header + the 1184-byte slot). */
export const HCL_RUNTIME_DATA_OFFSET = HCL_HEADER_BYTES + SNP_REPORT_BYTES;
/** The runtime data's own header: data size, version, report type, hash type, variable data size. */
export const HCL_RUNTIME_HEADER_BYTES = 20;
/** The largest HCL report sealtrain reads (the vTPM NV index holds about 2.5 KiB). */
export const MAX_HCL_REPORT_BYTES = 64 * 1024;

/** `report_type` values of the IGVM request data. */
export const HCL_REPORT_TYPE = { snp: 2, tdx: 4 } as const;
/** `report_data_hash_type` values and the digest each names. */
export const HCL_HASH_TYPE: Readonly<Record<number, { name: string; bytes: number }>> = {
  1: { name: 'sha256', bytes: 32 },
  2: { name: 'sha384', bytes: 48 },
  3: { name: 'sha512', bytes: 64 },
};

/** The attestation header. */
export interface HclHeader {
  readonly signature: number;
  readonly version: number;
  readonly reportSize: number;
  readonly requestType: number;
  readonly status: number;
}

/** The IGVM runtime data after the hardware report. */
export interface HclRuntimeData {
  readonly dataSize: number;
  readonly version: number;
  readonly reportType: number;
  /** 1 SHA-256, 2 SHA-384, 3 SHA-512: how `variableData` is hashed into the report data. */
  readonly hashType: number;
  /** The exact bytes hashed into the SNP report data: a JSON document. */
  readonly variableData: Buffer;
}

/** A parsed Azure HCL report (the "attestation report" in the vTPM's NV index 0x01400001). */
export interface HclReport {
  readonly header: HclHeader;
  /** The SEV-SNP attestation report, for the SNP verifier. */
  readonly snpReport: Buffer;
  readonly runtimeData: HclRuntimeData;
  /** `variableData` as JSON: `keys` (HCLAkPub, HCLEkPub), `vm-configuration`, `user-data`. */
  readonly runtime: Readonly<Record<string, unknown>>;
}

function runtimeJson(bytes: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw malformed('hcl_report.variable_data', 'is not JSON', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed('hcl_report.variable_data', 'is not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Parses an HCL report: a 32-byte little-endian header starting "HCLA", a 1184-byte hardware report
 * slot (the SEV-SNP report), then the IGVM runtime data (size, version, report type, hash type,
 * variable data size, variable data). The NV index is padded with zeros after the runtime data;
 * the padding is ignored. A TDX report is `ERR_ATTEST_UNSUPPORTED`; anything cut short or
 * inconsistent is `ERR_ATTEST_MALFORMED` naming the field.
 */
export function parseHclReport(bytes: Uint8Array): HclReport {
  if (bytes.length > MAX_HCL_REPORT_BYTES)
    throw malformed('hcl_report', `is ${bytes.length} bytes, over the ${MAX_HCL_REPORT_BYTES}-byte limit`);
  const r = new ByteReader(bytes, 'hcl_report');
  const header: HclHeader = {
    signature: r.u32le('header.signature'),
    version: r.u32le('header.version'),
    reportSize: r.u32le('header.report_size'),
    requestType: r.u32le('header.request_type'),
    status: r.u32le('header.status'),
  };
  r.take(12, 'header.reserved');
  if (header.signature !== HCL_SIGNATURE)
    throw malformed('hcl_report.header.signature', `is 0x${header.signature.toString(16)}, not "HCLA"`);
  const snpReport = r.take(SNP_REPORT_BYTES, 'hw_report');
  const dataSize = r.u32le('runtime_data.data_size');
  const version = r.u32le('runtime_data.version');
  const reportType = r.u32le('runtime_data.report_type');
  const hashType = r.u32le('runtime_data.report_data_hash_type');
  const variableSize = r.u32le('runtime_data.variable_data_size');
  if (reportType !== HCL_REPORT_TYPE.snp)
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Azure CVM evidence: hcl_report.runtime_data.report_type is ${reportType}; only SEV-SNP (2) is supported${reportType === HCL_REPORT_TYPE.tdx ? ', not TDX (4)' : ''}.`,
      { details: { field: 'hcl_report.runtime_data.report_type' } },
    );
  if (dataSize < HCL_RUNTIME_HEADER_BYTES + variableSize)
    throw malformed(
      'hcl_report.runtime_data.data_size',
      `is ${dataSize}, less than its header and ${variableSize} bytes of variable data`,
    );
  const variableData = r.take(variableSize, 'runtime_data.variable_data');
  if (header.reportSize > bytes.length || header.reportSize < r.offset)
    throw malformed(
      'hcl_report.header.report_size',
      `is ${header.reportSize}, outside ${r.offset} to ${bytes.length} bytes`,
    );
  return {
    header,
    snpReport,
    runtimeData: { dataSize, version, reportType, hashType, variableData },
    runtime: runtimeJson(variableData),
  };
}
