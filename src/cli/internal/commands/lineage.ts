import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { readPublicKey } from '../../../audit/index.js';

import type { Output } from '../output.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** The key that signs lineage manifests: the audit signing key of the home (created on first use). */
export async function lineageSigner(session: Session): Promise<KeyObject> {
  return (await import('../../../data/index.js')).loadLineageSigningKey(session.home);
}

/** `sealtrain lineage verify <manifest>`. */
export function verifyLineageCommand(program: Command, run: Run): void {
  const lineage = program.command('lineage').description('Check the signed lineage of prepared data');
  lineage
    .command('verify <manifest>')
    .description('Verify a lineage manifest: its signature, and every input and output file against its hash')
    .option('--public-key <pem>', 'verify with this Ed25519 public key (default: the audit key of --home)')
    .option('--base-dir <dir>', "resolve the manifest's relative paths here (default: the manifest's folder)")
    .addHelpText(
      'after',
      `\nExamples:\n  sealtrain lineage verify prepared/lineage.json\n  sealtrain lineage verify prepared/lineage.json --public-key auditor/signing-key.pub.pem --json\n\nExit code 0 when the signature is valid and every file matches; ERR_LINEAGE_INVALID (111) otherwise,\nnaming each file that changed or is missing. A missing input (the raw data stays with its owner) counts.`,
    )
    .action(
      run(async (session, out, manifest = '') => {
        const o = session.opts as { publicKey?: string; baseDir?: string };
        const { assertLineageValid, verifyManifest } = await import('../../../data/index.js');
        const report = await verifyManifest(manifest, {
          home: session.home,
          ...(o.publicKey !== undefined ? { publicKey: await readPublicKey(o.publicKey) } : {}),
          ...(o.baseDir !== undefined ? { baseDir: o.baseDir } : {}),
        });
        assertLineageValid(report);
        out.result(
          { ...report },
          [
            `Lineage ${manifest}: signature valid (key ${report.keyId}).`,
            ...report.files.map((f) => `  ${f.status.padEnd(8)} ${f.role.padEnd(6)} ${f.path}`),
          ].join('\n'),
        );
      }),
    );
}
