import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealtrainError } from '../../errors/index.js';
import { SNP_REPORT_BYTES, type SnpCertificates } from '../evidence.js';
import { parseCertTable } from './cert-table.js';

/** What configfs-tsm returned for one request. */
export interface TsmReport {
  readonly provider: string;
  readonly outblob: Uint8Array;
  readonly auxblob?: Uint8Array;
}

/** A collected SEV-SNP report and the certificates the host supplied with it. */
export interface SnpCollected {
  readonly report: Buffer;
  readonly certificates: SnpCertificates;
}

/**
 * Checks what configfs-tsm returned and splits the certificate table. No I/O, so it is tested
 * without hardware; {@link collectSnpReport} does the reading.
 */
export function snpFromTsm(tsm: TsmReport): SnpCollected {
  if (tsm.provider !== 'sev_guest')
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `configfs-tsm provider is "${tsm.provider}", not sev_guest; only SEV-SNP is collected this way.`,
      { details: { field: 'provider' } },
    );
  if (tsm.outblob.length !== SNP_REPORT_BYTES)
    throw new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `configfs-tsm returned a ${tsm.outblob.length}-byte report, not ${SNP_REPORT_BYTES}.`,
      { details: { field: 'outblob' } },
    );
  const certificates = tsm.auxblob && tsm.auxblob.length > 0 ? parseCertTable(tsm.auxblob) : {};
  return { report: Buffer.from(tsm.outblob), certificates };
}

/** Options for {@link collectSnpReport}. */
export interface CollectSnpOptions {
  /** configfs-tsm's report folder; default `/sys/kernel/config/tsm/report`. */
  readonly tsmDir?: string;
  /** The VMPL to request the report at (0–3); default 0. */
  readonly privlevel?: number;
}

async function read(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Asks the AMD secure processor for an attestation report over `reportData` (64 bytes) through
 * configfs-tsm (Linux 6.7+): creates an entry, writes `inblob`, reads `outblob` and the host's
 * certificate table `auxblob`, checks the `generation` counter did not move (another writer), and
 * removes the entry.
 */
export async function collectSnpReport(
  reportData: Uint8Array,
  options: CollectSnpOptions = {},
): Promise<SnpCollected> {
  if (reportData.length !== 64) throw new RangeError('report data must be 64 bytes');
  const base = options.tsmDir ?? '/sys/kernel/config/tsm/report';
  const entry = join(base, `sealtrain-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fail = (what: string, cause: unknown) =>
    new SealtrainError(
      'ERR_ATTEST_COLLECT_FAILED',
      `Cannot ${what} in ${entry}: ${(cause as Error).message ?? cause}`,
      {
        cause,
        details: { device: entry },
      },
    );
  try {
    await mkdir(entry);
  } catch (cause) {
    throw fail('create a configfs-tsm report entry', cause);
  }
  try {
    if (options.privlevel !== undefined) await writeFile(join(entry, 'privlevel'), `${options.privlevel}\n`);
    await writeFile(join(entry, 'inblob'), reportData);
    const before = (await read(join(entry, 'generation')))?.toString().trim();
    const outblob = await readFile(join(entry, 'outblob'));
    const auxblob = await read(join(entry, 'auxblob'));
    const after = (await read(join(entry, 'generation')))?.toString().trim();
    if (before !== after) throw new Error('the entry was changed by another writer during collection');
    const provider = ((await read(join(entry, 'provider')))?.toString() ?? '').trim();
    return snpFromTsm({ provider, outblob, ...(auxblob ? { auxblob } : {}) });
  } catch (cause) {
    if (cause instanceof SealtrainError) throw cause;
    throw fail('read an SEV-SNP report', cause);
  } finally {
    await rmdir(entry).catch(() => undefined);
  }
}
