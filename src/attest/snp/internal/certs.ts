import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SealtrainError } from '../../../errors/index.js';
import type { SnpCertificates } from '../../evidence.js';
import { kdsHwid, kdsUrl, type SnpFetcher, vcekCachePath } from '../kds.js';
import type { SnpReport } from '../report.js';
import type { SnpProduct } from '../tcb.js';

/** Parses PEM text or DER bytes; `undefined` when it is not a certificate. */
export function tryCertificate(value: string | Uint8Array): X509Certificate | undefined {
  try {
    if (typeof value === 'string') {
      if (!value.includes('-----BEGIN CERTIFICATE-----')) return undefined;
      return new X509Certificate(value);
    }
    return new X509Certificate(Buffer.from(value));
  } catch {
    return undefined;
  }
}

/** Parses a certificate the caller supplied; garbage is `ERR_ATTEST_MALFORMED` naming the role. */
export function givenCertificate(value: unknown, field: string): X509Certificate {
  const cert = typeof value === 'string' || value instanceof Uint8Array ? tryCertificate(value) : undefined;
  if (cert === undefined)
    throw new SealtrainError(
      'ERR_ATTEST_MALFORMED',
      `${field} is not an X.509 certificate (PEM text or DER bytes).`,
      { details: { field } },
    );
  return cert;
}

/** Every supplied certificate, parsed. */
export function givenCertificates(
  certs: SnpCertificates | undefined,
): Partial<Record<keyof SnpCertificates, X509Certificate>> {
  const out: Partial<Record<keyof SnpCertificates, X509Certificate>> = {};
  for (const role of ['vcek', 'vlek', 'ask', 'asvk', 'ark'] as const) {
    const value = certs?.[role];
    if (value !== undefined) out[role] = givenCertificate(value, `certificates.${role}`);
  }
  return out;
}

/** A certificate found, or why none was. */
export type Found = { readonly cert: X509Certificate; readonly from: string } | { readonly problem: string };

async function fromCache(dir: string, product: SnpProduct, report: SnpReport): Promise<Found | undefined> {
  const der = vcekCachePath(dir, product, report.chipId, report.reportedTcb);
  for (const path of [der, der.replace(/\.der$/, '.pem')]) {
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined) continue;
    const cert = tryCertificate(path.endsWith('.pem') ? bytes.toString('latin1') : bytes);
    return cert === undefined
      ? { problem: `The cached VCEK ${path} is not an X.509 certificate.` }
      : { cert, from: path };
  }
  return undefined;
}

/**
 * Finds the VCEK the caller did not supply: in the certificate cache, then through the fetcher.
 * Never throws: every failure comes back as a problem that says how to supply the certificate.
 */
export async function findVcek(
  report: SnpReport,
  product: SnpProduct | undefined,
  options: { readonly certCache?: string; readonly fetcher?: SnpFetcher },
): Promise<Found> {
  const how =
    'pass it as certificates.vcek, put it in a certCache folder, or pass a fetcher (kdsFetch asks AMD KDS)';
  if (product === undefined)
    return {
      problem: `No VCEK certificate, and the product line is unknown so none can be looked up; ${how}, with options.product.`,
    };
  if (options.certCache !== undefined) {
    const cached = await fromCache(options.certCache, product, report);
    if (cached !== undefined) return cached;
  }
  if (options.fetcher === undefined) return { problem: `No VCEK certificate for this report; ${how}.` };
  const url = kdsUrl(product, report.chipId, report.reportedTcb);
  try {
    const bytes = await options.fetcher({
      url,
      product,
      hwid: kdsHwid(product, report.chipId),
      tcb: report.reportedTcb,
    });
    const cert = tryCertificate(bytes);
    return cert === undefined
      ? { problem: `The fetcher returned no certificate for ${url}.` }
      : { cert, from: url };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { problem: `Fetching the VCEK from ${url} failed: ${why}` };
  }
}
