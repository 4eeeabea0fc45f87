import { CLAIM, type Claims, type ClaimValue } from '../claims.js';
import type { AzureCvmEvidence } from './parse-evidence.js';
import { TPM_ALG } from './tpm-attest.js';

/** The PCR indices of the quote's SHA-256 bank, ascending. */
export function attestedPcrIndices(evidence: AzureCvmEvidence): number[] {
  const bank = evidence.quote.attest.pcrSelect.find((b) => b.hashAlg === TPM_ALG.sha256);
  return bank ? [...bank.pcrs] : [];
}

/**
 * The claims the vTPM evidence itself carries, with MAA's names: `x-ms-runtime` is the HCL
 * variable data as issued (`keys` as JWKs with `kid` — HCLAkPub, HCLEkPub —, `vm-configuration`,
 * `user-data`), and `x-ms-azurevm-attested-pcrs` the quoted SHA-256 PCR indices. In an MAA token
 * this runtime object sits under `x-ms-isolation-tee` (the top-level `x-ms-runtime` there is the
 * client's own runtime data); {@link azureCvmClaims} puts it there.
 */
export function azureRuntimeClaims(evidence: AzureCvmEvidence): Claims {
  return {
    [CLAIM.runtime]: evidence.hcl.runtime as { readonly [name: string]: ClaimValue },
    [CLAIM.attestedPcrs]: attestedPcrIndices(evidence),
  };
}

function withoutType(claims: Claims): Claims {
  const out: Record<string, ClaimValue> = {};
  for (const [name, value] of Object.entries(claims))
    if (name !== CLAIM.attestationType && name !== CLAIM.isolationTee) out[name] = value;
  return out;
}

/** Options for {@link azureCvmClaims}. */
export interface AzureCvmClaimsOptions {
  /** The workload's runtime data (e.g. `{ keys: [...] }` from the evidence envelope), as top-level `x-ms-runtime`. */
  readonly clientRuntime?: Claims;
}

/**
 * The claims of verified Azure CVM evidence in the shape of an MAA `azurevm` token:
 * `x-ms-attestation-type` = `azurevm`, `x-ms-azurevm-attested-pcrs`, and under `x-ms-isolation-tee`
 * the SNP report's `x-ms-sevsnpvm-*` claims (from the SNP verifier), its `x-ms-attestation-type` =
 * `sevsnpvm` and the HCL `x-ms-runtime`. MAA's own judgements (`x-ms-compliance-status`, the
 * event-log claims such as `secureboot`) are not invented here.
 */
export function azureCvmClaims(
  runtimeClaims: Claims,
  snpClaims: Claims,
  options: AzureCvmClaimsOptions = {},
): Claims {
  const runtime = runtimeClaims[CLAIM.runtime];
  return {
    [CLAIM.attestationType]: 'azurevm',
    [CLAIM.attestedPcrs]: runtimeClaims[CLAIM.attestedPcrs] ?? [],
    [CLAIM.isolationTee]: {
      ...withoutType(snpClaims),
      [CLAIM.attestationType]: 'sevsnpvm',
      ...(runtime === undefined ? {} : { [CLAIM.runtime]: runtime }),
    },
    ...(options.clientRuntime === undefined ? {} : { [CLAIM.runtime]: options.clientRuntime }),
  };
}
