/**
 * The tamper-evident audit log: one hash-chained JSON line per audited operation, with Ed25519
 * signed heads (`docs/spec/audit-log-v1.md`).
 *
 * {@link AuditLog} appends (it is an {@link AuditSink}); {@link verifyAuditLog} checks a folder and
 * names every edited, deleted, inserted, reordered or truncated entry; {@link readAuditEntries}
 * reads entries for display. The core — {@link appendEntry}, {@link signHead},
 * {@link verifyChain}, {@link canonicalJson} — does no I/O and takes its clock as an option.
 *
 * @module
 */
export type { AuditEvent, AuditSink } from './audit-event.js';
export type { AuditLogOptions } from './audit-log.js';
export { AuditLog } from './audit-log.js';
export { canonicalJson } from './canonical-json.js';
export type { AppendEntryOptions, AppendResult, AuditEntry, ChainState } from './chain.js';
export { appendEntry, assertAuditEvent, entryLine, GENESIS, hashEntry, ZERO_HASH } from './chain.js';
export { type AuditPaths, auditPaths } from './internal/log-files.js';
export { loadOrCreateSigningKey, readPublicKey } from './internal/signing-key.js';
export type { ReadAuditEntriesOptions } from './read-audit-entries.js';
export { readAuditEntries } from './read-audit-entries.js';
export type { AuditProblem, AuditProblemKind, AuditVerifyReport } from './report.js';
export type { SignedHead, SignHeadOptions } from './signed-head.js';
export { headLine, headSignatureValid, keyIdOf, signHead } from './signed-head.js';
export type { VerifyAuditLogOptions } from './verify-audit-log.js';
export { verifyAuditLog } from './verify-audit-log.js';
export type { VerifyChainOptions } from './verify-chain.js';
export { verifyChain } from './verify-chain.js';
