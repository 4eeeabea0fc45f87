import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { VerifyEvidenceOptions } from '../attest/index.js';
import { type AuditEvent, AuditLog, type AuditSink } from '../audit/index.js';
import { createNonceStore, createTokenIssuer } from './attestation/index.js';
import { createRateLimiter, type RateLimiterOptions } from './auth/rate-limiter.js';
import type { BrokerServices } from './http/context.js';
import { type HandlerSetup, handleRequest } from './http/handle-request.js';
import { createBrokerMetrics } from './http/metrics.js';
import { DEFAULT_MAX_BODY_BYTES } from './http/request-body.js';
import { KeyService } from './keys/key-service.js';
import { BrokerStore } from './state/broker-store.js';
import { type BrokerTls, ensureTls } from './tls/tls-files.js';

/** Options for {@link startBroker}. */
export interface BrokerOptions {
  /** The state folder: `state.json`, `tls/`, `audit/`. */
  readonly stateDir: string;
  /** The broker passphrase (never kept; the caller wipes it). */
  readonly passphrase: Uint8Array;
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string;
  /** Port; default 0 (any free port). */
  readonly port?: number;
  /** Accept `sim` evidence and release to `sim` tokens whose key policy allows it. Never in production. */
  readonly allowSimulated?: boolean;
  /** The `sim` attester's public key (needed to verify `sim` evidence). */
  readonly simPublicKey?: KeyObject;
  /** Attestation policy, SEV-SNP roots, MAA keys for `/attest/evidence`. */
  readonly verify?: Omit<VerifyEvidenceOptions, 'nonce' | 'now'>;
  /** Other token issuers releases trust (say, an MAA instance) with their JWKS. */
  readonly trustedIssuers?: Readonly<Record<string, unknown>>;
  /** Largest request body; default 256 KiB. */
  readonly maxBodyBytes?: number;
  /** Per-principal token bucket; default 50 requests/s, bursts of 100. */
  readonly rateLimit?: RateLimiterOptions;
  /** scrypt cost for a new state; default 2^17. */
  readonly scryptCost?: number;
  /** The tenant and resource the 401 challenge names; default `sealtrain-broker`, `https://vault.azure.net`. */
  readonly challenge?: { readonly tenant?: string; readonly resource?: string };
  /** Where start-up lines (URL, how to trust the CA) go; default stderr. */
  readonly log?: (line: string) => void;
  /** The clock; default now. */
  readonly now?: () => Date;
  /**
   * Told of each audited request once its entry is stored (alert rules watch releases denied and
   * attestations failed). Must not throw or block.
   */
  readonly onAudit?: (event: AuditEvent, time: Date) => void;
}

/** A running broker. */
export interface RunningBroker {
  /** `https://<host>:<port>`: the vault URL for `KeyClient` and the attestation issuer. */
  readonly url: string;
  readonly port: number;
  /** The CA certificate (PEM) clients must trust. */
  readonly caCertificate: string;
  /** Where that CA certificate is on disk. */
  readonly caPath: string;
  /** The broker's audit log (alert rules record what they do there). */
  readonly audit: AuditSink;
  /** Stops listening, closes connections, signs the audit head and wipes keys. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The lines printed on start: where the broker is and how clients trust its CA. */
export function trustInstructions(url: string, caPath: string): string[] {
  return [
    `sealtrain broker listening on ${url}`,
    `Clients trust its CA ${caPath}: NODE_EXTRA_CA_CERTS=${caPath} for any Node client, or`,
    '  new KeyClient(url, credential, { agent: new https.Agent({ ca: readFileSync(caPath) }),',
    '    disableChallengeResourceVerification: true }) for @azure/keyvault-keys.',
  ];
}

/** The services and limits every request is handled with. */
async function requestSetup(
  store: BrokerStore,
  audit: AuditLog,
  url: string,
  options: BrokerOptions,
  tls: Pick<BrokerTls, 'signingChain'>,
): Promise<HandlerSetup> {
  const now = options.now ?? (() => new Date());
  const der = Buffer.from((await store.read()).signingKey, 'base64');
  const signingKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  const issuer = createTokenIssuer({ privateKey: signingKey, issuer: url, now });
  const kid = issuer.jwks().keys[0]?.kid ?? '';
  const services: BrokerServices = {
    store,
    keys: new KeyService(store, { now }),
    metrics: createBrokerMetrics(),
    vaultUrl: url,
    nonces: createNonceStore({ now: () => now().getTime() }),
    issuer,
    allowSimulated: options.allowSimulated ?? false,
    ...(options.simPublicKey ? { simPublicKey: options.simPublicKey } : {}),
    ...(options.verify ? { verify: options.verify } : {}),
    release: {
      issuers: [url, ...Object.keys(options.trustedIssuers ?? {})],
      jwks: { ...options.trustedIssuers, [url]: issuer.jwks() },
      // Signed answers carry the signing key's certificate from the broker's CA, as Key Vault's do.
      signer: { privateKey: signingKey, kid, x5c: tls.signingChain(createPublicKey(signingKey)) },
    },
    now,
  };
  const tenant = options.challenge?.tenant ?? 'sealtrain-broker';
  const resource = options.challenge?.resource ?? 'https://vault.azure.net';
  const onAudit = options.onAudit;
  return {
    services,
    audit: onAudit
      ? {
          record: async (event: AuditEvent) => {
            await audit.record(event);
            onAudit(event, now());
          },
        }
      : audit,
    limiter: createRateLimiter({ now: () => now().getTime(), ...options.rateLimit }),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    challenge: `Bearer authorization="https://login.microsoftonline.com/${tenant}", resource="${resource}"`,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
}

/**
 * Starts the key broker: an HTTPS server (own CA, created on first start) that speaks the Azure
 * Key Vault keys API subset, the attestation endpoint and `/metrics`. See `docs/broker.md`.
 *
 * @throws {SealtrainError} `ERR_BROKER_STATE` for a wrong passphrase or damaged state; `ERR_IO_*`.
 */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const host = options.host ?? '127.0.0.1';
  const store = await BrokerStore.open(options.stateDir, options.passphrase, {
    ...(options.scryptCost === undefined ? {} : { scryptCost: options.scryptCost }),
  });
  let audit: AuditLog | undefined;
  try {
    // TLS validity follows the real clock: peers check it against theirs.
    const tls = await ensureTls(join(options.stateDir, 'tls'), { hosts: [host] });
    audit = await AuditLog.open(join(options.stateDir, 'audit'));
    const server = createServer({ cert: tls.certChainPem, key: tls.keyPem, minVersion: 'TLSv1.2' });
    const port = await listen(server, host, options.port ?? 0);
    const url = `https://${urlHost(host)}:${port}`;
    const setup = await requestSetup(store, audit, url, options, tls);
    server.on('request', (req, res) => {
      handleRequest(req, res, setup).catch(() => res.destroy());
    });
    for (const line of trustInstructions(url, tls.caPath))
      (options.log ?? ((l) => process.stderr.write(`${l}\n`)))(line);
    const auditLog = audit;
    setup.services.metrics.resources.start();
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      caCertificate: tls.caPem,
      caPath: tls.caPath,
      audit: auditLog,
      close: () => {
        closing ??= new Promise<void>((resolve) => {
          setup.services.metrics.resources.stop();
          server.close(() => resolve());
          server.closeAllConnections();
        }).then(async () => {
          await auditLog.close();
          store.close();
        });
        return closing;
      },
    };
  } catch (error) {
    await audit?.close().catch(() => {});
    store.close();
    throw error;
  }
}
