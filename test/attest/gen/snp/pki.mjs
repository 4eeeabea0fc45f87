// AMD-like test PKI for the SEV-SNP vectors: RSA ARK/ASK/ASVK signing with RSA-PSS SHA-384 and
// EC P-384 VCEK/VLEK certificates carrying AMD's extensions (AMD VCEK certificate spec 57230).
// Certificates are built with @peculiar/asn1-x509 and signed with node:crypto. Test keys only.
import { constants, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Extension,
  Extensions,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Time,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

// RSASSA-PSS parameters: SHA-384, MGF1 with SHA-384, salt length 48, trailer 1 (as AMD's certificates use).
const PSS_PARAMS = Buffer.from(
  '3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130a303020101',
  'hex',
);
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const ARC = '1.3.6.1.4.1.3704.1';

const ab = (buf) => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);

function name(cn) {
  const rdn = (type, value) =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) }),
    ]);
  return new Name([
    rdn('2.5.4.11', 'Engineering'),
    rdn('2.5.4.10', 'sealtrain test vectors (not AMD)'),
    rdn('2.5.4.3', cn),
  ]);
}

const derInteger = (n) => Buffer.from(n < 0x80 ? [0x02, 1, n] : [0x02, 2, 0, n]);
const derIa5 = (s) => Buffer.concat([Buffer.from([0x16, s.length]), Buffer.from(s, 'latin1')]);
const ext = (oid, value) =>
  new Extension({ extnID: oid, critical: false, extnValue: new OctetString(ab(value)) });

/** AMD's VCEK/VLEK extensions: productName, TCB SPLs, hwID (VCEK) or cspId (VLEK). */
export function amdExtensions({ productName, tcb, hwid, cspId }) {
  const out = [ext(`${ARC}.1`, derInteger(1)), ext(`${ARC}.2`, derIa5(productName))];
  const oids = { bootloader: '3.1', tee: '3.2', snp: '3.3', microcode: '3.8', fmc: '3.9' };
  for (const [c, v] of Object.entries(tcb))
    if (v !== undefined) out.push(ext(`${ARC}.${oids[c]}`, derInteger(v)));
  if (hwid !== undefined) out.push(ext(`${ARC}.4`, Buffer.from(hwid, 'hex')));
  if (cspId !== undefined) out.push(ext(`${ARC}.5`, derIa5(cspId)));
  return out;
}

let serial = 1;

/** Issues a certificate for `publicKey` named `cn`, signed with RSA-PSS SHA-384 by `issuer` ({cn, privateKey}). */
export function issue({ cn, publicKey, issuer, notBefore, notAfter, extensions = [] }) {
  const sigAlg = new AlgorithmIdentifier({ algorithm: RSASSA_PSS, parameters: ab(PSS_PARAMS) });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(Buffer.from([serial++])),
    signature: sigAlg,
    issuer: name(issuer.cn),
    validity: new Validity({ notBefore: new Time(notBefore), notAfter: new Time(notAfter) }),
    subject: name(cn),
    subjectPublicKeyInfo: AsnConvert.parse(
      publicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    ),
    ...(extensions.length > 0 ? { extensions: new Extensions(extensions) } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha384', tbsDer, {
    key: issuer.privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 48,
  });
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: sigAlg,
    signatureValue: ab(signature),
  });
  return new X509Certificate(Buffer.from(AsnConvert.serialize(cert))).toString();
}

/** A signing authority: a name and an RSA key pair. */
export function rsaAuthority(cn) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { cn, publicKey, privateKey };
}

/** An EC P-384 key pair (VCEK or VLEK). */
export const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' });

/** A self-signed ARK and its ASK and ASVK for one product line. */
export function rootSet(product, validity) {
  const ark = rsaAuthority(`ARK-${product}`);
  const ask = rsaAuthority(`SEV-${product}`);
  const asvk = rsaAuthority(`SEV-VLEK-${product}`);
  const pem = {
    ark: issue({ cn: ark.cn, publicKey: ark.publicKey, issuer: ark, ...validity }),
    ask: issue({ cn: ask.cn, publicKey: ask.publicKey, issuer: ark, ...validity }),
    asvk: issue({ cn: asvk.cn, publicKey: asvk.publicKey, issuer: ark, ...validity }),
  };
  return { ark, ask, asvk, pem };
}

/**
 * Signs SEV-SNP report bytes in place, as the VCEK/VLEK does: ECDSA P-384 SHA-384 over bytes
 * 0x000–0x29F, R and S little-endian, each in a 72-byte field at 0x2A0. Returns `b`.
 */
export function signSnpReport(b, privateKey) {
  const sig = sign('sha384', b.subarray(0, 0x2a0), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const le = (x) => Buffer.concat([Buffer.from(x).reverse(), Buffer.alloc(24)]);
  le(sig.subarray(0, 48)).copy(b, 0x2a0);
  le(sig.subarray(48)).copy(b, 0x2a0 + 72);
  return b;
}

/**
 * A one-product test PKI for end-to-end tests: a fresh root set (`roots`: ARK/ASK/ASVK PEM, the
 * shape of `SnpRootSet`), a VCEK certificate (`vcek`, PEM) under the ASK carrying `productName`,
 * `tcb` and `hwid`, and `sign(reportBytes)`, which signs a report with the VCEK's key.
 */
export function snpTestPki({ product = 'Milan', productName = `${product}-B0`, tcb, hwid, validity }) {
  const roots = rootSet(product, validity);
  const key = ecKey();
  const vcek = issue({
    cn: 'SEV-VCEK',
    publicKey: key.publicKey,
    issuer: roots.ask,
    ...validity,
    extensions: amdExtensions({ productName, tcb, hwid }),
  });
  return { roots: roots.pem, vcek, sign: (b) => signSnpReport(b, key.privateKey) };
}
