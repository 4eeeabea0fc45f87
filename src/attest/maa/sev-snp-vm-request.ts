import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { SnpCertificates } from '../evidence.js';
import { AMD_ROOTS } from '../snp/amd-roots.js';
import { givenCertificate } from '../snp/internal/certs.js';
import { parseSnpReport } from '../snp/report.js';

/** The MAA REST API version sealtrain speaks (`POST /attest/SevSnpVm?api-version=…`). */
export const MAA_API_VERSION = '2022-08-01';

/** The kid sealtrain gives its runtime key in MAA runtime data. */
export const MAA_RUNTIME_KID = 'runtime';

/**
 * What an SEV-SNP guest sends to MAA for one attestation: the runtime data (JSON that MAA copies
 * into the token as `x-ms-runtime`) and the report data that binds it (SHA-256 of those exact
 * bytes, then 32 zero bytes: MAA checks the first 32 bytes of REPORT_DATA).
 */
export interface MaaRuntimeData {
  /** The UTF-8 JSON bytes sent as `runtimeData.data`. */
  readonly json: Buffer;
  /** The 64 bytes to request the SEV-SNP report over. */
  readonly reportData: Buffer;
}

/**
 * Runtime data for an RSA runtime key (the key Key Vault wraps released keys for) and a fresh
 * nonce: `{ keys: [{ kid: 'runtime', key_ops: ['encrypt'], kty, n, e }], 'client-payload': { nonce } }`,
 * the nonce as standard base64, as MAA carries a client's nonce.
 */
export function maaRuntimeData(runtimeKey: KeyObject, nonce: Uint8Array): MaaRuntimeData {
  const pub = runtimeKey.type === 'private' ? createPublicKey(runtimeKey) : runtimeKey;
  if (pub.asymmetricKeyType !== 'rsa')
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `MAA runtime data carries an RSA key (Key Vault wraps for RSA), not ${pub.asymmetricKeyType ?? 'unknown'}.`,
      { details: { field: 'runtimeKey' } },
    );
  const { n, e, kty } = pub.export({ format: 'jwk' });
  const json = Buffer.from(
    JSON.stringify({
      keys: [{ kid: MAA_RUNTIME_KID, key_ops: ['encrypt'], kty, n, e }],
      'client-payload': { nonce: Buffer.from(nonce).toString('base64') },
    }),
  );
  const reportData = Buffer.alloc(64);
  createHash('sha256').update(json).digest().copy(reportData);
  return { json, reportData };
}

const pem = (value: string | Uint8Array, name: string): string =>
  givenCertificate(value, `certificates.${name}`).toString().trim();

/**
 * The chain MAA wants beside the report, as PEM: the VCEK (or VLEK) the host supplied, then the
 * ASK (or ASVK) and ARK, from the host when it sent them and otherwise sealtrain's pinned AMD
 * roots for the report's product line.
 */
export function maaCertChain(report: Uint8Array, certificates: SnpCertificates): string {
  const leafName = certificates.vlek !== undefined ? 'vlek' : 'vcek';
  const leaf = certificates[leafName];
  if (leaf === undefined)
    throw new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      'The host supplied no VCEK with the SEV-SNP report (configfs-tsm auxblob), and MAA needs it; ask the host to provide the extended report certificates.',
      { details: { field: 'certificates.vcek' } },
    );
  const parsed = parseSnpReport(report);
  const roots = parsed.product === undefined ? undefined : AMD_ROOTS[parsed.product];
  const signerName = leafName === 'vlek' ? 'asvk' : 'ask';
  const signer = certificates[signerName] ?? roots?.[signerName];
  const ark = certificates.ark ?? roots?.ark;
  if (signer === undefined || ark === undefined)
    throw new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `The report names no known product line and the host sent no ${signerName.toUpperCase()} and ARK, so the chain for MAA cannot be completed.`,
      { details: { field: `certificates.${signerName}` } },
    );
  return `${[pem(leaf, leafName), pem(signer, signerName), pem(ark, 'ark')].join('\n')}\n`;
}

/**
 * The body of `POST {maa}/attest/SevSnpVm`: `report` is base64url JSON of `SnpReport` (the report,
 * base64url), `VcekCertChain` (the PEM chain, base64url) and empty `Endorsements`; `runtimeData`
 * is the JSON runtime data, base64url, typed `JSON`.
 */
export function maaSevSnpVmBody(
  report: Uint8Array,
  certChainPem: string,
  runtimeJson: Uint8Array,
): Record<string, unknown> {
  const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
  const inner = {
    SnpReport: b64url(report),
    VcekCertChain: b64url(certChainPem),
    Endorsements: b64url(JSON.stringify({})),
  };
  return {
    report: b64url(JSON.stringify(inner)),
    runtimeData: { data: b64url(runtimeJson), dataType: 'JSON' },
  };
}
