import { createHash, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

/** ecdsa-with-SHA256 (RFC 5758); its AlgorithmIdentifier has no parameters. */
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** Who signs a certificate: its subject name and its private key (ECDSA P-256). */
export interface CertificateIssuer {
  readonly commonName: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Options shared by {@link createCaCertificate} and {@link createServerCertificate}. */
export interface CertificateOptions {
  /** Start of validity; default now. */
  readonly now?: Date;
  /** Days of validity from `now`. */
  readonly days?: number;
  /** Serial number bytes; default 16 random bytes. */
  readonly serial?: Uint8Array;
}

const ORGANIZATION = 'sealtrain key broker';
const DAY_MS = 86_400_000;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

function nameOf(commonName: string): Name {
  const rdn = (type: string, value: string) =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) }),
    ]);
  return new Name([rdn(OID.organization, ORGANIZATION), rdn(OID.commonName, commonName)]);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1). */
function keyIdentifier(publicKey: KeyObject): ArrayBuffer {
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  return toArrayBuffer(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

/** A positive serial: the top bit cleared so the DER INTEGER is not negative. */
function serialOf(options: CertificateOptions): ArrayBuffer {
  const bytes = Buffer.from(options.serial ?? randomBytes(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return toArrayBuffer(bytes);
}

interface SignInput {
  readonly subject: string;
  readonly publicKey: KeyObject;
  readonly issuer: CertificateIssuer;
  readonly extensions: Extension[];
  readonly days: number;
}

function signCertificate(input: SignInput, options: CertificateOptions): string {
  const now = options.now ?? new Date();
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialOf(options),
    signature: algorithm,
    issuer: nameOf(input.issuer.commonName),
    validity: new Validity({
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.days ?? input.days) * DAY_MS),
    }),
    subject: nameOf(input.subject),
    subjectPublicKeyInfo: AsnConvert.parse(
      input.publicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    ),
    extensions: new Extensions(input.extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, input.issuer.privateKey);
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return new X509Certificate(Buffer.from(AsnConvert.serialize(certificate))).toString();
}

/**
 * A self-signed CA certificate (PEM) for `ca`: basicConstraints CA with path length 0, key usage
 * keyCertSign and cRLSign, valid 10 years unless `options.days` says otherwise.
 */
export function createCaCertificate(ca: CertificateIssuer, options: CertificateOptions = {}): string {
  const usage = new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
  const id = keyIdentifier(ca.publicKey);
  return signCertificate(
    {
      subject: ca.commonName,
      publicKey: ca.publicKey,
      issuer: ca,
      days: 3650,
      extensions: [
        extension(OID.basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
        extension(OID.keyUsage, true, usage),
        extension(OID.subjectKeyId, false, new SubjectKeyIdentifier(id)),
      ],
    },
    options,
  );
}

/** The server certificate's subject and names. */
export interface ServerCertificateRequest {
  /** The server's public key. */
  readonly publicKey: KeyObject;
  /** DNS names and IP addresses for the subjectAltName extension; the first is the subject CN. */
  readonly hosts: readonly string[];
}

function generalName(host: string): GeneralName {
  return /^[0-9.]+$/.test(host) || host.includes(':')
    ? new GeneralName({ iPAddress: host })
    : new GeneralName({ dNSName: host });
}

/**
 * A TLS server certificate (PEM) for `request.hosts`, issued by `ca`: digitalSignature,
 * serverAuth, not a CA, valid one year unless `options.days` says otherwise.
 */
export function createServerCertificate(
  request: ServerCertificateRequest,
  ca: CertificateIssuer,
  options: CertificateOptions = {},
): string {
  const usage = new KeyUsage(KeyUsageFlags.digitalSignature);
  return signCertificate(
    {
      subject: request.hosts[0] ?? 'localhost',
      publicKey: request.publicKey,
      issuer: ca,
      days: 365,
      extensions: [
        extension(OID.basicConstraints, true, new BasicConstraints({ cA: false })),
        extension(OID.keyUsage, true, usage),
        extension(OID.extKeyUsage, false, new ExtendedKeyUsage([OID.serverAuth])),
        extension(OID.subjectAltName, false, new SubjectAlternativeName(request.hosts.map(generalName))),
        extension(OID.subjectKeyId, false, new SubjectKeyIdentifier(keyIdentifier(request.publicKey))),
        extension(
          OID.authorityKeyId,
          false,
          new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(ca.publicKey)) }),
        ),
      ],
    },
    options,
  );
}
