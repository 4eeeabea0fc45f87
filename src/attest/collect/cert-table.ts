import { X509Certificate } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { SnpCertificates } from '../evidence.js';

/** GUIDs of the SEV-SNP extended-report certificate table (AMD GHCB specification, 56421). */
const GUIDS: Readonly<Record<string, keyof SnpCertificates>> = {
  '63da758d-e664-4564-adc5-f4b93be8accd': 'vcek',
  'a8074bc2-a25a-483e-aae6-39c045a0b8a1': 'vlek',
  '4ab7b379-bbac-4fe4-a02f-05aef327c782': 'ask',
  'c0b406a4-a803-4952-9743-3fb6014cd0ae': 'ark',
};

const ENTRY = 24;

function guidOf(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function bad(why: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `The SEV-SNP certificate table ${why}.`, {
    details: { field: 'auxblob' },
  });
}

/**
 * Splits the certificate table the host returns with an extended report (configfs-tsm `auxblob`):
 * entries of GUID (16 bytes), offset and length (little-endian u32), ended by an all-zero entry.
 * Known certificates come back as PEM; unknown GUIDs are ignored.
 */
export function parseCertTable(table: Uint8Array): SnpCertificates {
  const buf = Buffer.from(table);
  const out: Record<string, string> = {};
  for (let at = 0; ; at += ENTRY) {
    if (at + ENTRY > buf.length) throw bad('has no terminating entry');
    const guid = buf.subarray(at, at + 16);
    const offset = buf.readUInt32LE(at + 16);
    const length = buf.readUInt32LE(at + 20);
    if (guid.every((b) => b === 0)) break;
    if (offset + length > buf.length || length === 0)
      throw bad(`entry ${at / ENTRY} points outside the table`);
    const name = GUIDS[guidOf(guid)];
    if (name === undefined) continue;
    try {
      out[name] = new X509Certificate(buf.subarray(offset, offset + length)).toString();
    } catch (cause) {
      throw new SealtrainError(
        'ERR_ATTEST_MALFORMED',
        `The SEV-SNP certificate table's ${name} is not a certificate.`,
        {
          cause,
          details: { field: `auxblob.${name}` },
        },
      );
    }
  }
  return out;
}

/** Builds a certificate table (the inverse of {@link parseCertTable}); for tests and tools. */
export function encodeCertTable(certs: Readonly<Record<string, Uint8Array>>): Buffer {
  const byName = new Map(Object.entries(GUIDS).map(([g, n]) => [n, g]));
  const entries = Object.entries(certs);
  let offset = ENTRY * (entries.length + 1);
  const head = Buffer.alloc(offset);
  entries.forEach(([name, der], i) => {
    const guid = byName.get(name as keyof SnpCertificates);
    if (guid === undefined) throw new Error(`unknown certificate ${name}`);
    Buffer.from(guid.replace(/-/g, ''), 'hex').copy(head, i * ENTRY);
    head.writeUInt32LE(offset, i * ENTRY + 16);
    head.writeUInt32LE(der.length, i * ENTRY + 20);
    offset += der.length;
  });
  return Buffer.concat([head, ...entries.map(([, der]) => der)]);
}
