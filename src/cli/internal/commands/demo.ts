import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SealtrainError } from '../../../errors/index.js';
import { packageFile } from '../../../internal/package-root.js';
import type { Output } from '../output.js';
import { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** `sealtrain demo`: the main job end to end on the shipped example, in `<home>/demo`. */
export function demoCommand(program: Command, run: Run): void {
  program
    .command('demo')
    .description(
      'The whole confidential training flow on this machine: a key broker on loopback, the example dataset prepared and sealed, training in the SIMULATED TEE with attested key release, a sealed model, a verified audit log',
    )
    .addHelpText(
      'after',
      '\nExample:\n  npx sealtrain demo --home /tmp/sealtrain-demo\n\nEverything goes under <home>/demo (replaced on each run). The TEE is simulated: it proves nothing\nabout hardware, and every step says so. docs/run.md shows the same flow with your own data.',
    )
    .action(
      run(async (session, out) => {
        const dir = join(session.home, 'demo');
        await rm(dir, { recursive: true, force: true });
        const demoSession = new Session({ ...session.opts, home: dir, actor: `demo:${session.actor}` });
        try {
          const { runDemo } = await import('./demo-flow.js');
          const r = await runDemo(
            demoSession,
            out,
            // From the package root: this module runs from dist/cli/… or from the bundle.
            packageFile(import.meta.url, 'examples/wdbc.csv'),
          );
          out.result(
            r,
            `Demo complete. Everything is in ${dir}. SIMULATION: no hardware protection was involved.`,
          );
        } finally {
          await demoSession.close();
        }
      }),
    );
}

/** A fresh random passphrase that lives in memory only. */
export function memoryPassphrase(): Buffer {
  return randomBytes(32);
}

/** Throws when a demo step did not behave as it must. */
export function expectDemo(ok: boolean, what: string): void {
  if (!ok) throw new SealtrainError('ERR_INTERNAL', `The demo step "${what}" did not behave as specified.`);
}
