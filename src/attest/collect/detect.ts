import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The trusted execution environments sealtrain knows. */
export type TeePlatform = 'sevsnp' | 'azure-cvm' | 'tdx' | 'none';

/** What {@link detectTee} found. */
export interface TeeDetection {
  /** The platform evidence would come from. */
  readonly platform: TeePlatform;
  /** Whether sealtrain can collect evidence on it (TDX is detected but not yet supported). */
  readonly supported: boolean;
  /** The collection path: `configfs-tsm`, `sev-guest`, `vtpm`, or none. */
  readonly via: 'configfs-tsm' | 'sev-guest' | 'vtpm' | 'none';
  /** Every file that led to the answer, for people reading `attest detect`. */
  readonly signals: readonly string[];
  /** One sentence for people. */
  readonly summary: string;
}

/** Options for {@link detectTee}. */
export interface DetectOptions {
  /** A folder standing in for `/` (tests); default `/`. */
  readonly root?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function text(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return '';
  }
}

/**
 * Looks for a TEE the way the kernel exposes one, without changing anything:
 * an SEV-SNP guest (`/dev/sev-guest`, configfs-tsm at `/sys/kernel/config/tsm/report`), an Azure
 * confidential VM (a vTPM at `/dev/tpmrm0` in a Microsoft Hyper-V guest; the HCL report is confirmed
 * at collection), and TDX (`/dev/tdx_guest`, reported as not yet supported).
 */
export async function detectTee(options: DetectOptions = {}): Promise<TeeDetection> {
  const root = options.root ?? '/';
  const at = (p: string) => join(root, p);
  const signals: string[] = [];
  const found = async (p: string): Promise<boolean> => {
    const present = await exists(at(p));
    if (present) signals.push(p);
    return present;
  };
  const tsm = await found('sys/kernel/config/tsm/report');
  if (await found('dev/tdx_guest'))
    return {
      platform: 'tdx',
      supported: false,
      via: 'none',
      signals,
      summary: 'Intel TDX guest found; TDX evidence is not yet supported by sealtrain.',
    };
  if (await found('dev/sev-guest'))
    return {
      platform: 'sevsnp',
      supported: tsm,
      via: tsm ? 'configfs-tsm' : 'sev-guest',
      signals,
      summary: tsm
        ? 'AMD SEV-SNP guest; evidence through configfs-tsm.'
        : 'AMD SEV-SNP guest, but configfs-tsm is missing: sealtrain collects through configfs-tsm (Linux 6.7 or later, with configfs mounted).',
    };
  const vendor = await text(at('sys/class/dmi/id/sys_vendor'));
  const hyperV = vendor === 'Microsoft Corporation';
  if (hyperV) signals.push(`sys/class/dmi/id/sys_vendor = ${vendor}`);
  if (hyperV && (await found('dev/tpmrm0')))
    return {
      platform: 'azure-cvm',
      supported: true,
      via: 'vtpm',
      signals,
      summary:
        'Hyper-V guest with a vTPM: an Azure confidential VM if its HCL report (NV index 0x01400001) can be read.',
    };
  return {
    platform: 'none',
    supported: false,
    via: 'none',
    signals,
    summary:
      'No trusted execution environment found. For development, `sim` evidence is available with --sim (insecure).',
  };
}
