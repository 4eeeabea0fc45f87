import { z } from 'zod';
import { SealtrainError } from '../errors/index.js';

const hex = (bytes: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes} bytes of hexadecimal`)
    .transform((s) => s.toLowerCase());
const svn = z.number().int().min(0).max(255);

/** The SEV-SNP part of a policy; an absent field is not checked (see {@link AttestationPolicy}). */
export const snpPolicySchema = z.strictObject({
  debug: z.boolean().optional(),
  migrationAgent: z.boolean().optional(),
  smt: z.boolean().optional(),
  vmpl: z.number().int().min(0).max(3).optional(),
  minTcb: z
    .strictObject({
      bootloader: svn.optional(),
      tee: svn.optional(),
      snp: svn.optional(),
      microcode: svn.optional(),
      fmc: svn.optional(),
    })
    .optional(),
  permitProvisionalFirmware: z.boolean().optional(),
  measurements: z.array(hex(48)).min(1).optional(),
  hostData: hex(32).optional(),
  reportData: hex(64).optional(),
  familyId: hex(16).optional(),
  imageId: hex(16).optional(),
  minGuestSvn: z.number().int().min(0).max(0xffffffff).optional(),
  idKeyDigests: z.array(hex(48)).min(1).optional(),
  authorKeyDigests: z.array(hex(48)).min(1).optional(),
  minReportVersion: z.number().int().min(2).max(5).optional(),
  signer: z.enum(['vcek', 'vlek']).optional(),
});

/**
 * An attestation policy: what evidence must show once its signatures verify. Every field is
 * optional and an absent field is not checked, except `allowSim`, which defaults to false so that
 * simulated evidence is refused unless a policy says otherwise.
 */
export const attestationPolicySchema = z.strictObject({
  version: z.literal(1),
  allowSim: z.boolean().default(false),
  snp: snpPolicySchema.optional(),
  pcrs: z
    .record(z.string().regex(/^(?:[0-9]|1[0-9]|2[0-3])$/, 'must be a PCR index 0 to 23'), hex(32))
    .optional(),
  maa: z.strictObject({ issuers: z.array(z.url({ protocol: /^https$/ })).min(1) }).optional(),
  sim: z.strictObject({ measurements: z.array(hex(48)).min(1).optional() }).optional(),
});

/** A validated attestation policy (the parsed form of `--policy p.json`). */
export type AttestationPolicy = z.output<typeof attestationPolicySchema>;

/** The policy used when none is given: real hardware only, debug and migration agent off. */
export const DEFAULT_POLICY: AttestationPolicy = Object.freeze({
  version: 1,
  allowSim: false,
  snp: Object.freeze({ debug: false, migrationAgent: false }),
}) as AttestationPolicy;

/**
 * Validates a policy object. Unknown fields, wrong types and bad hex are refused with
 * `ERR_ATTEST_POLICY_INVALID` naming every offending path, e.g. `snp.minTcb.microcode`.
 */
export function parseAttestationPolicy(value: unknown, source = 'policy'): AttestationPolicy {
  const result = attestationPolicySchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
  throw new SealtrainError(
    'ERR_ATTEST_POLICY_INVALID',
    `Attestation policy ${source} is invalid: ${problems.join('; ')}.`,
    { details: { source, problems } },
  );
}
