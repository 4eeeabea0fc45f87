import type { X509Certificate } from 'node:crypto';
import { type Check, CheckList } from '../check.js';
import type { Claims } from '../claims.js';
import type { SnpCertificates } from '../evidence.js';
import { AMD_ROOTS, type SnpRootSet } from './amd-roots.js';
import { snpClaims } from './claims.js';
import { encodeSnpReport } from './encode-report.js';
import { type AmdExtensions, amdExtensions } from './internal/amd-extensions.js';
import { findVcek, givenCertificates } from './internal/certs.js';
import { checkChain, checkValidity } from './internal/chain.js';
import { checkChipId, checkCspId, checkSignature, checkTcb } from './internal/report-checks.js';
import type { SnpFetcher } from './kds.js';
import { parseSnpReport, type SnpReport } from './report.js';
import { productFromCpuid, productFromName, type SnpProduct } from './tcb.js';

/** Options for {@link verifySnpReport}. Defaults are safe: pinned AMD roots, the system clock, no network. */
export interface SnpVerifyOptions {
  /** The clock for certificate validity; defaults to now. */
  readonly now?: Date;
  /** Trust roots per product line; replaces {@link AMD_ROOTS} entirely when given. */
  readonly roots?: Partial<Record<SnpProduct, SnpRootSet>>;
  /** Certificates that came with the evidence (PEM or DER). ARK, ASK and ASVK default to the roots. */
  readonly certificates?: SnpCertificates;
  /** A folder to look the VCEK up in, read-only (layout: see `vcekCachePath`). */
  readonly certCache?: string;
  /** Fetches a missing VCEK (e.g. `kdsFetch`). Without it nothing is fetched. */
  readonly fetcher?: SnpFetcher;
  /** The product line, when the report and certificate cannot tell (version-2 reports). */
  readonly product?: SnpProduct;
}

/** What {@link verifySnpReport} found. */
export interface SnpVerifyResult {
  /** Every check made, passed or failed. */
  readonly checks: Check[];
  /** The report, with its TCB fields decoded for the resolved product line. */
  readonly report: SnpReport;
  /** The product line, or `undefined` when it could not be determined (`snp.product` fails). */
  readonly product: SnpProduct | undefined;
  /** Which key signed the report, from SIGNING_KEY (`vcek` when the field is invalid; `snp.signer` fails). */
  readonly signer: 'vcek' | 'vlek';
  /** The report as MAA-named claims. */
  readonly claims: Claims;
}

function signerOf(report: SnpReport, list: CheckList): 'vcek' | 'vlek' {
  const key = report.keyInfo.signingKey;
  if (key === 0 || key === 1) {
    const name = key === 0 ? 'vcek' : 'vlek';
    list.pass('snp.signer', `SIGNING_KEY is ${key}: the report is signed by the ${name.toUpperCase()}.`);
    return name;
  }
  list.fail('snp.signer', `SIGNING_KEY is ${key}; only 0 (VCEK) and 1 (VLEK) are signed reports.`);
  return 'vcek';
}

function resolveProduct(
  list: CheckList,
  option: SnpProduct | undefined,
  ext: AmdExtensions | undefined,
  report: SnpReport,
): SnpProduct | undefined {
  const sources: [string, SnpProduct | undefined][] = [
    ['options.product', option],
    [
      'the certificate productName',
      ext?.productName === undefined ? undefined : productFromName(ext.productName),
    ],
    ['the report CPUID', report.cpuid && productFromCpuid(report.cpuid.family, report.cpuid.model)],
  ];
  const known = sources.filter((s): s is [string, SnpProduct] => s[1] !== undefined);
  const first = known[0];
  if (first === undefined) {
    list.fail(
      'snp.product',
      'The product line is unknown: pass options.product or the VCEK/VLEK certificate.',
    );
    return undefined;
  }
  const clash = known.find(([, p]) => p !== first[1]);
  list.add(
    'snp.product',
    clash === undefined,
    clash === undefined
      ? `The product line is ${first[1]} (from ${known.map(([s]) => s).join(', ')}).`
      : `${first[0]} says ${first[1]} but ${clash[0]} says ${clash[1]}.`,
  );
  return first[1];
}

/**
 * Verifies an SEV-SNP attestation report: its signature by the VCEK or VLEK, the chain from that
 * key to a pinned AMD root (ARK → ASK/ASVK → VCEK/VLEK), certificate validity against `now`, the
 * reported TCB against the certificate's TCB, CHIP_ID against the VCEK hwID and a VLEK's CSP id.
 * Every check runs and is returned; a failed check is not thrown. Malformed input (report bytes,
 * a supplied certificate that is not one) is `ERR_ATTEST_MALFORMED`; versions outside 2–5 are
 * `ERR_ATTEST_UNSUPPORTED`. Use `validateSnpReport` next to check fields against a policy.
 */
export async function verifySnpReport(
  input: Uint8Array | SnpReport,
  options: SnpVerifyOptions = {},
): Promise<SnpVerifyResult> {
  const bytes = input instanceof Uint8Array ? input : encodeSnpReport(input);
  const optionProduct = options.product === undefined ? {} : { product: options.product };
  let report = parseSnpReport(bytes, optionProduct);
  const given = givenCertificates(options.certificates);
  const list = new CheckList();
  const signer = signerOf(report, list);
  let leaf: X509Certificate | undefined = given[signer];
  let problem: string | undefined;
  if (leaf === undefined && signer === 'vlek')
    problem =
      'No VLEK certificate: pass it as certificates.vlek (the host returns it with the extended report).';
  else if (leaf === undefined) {
    const found = await findVcek(report, options.product ?? report.product, options);
    if ('cert' in found) leaf = found.cert;
    else problem = found.problem;
  }
  const ext = leaf === undefined ? undefined : amdExtensions(leaf.raw);
  const product = resolveProduct(list, options.product, ext, report);
  if (product !== undefined && product !== report.product) report = parseSnpReport(bytes, { product });
  const roots = options.roots ?? AMD_ROOTS;
  const used = checkChain(list, {
    product,
    roots,
    signer,
    leaf,
    ask: signer === 'vcek' ? given.ask : given.asvk,
    ark: given.ark,
  });
  if (problem !== undefined) list.fail(`snp.chain.${signer}`, problem);
  checkValidity(list, used, options.now ?? new Date());
  checkSignature(list, bytes, report, leaf);
  if (ext !== undefined) {
    checkTcb(list, report, product, ext);
    if (signer === 'vcek') checkChipId(list, report, ext);
    else checkCspId(list, ext);
  }
  return { checks: [...list.all], report, product, signer, claims: snpClaims(report, product) };
}
