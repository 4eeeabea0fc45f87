import type { X509Certificate } from 'node:crypto';
import type { CheckList } from '../../check.js';
import type { SnpRootSet } from '../amd-roots.js';
import type { SnpProduct } from '../tcb.js';
import { tryCertificate } from './certs.js';

const cn = (name: string): string => /CN=([^\n,]+)/.exec(name)?.[1] ?? name;

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The certificates a chain check works on. */
export interface ChainInput {
  readonly product: SnpProduct | undefined;
  readonly roots: Partial<Record<SnpProduct, SnpRootSet>>;
  readonly signer: 'vcek' | 'vlek';
  readonly leaf: X509Certificate | undefined;
  readonly ask?: X509Certificate | undefined;
  readonly ark?: X509Certificate | undefined;
}

/** Links one certificate to its issuer: names match and the issuer's key verifies the signature. */
function link(list: CheckList, id: string, cert: X509Certificate, issuer: X509Certificate): boolean {
  const named = cert.issuer === issuer.subject;
  const signed = signedBy(cert, issuer);
  return list.add(
    id,
    named && signed,
    named && signed
      ? `${cn(cert.subject)} is issued and signed by ${cn(issuer.subject)}.`
      : `${cn(cert.subject)} is not signed by ${cn(issuer.subject)}: ${named ? 'the signature does not verify' : `its issuer is ${cn(cert.issuer)}`}.`,
  );
}

/**
 * The leaf must be the kind of key SIGNING_KEY names (CN `SEV-VCEK` or `SEV-VLEK`), so a VLEK can
 * never stand in for a VCEK (or the reverse) even where CHIP_ID is masked. Defence in depth: the
 * chain already separates ASK from ASVK.
 */
function checkLeafRole(list: CheckList, signer: 'vcek' | 'vlek', leaf: X509Certificate): void {
  const wanted = signer === 'vcek' ? 'SEV-VCEK' : 'SEV-VLEK';
  const found = cn(leaf.subject);
  list.add(
    'snp.cert.role',
    found === wanted,
    `SIGNING_KEY names the ${signer.toUpperCase()}; the certificate's subject is ${found}${found === wanted ? '' : `, not ${wanted}`}.`,
  );
}

/**
 * Checks ARK → ASK (or ASVK) → VCEK (or VLEK): the ARK must be byte-equal to the pinned root for
 * the product and self-signed; each link must name and be signed (RSA-PSS SHA-384) by the one
 * above. Returns the certificates used, for the validity check. Never throws.
 */
export function checkChain(list: CheckList, input: ChainInput): X509Certificate[] {
  const mid = input.signer === 'vcek' ? 'ask' : 'asvk';
  const set = input.product === undefined ? undefined : input.roots[input.product];
  const pinned = set === undefined ? undefined : tryCertificate(set.ark);
  if (pinned === undefined) {
    list.fail(
      'snp.chain.ark',
      input.product === undefined
        ? 'The product line is unknown, so no pinned AMD root applies.'
        : `No usable pinned ARK for ${input.product} in the trust roots.`,
    );
    return [];
  }
  const ark = input.ark ?? pinned;
  const same = ark.raw.equals(pinned.raw);
  const selfSigned = ark.subject === ark.issuer && signedBy(ark, ark);
  list.add(
    'snp.chain.ark',
    same && selfSigned,
    !same
      ? `The supplied ARK (${cn(ark.subject)}) is not the pinned ${input.product} root.`
      : selfSigned
        ? `The ARK is the pinned ${input.product} root and is self-signed.`
        : `The pinned ${input.product} ARK is not self-signed.`,
  );
  const intermediate = input.ask ?? tryCertificate(set?.[mid] ?? '');
  const used = [pinned];
  if (intermediate === undefined) {
    list.fail(
      `snp.chain.${mid}`,
      `No ${mid.toUpperCase()} for ${input.product}: pass certificates.${mid} or add it to the trust roots.`,
    );
  } else {
    link(list, `snp.chain.${mid}`, intermediate, pinned);
    used.push(intermediate);
  }
  if (input.leaf !== undefined) checkLeafRole(list, input.signer, input.leaf);
  if (input.leaf !== undefined && intermediate !== undefined) {
    link(list, `snp.chain.${input.signer}`, input.leaf, intermediate);
    used.push(input.leaf);
  } else if (input.leaf !== undefined) {
    list.fail(
      `snp.chain.${input.signer}`,
      `The ${input.signer.toUpperCase()} cannot be checked without an ${mid.toUpperCase()}.`,
    );
    used.push(input.leaf);
  }
  return used;
}

/** Checks every certificate's validity period against `now` in one check. */
export function checkValidity(list: CheckList, certs: readonly X509Certificate[], now: Date): void {
  const out = certs.filter((c) => !(new Date(c.validFrom) <= now && now <= new Date(c.validTo)));
  list.add(
    'snp.cert.validity',
    out.length === 0,
    out.length === 0
      ? `${certs.length} certificate(s) are valid at ${now.toISOString()}.`
      : `At ${now.toISOString()}, ${out.map((c) => `${cn(c.subject)} (valid ${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()})`).join(', ')} is not valid.`,
  );
}
