/** What the model card and the run report say about where a run ran. */
export interface AttestationSummary {
  /** `sim` (simulated: no protection), `sevsnpvm` or `azurevm`. */
  readonly type: string;
  /** True for the simulated TEE: the run proved nothing about hardware. */
  readonly simulated: boolean;
  /** The token's issuer (the broker or Azure Attestation). */
  readonly issuer: string;
  readonly issuedAt: string | undefined;
  readonly expiresAt: string | undefined;
  /** Measurement, debug, SVN and compliance claims, as the token gave them. */
  readonly claims: Readonly<Record<string, string | number | boolean>>;
}

const KEPT = /^x-ms-(sevsnpvm|sim|azurevm|compliance-status|attestation-type|ver)/;

function flatten(prefix: string, value: unknown, out: Record<string, string | number | boolean>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
    return;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    out[prefix] = value;
}

const time = (s: unknown) => (typeof s === 'number' ? new Date(s * 1000).toISOString() : undefined);

/**
 * The claims worth keeping from an attestation token: its type, issuer, times, and the
 * measurement, debug, SVN and compliance claims (top level and under `x-ms-isolation-tee`). The
 * runtime key and the nonce binding are left out: they identify one session, not the TEE.
 */
export function summariseClaims(claims: Readonly<Record<string, unknown>>): AttestationSummary {
  const kept: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (k === 'x-ms-isolation-tee') {
      const inner: Record<string, string | number | boolean> = {};
      flatten('', v, inner);
      for (const [ik, iv] of Object.entries(inner))
        if (KEPT.test(ik) && !ik.includes('reportdata') && !ik.includes('runtime')) kept[`${k}.${ik}`] = iv;
    } else if (KEPT.test(k) && !k.includes('reportdata')) flatten(k, v, kept);
  }
  const type = String(claims['x-ms-attestation-type'] ?? 'unknown');
  return {
    type,
    simulated: type === 'sim',
    issuer: String(claims.iss ?? ''),
    issuedAt: time(claims.iat),
    expiresAt: time(claims.exp),
    claims: kept,
  };
}
