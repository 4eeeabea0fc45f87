import { type Check, CheckList } from './check.js';
import type { Claims } from './claims.js';
import type { AttestationPolicy } from './policy.js';
import { SIM_CLAIM } from './sim/index.js';

/**
 * Validates simulated evidence: `allowSim`, the `sim` measurement allow-list, and the `snp` fields
 * a sim payload can show (debug, VMPL; a sim has no migration agent). Every other `snp` field fails,
 * so a policy that names hardware properties never passes on simulated evidence.
 */
export function validateSim(claims: Claims, policy: AttestationPolicy): Check[] {
  const list = new CheckList();
  list.add(
    'policy.allow-sim',
    policy.allowSim,
    policy.allowSim
      ? 'The policy allows simulated evidence (allowSim): this proves nothing about hardware.'
      : 'Simulated evidence is refused: the policy does not set allowSim (never set it in production).',
  );
  const allowed = policy.sim?.measurements;
  if (allowed !== undefined) {
    const m = claims[SIM_CLAIM.launchMeasurement];
    list.add(
      'policy.measurement',
      typeof m === 'string' && allowed.includes(m),
      `${SIM_CLAIM.launchMeasurement} is ${JSON.stringify(m)}; the policy's sim allow-list has ${allowed.length}.`,
    );
  }
  const { debug, migrationAgent, vmpl, ...hardware } = policy.snp ?? {};
  if (debug !== undefined) {
    const v = claims[SIM_CLAIM.isDebuggable];
    list.add('policy.debug', v === debug, `${SIM_CLAIM.isDebuggable} is ${v}; the policy wants ${debug}.`);
  }
  if (vmpl !== undefined) {
    const v = claims[SIM_CLAIM.vmpl];
    list.add('policy.vmpl', v === vmpl, `${SIM_CLAIM.vmpl} is ${v}; the policy wants ${vmpl}.`);
  }
  if (migrationAgent !== undefined)
    list.add(
      'policy.migration-agent',
      migrationAgent === false,
      `A sim has no migration agent; the policy wants migrationAgent ${migrationAgent}.`,
    );
  for (const field of Object.keys(hardware))
    list.fail(`policy.snp.${field}`, `The policy sets snp.${field}, which simulated evidence cannot show.`);
  return [...list.all];
}
