import { join } from 'node:path';
import { SealtrainError } from '../../errors/index.js';
import type { SnpProduct, SnpTcb } from './tcb.js';

/** AMD Key Distribution Service base URL (AMD VCEK certificate spec 57230). */
export const KDS_BASE_URL = 'https://kdsintf.amd.com';

/** A request for a VCEK certificate, as passed to a {@link SnpFetcher}. */
export interface KdsRequest {
  /** The KDS URL for this VCEK (see {@link kdsUrl}). */
  readonly url: string;
  readonly product: SnpProduct;
  /** The hardware id in the URL: CHIP_ID, or its first 8 bytes on Turin; hex. */
  readonly hwid: string;
  /** The reported TCB the VCEK is derived for. */
  readonly tcb: SnpTcb;
}

/**
 * Fetches a VCEK certificate (DER) for a request. It may throw; the verifier turns any failure
 * into a failed `snp.chain.vcek` check. Guarantee expected of an implementation: it returns the
 * bytes it received and does not judge them; the chain checks do that.
 */
export type SnpFetcher = (request: KdsRequest) => Promise<Uint8Array>;

/** The hardware id KDS expects for a product: all 64 bytes of CHIP_ID, or 8 on Turin. */
export function kdsHwid(product: SnpProduct, chipId: string): string {
  return product === 'Turin' ? chipId.slice(0, 16) : chipId;
}

/**
 * The KDS URL of the VCEK for a chip at a TCB:
 * `https://kdsintf.amd.com/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`,
 * with `fmcSPL` first on Turin.
 */
export function kdsUrl(product: SnpProduct, chipId: string, tcb: SnpTcb): string {
  const query = [
    ...(product === 'Turin' ? [`fmcSPL=${tcb.fmc ?? 0}`] : []),
    `blSPL=${tcb.bootloader}`,
    `teeSPL=${tcb.tee}`,
    `snpSPL=${tcb.snp}`,
    `ucodeSPL=${tcb.microcode}`,
  ].join('&');
  return `${KDS_BASE_URL}/vcek/v1/${product}/${kdsHwid(product, chipId)}?${query}`;
}

/**
 * A {@link SnpFetcher} that asks AMD's KDS with the global `fetch`. Never used unless passed as
 * `fetcher`: verification does no network I/O by default. KDS rate-limits; cache what it returns
 * (see {@link vcekCachePath}).
 */
export const kdsFetch: SnpFetcher = async (request) => {
  const response = await fetch(request.url);
  if (!response.ok)
    throw new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `AMD KDS answered ${response.status} for ${request.url}.`,
      { details: { url: request.url, status: response.status } },
    );
  return new Uint8Array(await response.arrayBuffer());
};

/**
 * Where a certificate cache folder holds the VCEK for a chip at a TCB:
 * `{dir}/{product}/{hwid}/{reported TCB as 16 hex digits}.der` (a `.pem` beside it is read too).
 */
export function vcekCachePath(dir: string, product: SnpProduct, chipId: string, tcb: SnpTcb): string {
  return join(dir, product, kdsHwid(product, chipId), `${tcb.raw.toString(16).padStart(16, '0')}.der`);
}
