import { type KeyObject, sign } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { SimEvidenceBody } from '../evidence.js';
import { hexOf, malformedSim, type SimPayload, simKeyId } from './internal/payload.js';

/** Simulated evidence: `{ payload: base64 JSON, signature: base64 Ed25519 }` (the envelope's `sim`). */
export type SimEvidence = SimEvidenceBody;

/** What every simulated payload says about itself, in its `insecure` field. */
export const SIM_INSECURE_NOTICE = 'simulated TEE, no hardware protection';

/**
 * The measurement simulated evidence reports when none is given: SHA-384 of the ASCII text
 * `sealtrain simulated TEE: insecure, no hardware measurement`. It matches no real launch digest.
 */
export const SIM_DEFAULT_MEASUREMENT =
  'a7c52924431cbfd03eaedf63459baf00feee73cd2c2fee59f2499431b9b246e4763003aa35aa082b961727d9ba1016e0';

/** What {@link createSimEvidence} attests to. */
export interface SimEvidenceInput {
  /** Exactly 64 bytes, as SEV-SNP report data (see `reportDataFor` in `../binding.ts`). */
  readonly reportData: Uint8Array;
  /** 48 bytes of hex; default {@link SIM_DEFAULT_MEASUREMENT}. */
  readonly measurement?: string;
}

/** Options for {@link createSimEvidence}. */
export interface CreateSimEvidenceOptions {
  /** The Ed25519 `sim` key (see `loadOrCreateSimKey`). */
  readonly privateKey: KeyObject;
  /** The creation time written into the payload; default: the current time. */
  readonly now?: Date;
}

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `createSimEvidence: ${field} ${reason}.`, {
    details: { field },
  });
}

/**
 * Makes simulated evidence for development: a JSON payload (`sealtrain-sim` 1, the `insecure`
 * notice, report data, measurement, debug off, VMPL 0, creation time, key id) signed with Ed25519.
 * INSECURE: anyone with the key file can make it say anything; it proves no hardware isolation.
 * Throws `ERR_ATTEST_MALFORMED` for bad report data or measurement, `ERR_USAGE_INVALID` for a key
 * that is not a private Ed25519 key or an invalid `now`.
 */
export function createSimEvidence(input: SimEvidenceInput, options: CreateSimEvidenceOptions): SimEvidence {
  const { privateKey } = options;
  if (!(input.reportData instanceof Uint8Array) || input.reportData.length !== 64)
    throw malformedSim('reportData', 'must be exactly 64 bytes');
  const measurement = hexOf(input.measurement ?? SIM_DEFAULT_MEASUREMENT, 48);
  if (measurement === undefined) throw malformedSim('measurement', 'must be 48 bytes of hex (96 digits)');
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw usage('privateKey', 'is not a private Ed25519 key');
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw usage('now', 'is not a valid Date');
  const payload: SimPayload = {
    'sealtrain-sim': 1,
    insecure: SIM_INSECURE_NOTICE,
    reportData: Buffer.from(input.reportData).toString('hex'),
    measurement,
    debug: false,
    vmpl: 0,
    createdAt: now.toISOString(),
    keyId: simKeyId(privateKey),
  };
  const bytes = Buffer.from(JSON.stringify(payload));
  return { payload: bytes.toString('base64'), signature: sign(null, bytes, privateKey).toString('base64') };
}
