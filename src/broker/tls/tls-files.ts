import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, hasSystemCode, SealtrainError } from '../../errors/index.js';
import { writeFileAtomic } from '../../store/index.js';
import { type CertificateIssuer, createCaCertificate, createServerCertificate } from './certificates.js';

/** What the HTTPS server needs, and where the CA certificate clients must trust is. */
export interface BrokerTls {
  /** The CA certificate (PEM) clients trust. */
  readonly caPem: string;
  /** `<dir>/ca.pem`. */
  readonly caPath: string;
  /** Server certificate followed by the CA certificate (PEM). */
  readonly certChainPem: string;
  /** Server private key (PKCS#8 PEM). */
  readonly keyPem: string;
  /**
   * A certificate from the CA for `publicKey` (the release signing key) under the server's names,
   * as the `x5c` chain of signed answers: standard base64 DER, that certificate then the CA's.
   */
  signingChain(publicKey: KeyObject): string[];
}

/** Options for {@link ensureTls}. */
export interface EnsureTlsOptions {
  /** Names the server certificate must cover; default `localhost`, `127.0.0.1`, `::1`. */
  readonly hosts?: readonly string[];
  /** Clock; default now. */
  readonly now?: () => Date;
}

const FILES = { ca: 'ca.pem', caKey: 'ca-key.pem', cert: 'server.pem', key: 'server-key.pem' } as const;
const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];
/** Reissue the server certificate when less than this much validity is left. */
const RENEW_MS = 7 * 86_400_000;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read', path);
  }
}

function newKeyPair() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** Loads the CA (creating it on first start). */
async function loadOrCreateCa(dir: string, now: Date): Promise<CertificateIssuer & { pem: string }> {
  const [pem, keyPem] = await Promise.all([
    readOptional(join(dir, FILES.ca)),
    readOptional(join(dir, FILES.caKey)),
  ]);
  if (pem !== undefined && keyPem !== undefined) {
    try {
      const privateKey = createPrivateKey(keyPem);
      const cert = new X509Certificate(pem);
      if (!cert.verify(createPublicKey(privateKey))) throw new Error('the CA key does not match ca.pem');
      return { commonName: 'sealtrain broker CA', privateKey, publicKey: createPublicKey(privateKey), pem };
    } catch (error) {
      throw new SealtrainError(
        'ERR_BROKER_STATE',
        `The broker CA in ${dir} is unreadable (${(error as Error).message}); move the folder aside to make a new CA.`,
        { cause: error, details: { path: dir } },
      );
    }
  }
  const pair = newKeyPair();
  const ca = { commonName: 'sealtrain broker CA', ...pair };
  const caPem = createCaCertificate(ca, { now });
  await writeFileAtomic(join(dir, FILES.caKey), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    overwrite: true,
    mode: 0o600,
  });
  await writeFileAtomic(join(dir, FILES.ca), caPem, { overwrite: true, mode: 0o644 });
  return { ...ca, pem: caPem };
}

/** True when the certificate is issued by `ca`, matches its key, covers every host, and is valid a week more. */
function stillGood(
  pair: { pem: string; keyPem: string },
  ca: CertificateIssuer,
  hosts: readonly string[],
  now: Date,
): boolean {
  try {
    const cert = new X509Certificate(pair.pem);
    if (!cert.verify(ca.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem))) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_MS) return false;
    return hosts.every((h) => (h.includes(':') || /^[0-9.]+$/.test(h) ? cert.checkIP(h) : cert.checkHost(h)));
  } catch {
    return false;
  }
}

/**
 * The broker's TLS material in `dir` (`ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`;
 * private keys 0600, every write atomic). On first use it creates an ECDSA P-256 CA and a server
 * certificate for `hosts`; later it reissues the server certificate when it expires within a week,
 * was not issued by the CA, or does not cover a host.
 *
 * @throws {SealtrainError} `ERR_BROKER_STATE` when the CA files are unreadable; `ERR_IO_*` naming files.
 */
export async function ensureTls(dir: string, options: EnsureTlsOptions = {}): Promise<BrokerTls> {
  const now = (options.now ?? (() => new Date()))();
  const hosts = [...new Set([...DEFAULT_HOSTS, ...(options.hosts ?? [])])];
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw fromFsError(error, 'create the TLS folder', dir);
  });
  const ca = await loadOrCreateCa(dir, now);
  let certPem = await readOptional(join(dir, FILES.cert));
  let keyPem = await readOptional(join(dir, FILES.key));
  if (certPem === undefined || keyPem === undefined || !stillGood({ pem: certPem, keyPem }, ca, hosts, now)) {
    const pair = newKeyPair();
    keyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    certPem = createServerCertificate({ publicKey: pair.publicKey, hosts }, ca, { now });
    await writeFileAtomic(join(dir, FILES.key), keyPem, { overwrite: true, mode: 0o600 });
    await writeFileAtomic(join(dir, FILES.cert), certPem, { overwrite: true, mode: 0o644 });
  }
  const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');
  return {
    caPem: ca.pem,
    caPath: join(dir, FILES.ca),
    certChainPem: `${certPem}${ca.pem}`,
    keyPem,
    signingChain: (publicKey) => [
      der(createServerCertificate({ publicKey, hosts }, ca, { now })),
      der(ca.pem),
    ],
  };
}
