/**
 * Where sealtrain's files live. For now: crash-safe local writes that every capability uses
 * for keyrings, logs and sealed artifacts.
 *
 * @module
 */
export type { AtomicWriteOptions } from './atomic-file.js';
export {
  AtomicFile,
  assertAbsent,
  registerTempFile,
  removePendingTempFiles,
  syncDir,
  writeFileAtomic,
} from './atomic-file.js';
export type { FileLockOptions } from './file-lock.js';
export { withFileLock } from './file-lock.js';
