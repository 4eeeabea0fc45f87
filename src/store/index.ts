/**
 * Where sealtrain's files live. For now: crash-safe local writes that every capability uses
 * for keyrings, logs and sealed artifacts.
 *
 * @module
 */

export type {
  ArtifactMetadata,
  ArtifactStat,
  ArtifactStore,
  ArtifactWriter,
  PutOptions,
  PutResult,
} from './artifact-store.js';
export type { AtomicWriteOptions } from './atomic-file.js';
export {
  AtomicFile,
  assertAbsent,
  registerSetAside,
  registerTempDir,
  registerTempFile,
  removePendingTempFiles,
  syncDir,
  writeFileAtomic,
} from './atomic-file.js';
export { BlobStore, type BlobStoreOptions } from './blob-store.js';
export type { FileLockOptions } from './file-lock.js';
export { withFileLock } from './file-lock.js';
export { fileStamp } from './file-stamp.js';
export { type AzUri, formatAzUri, parseAzUri } from './internal/az-uri.js';
export { LocalFolderStore } from './local-folder-store.js';
export { openRegular, READ_NONBLOCK } from './open-regular.js';
export {
  type ProgressWatch,
  prefixOfPieces,
  type ReadIntoOptions,
  readFileInto,
  readWholeFile,
} from './read-whole-file.js';
