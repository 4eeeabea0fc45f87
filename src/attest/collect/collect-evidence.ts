import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { collectAzureCvmEvidence } from '../azure-cvm/index.js';
import { reportDataFor, runtimeBinding } from '../binding.js';
import type { EvidenceEnvelope } from '../evidence.js';
import { createSimEvidence } from '../sim/index.js';
import { type FetchAzureVcekOptions, fetchAzureVcek } from './azure-thim.js';
import { collectSnpReport } from './collect-snp.js';
import { detectTee, type TeeDetection } from './detect.js';

/** Options for {@link collectEvidence}. */
export interface CollectEvidenceOptions {
  /** The verifier's challenge, 1 to 64 bytes. */
  readonly nonce: Uint8Array;
  /** The workload's ephemeral public key, bound into the evidence with the nonce. */
  readonly runtimeKey?: KeyObject;
  /** Use the simulated TEE with this signing key, even when hardware is present. Insecure. */
  readonly sim?: { readonly privateKey: KeyObject };
  /** Where to look for devices (tests); default the machine itself. */
  readonly root?: string;
  /** configfs-tsm report folder (default `/sys/kernel/config/tsm/report`). */
  readonly tsmDir?: string;
  /** TPM transport for tpm2-tools on an Azure CVM, e.g. `device:/dev/tpmrm0` (the default). */
  readonly tcti?: string;
  /** Azure CVM: where to get the VCEK (Azure's THIM endpoint by default), or `false` to leave it out. */
  readonly thim?: FetchAzureVcekOptions | false;
  /** The clock; default now. */
  readonly now?: Date;
}

function publicJwk(key: KeyObject): JsonWebKey {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return { ...pub.export({ format: 'jwk' }), kid: 'runtime' };
}

function noTee(detection: TeeDetection): SealtrainError {
  if (detection.platform === 'tdx')
    return new SealtrainError('ERR_ATTEST_UNSUPPORTED', detection.summary, { details: { platform: 'tdx' } });
  if (detection.platform === 'none')
    return new SealtrainError(
      'ERR_ATTEST_NO_TEE',
      'No trusted execution environment found on this machine. For development only, pass --sim (insecure simulated evidence).',
      { details: { platform: 'none' } },
    );
  return new SealtrainError('ERR_ATTEST_COLLECT_FAILED', detection.summary, {
    details: { platform: detection.platform },
  });
}

/**
 * Collects evidence bound to `nonce` (and the runtime key) from the TEE this machine runs in, as a
 * version-1 envelope (docs/spec/evidence-v1.md). Simulated evidence only when `sim` is given.
 */
export async function collectEvidence(options: CollectEvidenceOptions): Promise<EvidenceEnvelope> {
  const { nonce, runtimeKey } = options;
  const head = {
    'sealtrain-evidence': 1 as const,
    createdAt: (options.now ?? new Date()).toISOString(),
    nonce: Buffer.from(nonce).toString('base64url'),
    ...(runtimeKey ? { runtime: { keys: [publicJwk(runtimeKey)] } } : {}),
  };
  if (options.sim) {
    const sim = createSimEvidence(
      { reportData: reportDataFor(nonce, runtimeKey) },
      { privateKey: options.sim.privateKey, ...(options.now ? { now: options.now } : {}) },
    );
    return { ...head, kind: 'sim', sim };
  }
  const detection = await detectTee(options.root ? { root: options.root } : {});
  if (!detection.supported) throw noTee(detection);
  if (detection.platform === 'sevsnp') {
    const snp = await collectSnpReport(reportDataFor(nonce, runtimeKey), {
      ...(options.tsmDir ? { tsmDir: options.tsmDir } : {}),
    });
    const certificates = Object.fromEntries(
      Object.entries(snp.certificates).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : Buffer.from(v).toString(),
      ]),
    );
    return { ...head, kind: 'sevsnp', sevsnp: { report: snp.report.toString('base64'), certificates } };
  }
  const vcek = options.thim === false ? undefined : await fetchAzureVcek(options.thim ?? {});
  const azure = await collectAzureCvmEvidence(runtimeBinding(nonce, runtimeKey), {
    ...(options.tcti ? { tcti: options.tcti } : {}),
    ...(vcek ? { vcek } : {}),
  });
  return { ...head, kind: 'azure-cvm', 'azure-cvm': azure as unknown as Record<string, unknown> };
}
