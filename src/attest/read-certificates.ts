import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { SnpCertificates } from './evidence.js';

/** Each PEM certificate block in `text`, in order (a CA file or a chain may hold several). */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Splits PEM text into certificates, or reads one DER certificate. */
function certificatesIn(bytes: Buffer, path: string): X509Certificate[] {
  const text = bytes.toString('latin1');
  try {
    if (text.includes('-----BEGIN CERTIFICATE-----'))
      return pemBlocks(text).map((pem) => new X509Certificate(pem));
    return [new X509Certificate(bytes)];
  } catch (cause) {
    throw new SealtrainError('ERR_ATTEST_MALFORMED', `${path} is not an X.509 certificate (PEM or DER).`, {
      cause,
      details: { path },
    });
  }
}

const CERT_EXTENSIONS = /\.(?:pem|der|crt|cer|testcer)$/i;
const CERT_NAMES = /^(?:vcek|vlek|ask|asvk|ark|cert_chain)(?:_[a-z0-9]+)?$/i;

/** Whether a file in a certificate folder is meant to be a certificate (and so must parse). */
function isCertificateFile(name: string, bytes: Buffer): boolean {
  return CERT_EXTENSIONS.test(name) || CERT_NAMES.test(name) || bytes.includes('-----BEGIN CERTIFICATE-----');
}

/** Names an AMD certificate by its subject: ARK (self-signed), ASK, ASVK, VCEK or VLEK. */
export function amdRoleOf(cert: X509Certificate): keyof SnpCertificates {
  const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? '';
  if (cert.subject === cert.issuer) return 'ark';
  if (cn === 'SEV-VCEK') return 'vcek';
  if (cn === 'SEV-VLEK') return 'vlek';
  if (cn.startsWith('SEV-VLEK-')) return 'asvk';
  return 'ask';
}

/**
 * Reads the certificate files in a folder (`*.pem`, `*.der`, `*.crt`, `*.cer`, files named `vcek`,
 * `ask`, `ark`, `cert_chain`…, or any file holding a PEM certificate; other files such as a report
 * beside them are ignored) and sorts them into the SEV-SNP roles by subject. A file meant to be a
 * certificate that does not parse is an error. Two different certificates for one
 * role are refused, so a folder cannot be ambiguous.
 */
export async function readCertificatesDir(dir: string): Promise<SnpCertificates> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (error) {
    throw fromFsError(error, 'read the certificate folder', dir);
  }
  const out: Record<string, string> = {};
  for (const name of names.sort()) {
    const path = join(dir, name);
    const bytes = await readFile(path).catch((error: unknown) => {
      throw fromFsError(error, 'read', path);
    });
    if (!isCertificateFile(name, bytes)) continue;
    for (const cert of certificatesIn(bytes, path)) {
      const role = amdRoleOf(cert);
      const pem = cert.toString();
      if (out[role] !== undefined && out[role] !== pem)
        throw new SealtrainError(
          'ERR_ATTEST_MALFORMED',
          `${dir} holds two different ${role} certificates (one in ${name}).`,
          {
            details: { path, field: role },
          },
        );
      out[role] = pem;
    }
  }
  return out;
}
