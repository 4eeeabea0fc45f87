import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import { type KeyProvider, type KeyVersionInfo, LocalKeyring } from '../../../kms/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import { keysReleaseCommand } from './keys-release.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** The provider and key name of `alice`, `local:alice` or `pkcs11:token=…;object=alice`. */
async function target(session: Session, key: string): Promise<{ provider: KeyProvider; name: string }> {
  const found = await session.providerFor(key);
  if (found.name === '')
    throw new SealtrainError('ERR_USAGE_INVALID', `${key} names no key: add ;object=<name>.`);
  return found;
}

function row(v: KeyVersionInfo): string {
  return `${`${v.uri}/${v.version}`.padEnd(32)} ${v.enabled ? 'enabled ' : 'disabled'}  ${v.created}`;
}

/** Creates an exportable `azurekv:` key with the release policy in `file` (validated first). */
async function createReleasable(
  session: Session,
  uri: string,
  name: string,
  file: string,
): Promise<KeyVersionInfo> {
  if (!uri.startsWith('azurekv:'))
    throw new SealtrainError('ERR_USAGE_INVALID', '--release-policy applies to azurekv: keys only.');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fromFsError(error, 'read the release policy', file);
  }
  const { parseReleasePolicy } = await import('../../../policy/index.js');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SealtrainError('ERR_POLICY_INVALID', `The release policy ${file} is not valid JSON.`, {
      cause,
      details: { path: file },
    });
  }
  parseReleasePolicy(json, file);
  const audit = await session.auditContext();
  const v = await (await session.vault(uri)).createExportable(name, Buffer.from(JSON.stringify(json)));
  await audit.sink.record({
    actor: audit.actor,
    action: 'keys.create',
    outcome: 'ok',
    key: { uri: v.uri, version: v.version },
    details: { exportable: true, release_policy: file },
  });
  return v;
}

/** `sealtrain keys init|create|list|rotate|disable`. */
export function keysCommand(program: Command, run: Run): void {
  const keys = program
    .command('keys')
    .description('Manage key-encryption keys: the local keyring, or a PKCS#11 token with pkcs11: URIs')
    .addHelpText(
      'after',
      '\nKeys are named `alice` (the local keyring) or `pkcs11:token=<label>;object=<name>` (an HSM):\n  sealtrain keys create "pkcs11:token=sealtrain;object=kek" --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pin-file pin.txt',
    );
  keys
    .command('init')
    .description('Create the local keyring under --home, protected by a passphrase')
    .addHelpText('after', '\nExample:\n  sealtrain keys init --home ./state --passphrase-file pass.txt')
    .option('--scrypt-cost <n>', 'scrypt cost N, a power of two such as 1024 (for tests; default 131072)')
    .action(
      run(async (session, out) => {
        const cost = session.opts as { scryptCost?: string };
        const pass = await session.passphrase(true);
        try {
          const options = cost.scryptCost ? { scryptCost: Number(cost.scryptCost) } : {};
          const ring = await LocalKeyring.init(session.keyringDir, pass, options);
          ring.close();
        } finally {
          pass.fill(0);
        }
        const audit = await session.audit();
        await audit.record({
          actor: session.actor,
          action: 'keys.init',
          outcome: 'ok',
          details: { path: session.keyringDir },
        });
        out.result({ keyring: session.keyringDir }, `Created keyring in ${session.keyringDir}.`);
      }),
    );
  keys
    .command('create <name>')
    .description(
      'Create a key (version 1); an azurekv: key with --release-policy is exportable to attested workloads',
    )
    .option(
      '--release-policy <file>',
      'azurekv: keys: a release policy (JSON): the key is released only to TEEs that meet it',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sealtrain keys create hospital-a --passphrase-file pass.txt\n' +
        '  sealtrain keys create azurekv://127.0.0.1:8443/keys/data-key --release-policy policy.json \\\n' +
        '    --broker-token-file owner.token --broker-ca state/broker/tls/ca.pem',
    )
    .action(
      run(async (session, out, name = '') => {
        const { provider, name: key } = await target(session, name);
        const policyFile = (session.opts as { releasePolicy?: string }).releasePolicy;
        const v =
          policyFile === undefined
            ? await provider.create(key)
            : await createReleasable(session, name, key, policyFile);
        out.result({ key: v }, `Created ${v.uri} version ${v.version}.`);
      }),
    );
  keys
    .command('list [name]')
    .description('List keys, or every version of one key')
    .action(
      run(async (session, out, name) => {
        const { provider, name: key } = await session.providerFor(name ?? '');
        const list = key ? await provider.listVersions(key) : await provider.list();
        out.result(
          { keys: list },
          list.length ? list.map(row).join('\n') : 'No keys yet: run `sealtrain keys create <name>`.',
        );
      }),
    );
  keys
    .command('rotate <name>')
    .description('Add a new version; new seals use it, old versions keep opening old files')
    .addHelpText('after', '\nThen move files to it without re-encrypting:\n  sealtrain rewrap data.sealed')
    .action(
      run(async (session, out, name = '') => {
        const { provider, name: key } = await target(session, name);
        const v = await provider.rotate(key);
        out.result({ key: v }, `Rotated ${v.uri}: new version ${v.version}.`);
      }),
    );
  keys
    .command('disable <name> <version>')
    .description('Disable one version for good: it no longer wraps or unwraps')
    .action(
      run(async (session, out, name = '', version = '') => {
        if (!/^[1-9][0-9]*$/.test(version)) {
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `Version must be a positive integer, not "${version}".`,
          );
        }
        const { provider, name: key } = await target(session, name);
        const v = await provider.disableVersion(key, version);
        out.result({ key: v }, `Disabled ${v.uri} version ${v.version}.`);
      }),
    );
  keysReleaseCommand(keys, run);
}
