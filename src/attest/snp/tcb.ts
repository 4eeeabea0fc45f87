/** The AMD EPYC product lines whose SEV-SNP reports sealtrain verifies. */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin';

/** Every product line, in release order. */
export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin'];

/** The TCB components that carry a security version number. */
export type TcbComponent = 'bootloader' | 'tee' | 'snp' | 'microcode' | 'fmc';

/**
 * A TCB_VERSION (AMD SEV-SNP ABI 56860, "TCB_VERSION"): a little-endian u64 whose bytes hold the
 * security version of each firmware component. `raw` is authoritative; the named fields are its
 * decoding for one product line, because Turin moved the bytes.
 */
export interface SnpTcb {
  /** The u64 as stored in the report. */
  readonly raw: bigint;
  /** PSP bootloader SVN. */
  readonly bootloader: number;
  /** PSP operating system (TEE) SVN. */
  readonly tee: number;
  /** SNP firmware SVN. */
  readonly snp: number;
  /** Lowest microcode patch level of all cores. */
  readonly microcode: number;
  /** FMC (first mutable code) SVN; Turin only. */
  readonly fmc?: number;
}

/** Byte positions of each component inside the u64, per product line. */
const LAYOUT: Readonly<Record<'milan-genoa' | 'turin', Readonly<Partial<Record<TcbComponent, number>>>>> = {
  // Milan and Genoa: BOOT_LOADER, TEE, 4 reserved bytes, SNP, MICROCODE.
  'milan-genoa': { bootloader: 0, tee: 1, snp: 6, microcode: 7 },
  // Turin: FMC, BOOT_LOADER, TEE, SNP, 3 reserved bytes, MICROCODE.
  turin: { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 },
};

/** The components a product line's TCB carries, in the order AMD's KDS lists them. */
export function tcbComponents(product: SnpProduct | undefined): readonly TcbComponent[] {
  return product === 'Turin'
    ? ['fmc', 'bootloader', 'tee', 'snp', 'microcode']
    : ['bootloader', 'tee', 'snp', 'microcode'];
}

const byteAt = (raw: bigint, at: number): number => Number((raw >> BigInt(at * 8)) & 0xffn);

/**
 * Decodes a raw TCB_VERSION for a product line. Without a product the Milan/Genoa layout is used,
 * which is what version-2 reports (Milan and Genoa only) need.
 */
export function decodeTcb(raw: bigint, product?: SnpProduct): SnpTcb {
  const layout = LAYOUT[product === 'Turin' ? 'turin' : 'milan-genoa'];
  const at = (c: TcbComponent) => byteAt(raw, layout[c] ?? 0);
  const base = {
    raw,
    bootloader: at('bootloader'),
    tee: at('tee'),
    snp: at('snp'),
    microcode: at('microcode'),
  };
  return product === 'Turin' ? { ...base, fmc: at('fmc') } : base;
}

/** Builds a raw TCB_VERSION from component values (reserved bytes zero); the inverse of {@link decodeTcb}. */
export function encodeTcb(parts: Partial<Record<TcbComponent, number>>, product?: SnpProduct): bigint {
  const layout = LAYOUT[product === 'Turin' ? 'turin' : 'milan-genoa'];
  let raw = 0n;
  for (const [name, at] of Object.entries(layout))
    raw |= BigInt((parts[name as TcbComponent] ?? 0) & 0xff) << BigInt(at * 8);
  return raw;
}

/**
 * The product line of a CPUID family/model as reported in version-3+ reports (the combined
 * extended family and model of CPUID Fn0000_0001_EAX): family 19h models 00h–0Fh are Milan,
 * 10h–1Fh and A0h–AFh Genoa (with Bergamo and Siena, which use Genoa keys), family 1Ah models
 * 00h–1Fh Turin. Anything else is `undefined`.
 */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === 0x19 && model <= 0x0f) return 'Milan';
  if (family === 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)))
    return 'Genoa';
  if (family === 0x1a && model <= 0x1f) return 'Turin';
  return undefined;
}

/** The product line named by a VCEK/VLEK productName extension such as `Milan-B0`, or `undefined`. */
export function productFromName(name: string): SnpProduct | undefined {
  const line = name.split('-')[0];
  return SNP_PRODUCTS.find((p) => p === line);
}
