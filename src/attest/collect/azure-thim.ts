import { X509Certificate } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { pemBlocks } from '../read-certificates.js';

/** Azure's instance metadata endpoint for AMD collateral (VCEK and chain) on a confidential VM. */
export const AZURE_THIM_URL = 'http://169.254.169.254/metadata/THIM/amd/certification';

/** Options for {@link fetchAzureVcek}. */
export interface FetchAzureVcekOptions {
  /** The endpoint; default {@link AZURE_THIM_URL} (tests point it at a local stand-in). */
  readonly url?: string;
  /** Give up after this long; default 5000 ms. */
  readonly timeoutMs?: number;
}

/** What THIM answers: the VCEK (DER) and the certificates it names as its chain (DER; ASK, ARK). */
export interface AzureVcekChain {
  readonly vcek: Buffer;
  readonly chain: readonly Buffer[];
}

/**
 * Asks Azure's instance metadata service (THIM) for the VM's VCEK, as Azure documents for
 * confidential VMs (`Metadata: true`; JSON with `vcekCert` as PEM). The certificate is untrusted
 * input: verification still chains it to the pinned AMD root.
 */
export async function fetchAzureVcek(options: FetchAzureVcekOptions = {}): Promise<Buffer> {
  return (await fetchAzureVcekChain(options)).vcek;
}

/**
 * {@link fetchAzureVcek}, with the `certificateChain` (PEM: ASK, then ARK) THIM sends beside it,
 * for MAA, which wants the whole chain. Untrusted input, as the VCEK is.
 */
export async function fetchAzureVcekChain(options: FetchAzureVcekOptions = {}): Promise<AzureVcekChain> {
  const url = options.url ?? AZURE_THIM_URL;
  const fail = (why: string, cause?: unknown) =>
    new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `Cannot get the VCEK from ${url}: ${why}. Pass --no-thim to collect without it (verifiers then need --certs).`,
      { cause, details: { device: url } },
    );
  let body: unknown;
  try {
    const response = await fetch(url, {
      headers: { Metadata: 'true' },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!response.ok) throw fail(`HTTP ${response.status}`);
    body = await response.json();
  } catch (cause) {
    if (cause instanceof SealtrainError) throw cause;
    throw fail((cause as Error).message ?? String(cause), cause);
  }
  const answer = (body ?? {}) as { vcekCert?: unknown; certificateChain?: unknown };
  if (typeof answer.vcekCert !== 'string') throw fail('the answer has no vcekCert');
  try {
    const vcek = new X509Certificate(answer.vcekCert).raw;
    const chain =
      typeof answer.certificateChain === 'string'
        ? pemBlocks(answer.certificateChain).map((pem) => new X509Certificate(pem).raw)
        : [];
    return { vcek, chain };
  } catch (cause) {
    throw fail('vcekCert or certificateChain is not a certificate', cause);
  }
}
