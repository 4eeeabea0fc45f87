import { SealtrainError } from '../../errors/index.js';
import type { Role } from '../state/state-model.js';

/** Every operation the broker authorises, named as the audit log records it. */
export type BrokerOperation =
  | 'keys.create'
  | 'keys.rotate'
  | 'keys.get'
  | 'keys.list'
  | 'keys.update'
  | 'keys.wrap'
  | 'keys.unwrap'
  | 'keys.release'
  | 'attest.nonce'
  | 'attest.evidence'
  | 'metrics';

/**
 * Who may do what. Owners manage keys and use them to wrap and unwrap; workloads attest, read
 * public keys and ask for release. Nobody else may do anything.
 */
export const PERMISSIONS: Readonly<Record<Role, readonly BrokerOperation[]>> = {
  owner: [
    'keys.create',
    'keys.rotate',
    'keys.get',
    'keys.list',
    'keys.update',
    'keys.wrap',
    'keys.unwrap',
    'attest.nonce',
    'attest.evidence',
    'metrics',
  ],
  workload: ['keys.get', 'keys.release', 'attest.nonce', 'attest.evidence'],
};

/** Throws `ERR_BROKER_AUTH` (reason `forbidden`) unless `role` may perform `operation`. */
export function authorize(principal: { name: string; role: Role }, operation: BrokerOperation): void {
  if (PERMISSIONS[principal.role].includes(operation)) return;
  throw new SealtrainError(
    'ERR_BROKER_AUTH',
    `Principal "${principal.name}" (${principal.role}) may not perform ${operation}.`,
    { details: { reason: 'forbidden', operation } },
  );
}
