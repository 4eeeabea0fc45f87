/**
 * The audit event shape key providers report into. Defined once, in `audit/`; re-exported here
 * as types only, so `kms` has no run-time dependency on the audit log.
 */
export type { AuditEvent, AuditSink } from '../audit/index.js';
