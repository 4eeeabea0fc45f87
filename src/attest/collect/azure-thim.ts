import { X509Certificate } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';

/** Azure's instance metadata endpoint for AMD collateral (VCEK and chain) on a confidential VM. */
export const AZURE_THIM_URL = 'http://169.254.169.254/metadata/THIM/amd/certification';

/** Options for {@link fetchAzureVcek}. */
export interface FetchAzureVcekOptions {
  /** The endpoint; default {@link AZURE_THIM_URL} (tests point it at a local stand-in). */
  readonly url?: string;
  /** Give up after this long; default 5000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Asks Azure's instance metadata service (THIM) for the VM's VCEK, as Azure documents for
 * confidential VMs (`Metadata: true`; JSON with `vcekCert` as PEM). The certificate is untrusted
 * input: verification still chains it to the pinned AMD root.
 */
export async function fetchAzureVcek(options: FetchAzureVcekOptions = {}): Promise<Buffer> {
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
  const pem = (body as { vcekCert?: unknown } | null)?.vcekCert;
  if (typeof pem !== 'string') throw fail('the answer has no vcekCert');
  try {
    return new X509Certificate(pem).raw;
  } catch (cause) {
    throw fail('vcekCert is not a certificate', cause);
  }
}
