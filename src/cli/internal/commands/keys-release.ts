import { Agent } from 'node:https';
import type { Command } from 'commander';
import { loadOrCreateSimKey } from '../../../attest/sim/load-or-create-sim-key.js';
import { parseAzureKvUri } from '../../../kms/index.js';
import type { Output } from '../output.js';
import { readSmallFile } from '../read-small-file.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface ReleaseCliOptions {
  tokenFile?: string;
  ca?: string;
  sim?: boolean;
  maa?: string;
  maaCa?: string;
}

const readSmall = (path: string, what: string) =>
  readSmallFile(path, what, { maxBytes: 64 * 1024, code: 'ERR_USAGE_INVALID' });

/**
 * `sealtrain keys release <azurekv-uri>`: proves this machine's TEE to the broker and releases the
 * key into this process only, to check that a workload would get it. Prints the key's id, type and
 * size, never the key.
 */
export function keysReleaseCommand(keys: Command, run: Run): void {
  keys
    .command('release <uri>')
    .description(
      'Attest this machine to the broker and release a key into memory (a check; the key is not printed)',
    )
    .requiredOption(
      '--token-file <path>',
      "the workload principal's broker token (a file; never on the command line)",
    )
    .option('--ca <pem>', "the broker's CA certificate (printed by `sealtrain broker` on start)")
    .option('--sim', 'use the simulated TEE (INSECURE; the broker must run with --allow-simulated)')
    .option(
      '--maa <url>',
      'attest to this Microsoft Azure Attestation provider (an SEV-SNP guest), as Azure Key Vault needs',
    )
    .option('--maa-ca <pem>', "the MAA provider's CA certificate, when it is not publicly trusted")
    .addHelpText(
      'after',
      '\nExamples:\n  sealtrain keys release azurekv://127.0.0.1:8443/keys/data-key --token-file trainer.token \\\n' +
        '    --ca state/broker/tls/ca.pem --sim\n' +
        '  sealtrain keys release azurekv://myvault.vault.azure.net/keys/data-key --token-file kv.token \\\n' +
        '    --maa https://sharedeus2.eus2.attest.azure.net',
    )
    .action(
      run(async (session, out, uri = '') => {
        const o = session.opts as ReleaseCliOptions;
        const { vaultUrl, name, version } = parseAzureKvUri(uri);
        const token = (await readSmall(o.tokenFile ?? '', 'token file')).trim();
        const ca = o.ca ? await readSmall(o.ca, 'CA certificate') : undefined;
        const maaCa = o.maaCa ? await readSmall(o.maaCa, 'MAA CA certificate') : undefined;
        const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 60_000 }) };
        const sim = o.sim ? { privateKey: (await loadOrCreateSimKey(session.home)).privateKey } : undefined;
        if (sim) out.note('WARNING: sim evidence is simulated and proves nothing about hardware.');
        // Made once every file is read: destroyed below whatever happens.
        const agent = new Agent(ca ? { ca } : {});
        const maa = o.maa ? { url: o.maa, agent: new Agent(maaCa ? { ca: maaCa } : {}) } : undefined;
        const { releaseWithAttestation } = await import('../../../broker/client/attested-release.js');
        const released = await releaseWithAttestation({
          vaultUrl,
          credential,
          keyName: name,
          ...(version ? { version } : {}),
          agent,
          clientOptions: {
            agent,
            // The challenge names vault.azure.net, not a broker's address: only for a vault trusted by --ca.
            disableChallengeResourceVerification: ca !== undefined,
            retryOptions: { maxRetries: 0 },
          },
          ...(sim ? { sim } : {}),
          ...(maa ? { maa, ...(ca ? { vaultCa: ca } : {}) } : {}),
        }).finally(() => {
          agent.destroy();
          maa?.agent.destroy();
        });
        const bits =
          released.kty === 'oct'
            ? released.material.length * 8
            : (released.material.asymmetricKeyDetails?.modulusLength ?? 0);
        if (released.kty === 'oct') released.material.fill(0);
        out.result(
          { released: { kid: released.kid, kty: released.kty, bits, enc: released.enc, sim: Boolean(sim) } },
          `Released ${released.kid} (${released.kty}, ${bits} bits, ${released.enc}) into this process; it was wiped and never written.`,
        );
      }),
    );
}
