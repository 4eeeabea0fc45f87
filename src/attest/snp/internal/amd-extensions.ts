import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { SealtrainError } from '../../../errors/index.js';
import type { TcbComponent } from '../tcb.js';

/** AMD's VCEK/VLEK extension arc (AMD VCEK certificate spec 57230, "Certificate extensions"). */
const ARC = '1.3.6.1.4.1.3704.1';

/** The TCB extension OIDs: 1.3.6.1.4.1.3704.1.3.x per component. */
export const TCB_OIDS: Readonly<Record<TcbComponent, string>> = {
  bootloader: `${ARC}.3.1`,
  tee: `${ARC}.3.2`,
  snp: `${ARC}.3.3`,
  microcode: `${ARC}.3.8`,
  fmc: `${ARC}.3.9`,
};

/** The AMD-specific facts of a VCEK or VLEK certificate. */
export interface AmdExtensions {
  /** productName (…1.2), e.g. `Milan-B0`. */
  readonly productName?: string;
  /** The TCB security patch levels (…1.3.x). */
  readonly tcb: Partial<Record<TcbComponent, number>>;
  /** hwID (…1.4), hex: the chip id (64 bytes; 8 on Turin). VCEK only. */
  readonly hwid?: string;
  /** cspId (…1.5): the cloud provider a VLEK was issued to. VLEK only. */
  readonly cspId?: string;
}

/** Reads one DER primitive of the given tag with a short or long length; `undefined` if it is not one. */
function primitive(bytes: Uint8Array, tag: number): Uint8Array | undefined {
  if (bytes.length < 2 || bytes[0] !== tag) return undefined;
  let len = bytes[1] ?? 0;
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || bytes.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | (bytes[2 + i] ?? 0);
    at = 2 + n;
  }
  return at + len === bytes.length ? bytes.subarray(at) : undefined;
}

function integer(bytes: Uint8Array): number | undefined {
  const body = primitive(bytes, 0x02);
  if (body === undefined || body.length === 0 || body.length > 2 || (body[0] ?? 0) & 0x80) return undefined;
  return body.reduce((n, b) => n * 256 + b, 0);
}

function ia5(bytes: Uint8Array): string | undefined {
  const body = primitive(bytes, 0x16);
  return body === undefined ? undefined : Buffer.from(body).toString('latin1');
}

/**
 * Reads AMD's extensions from a certificate's DER. The hwID is accepted both as the raw bytes
 * KDS issues and as a DER OCTET STRING. Unreadable values are left out, so the checks that need
 * them fail and say the extension is missing.
 */
export function amdExtensions(der: Uint8Array): AmdExtensions {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch (cause) {
    throw new SealtrainError(
      'ERR_ATTEST_MALFORMED',
      'The VCEK/VLEK certificate has extensions that do not parse as DER.',
      {
        cause,
        details: { field: 'vcek' },
      },
    );
  }
  const tcb: Partial<Record<TcbComponent, number>> = {};
  let productName: string | undefined;
  let hwid: string | undefined;
  let cspId: string | undefined;
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    const value = new Uint8Array(ext.extnValue.buffer);
    const id = ext.extnID;
    if (id === `${ARC}.2`) productName = ia5(value);
    else if (id === `${ARC}.4`) {
      const inner = primitive(value, 0x04);
      const raw = value.length === 64 || value.length === 8 ? value : inner;
      hwid = raw === undefined ? undefined : Buffer.from(raw).toString('hex');
    } else if (id === `${ARC}.5`) cspId = ia5(value);
    else
      for (const [name, oid] of Object.entries(TCB_OIDS))
        if (oid === id) {
          const n = integer(value);
          if (n !== undefined) tcb[name as TcbComponent] = n;
        }
  }
  return {
    tcb,
    ...(productName === undefined ? {} : { productName }),
    ...(hwid === undefined ? {} : { hwid }),
    ...(cspId === undefined ? {} : { cspId }),
  };
}
