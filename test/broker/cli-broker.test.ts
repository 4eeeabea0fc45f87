import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { brokerCommand } from '../../src/cli/internal/commands/broker.js';
import { makeOutput, type Output } from '../../src/cli/internal/output.js';
import { type GlobalOptions, Session } from '../../src/cli/internal/session.js';
import { keyClient, PASSPHRASE, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await writeFile(join(dir, 'pass.txt'), `${PASSPHRASE}\n`, { mode: 0o600 });
});
afterAll(() => cleanup());

/** Runs `sealtrain --json <args>` in-process with the broker command registered as the CLI would. */
async function sealtrain(args: string[]): Promise<string> {
  const program = new Command('sealtrain')
    .option('--home <dir>')
    .option('--json')
    .option('--passphrase-file <path>')
    .option('--passphrase-fd <n>')
    .option('--actor <name>')
    .exitOverride();
  const run =
    (action: (session: Session, out: Output, ...rest: string[]) => Promise<void>) =>
    async (...rest: unknown[]): Promise<void> => {
      const cmd = rest[rest.length - 1] as Command;
      const session = new Session(cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>());
      try {
        await action(session, makeOutput(true), ...(rest.slice(0, -2) as string[]));
      } finally {
        await session.close();
      }
    };
  brokerCommand(program, run);
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    const common = ['--home', dir, '--json', '--passphrase-file', join(dir, 'pass.txt'), '--actor', 'tester'];
    await program.parseAsync([...common, ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return written.join('');
}

describe('sealtrain broker', () => {
  it('runs until SIGINT, and principal add|list|revoke manage its principals', async () => {
    const running = sealtrain(['broker', '--port', '0', '--scrypt-cost', '1024']);
    // The command waits for SIGINT once the broker is up.
    const before = process.listenerCount('SIGINT');
    await vi.waitFor(
      () => {
        if (process.listenerCount('SIGINT') <= before) throw new Error('not listening yet');
      },
      { timeout: 20_000, interval: 20 },
    );
    process.emit('SIGINT');
    const started = JSON.parse((await running).trim());
    expect(started).toMatchObject({ ok: true, ca: join(dir, 'broker', 'tls', 'ca.pem') });
    expect(started.url).toMatch(/^https:\/\/127\.0\.0\.1:[0-9]+$/);

    const added = JSON.parse(await sealtrain(['broker', 'principal', 'add', 'alice', '--role', 'owner']));
    expect(added).toMatchObject({ ok: true, principal: { name: 'alice', role: 'owner', status: 'active' } });
    expect(added.token).toMatch(/^stbk_[A-Za-z0-9_-]{43}$/);
    const listed = JSON.parse(await sealtrain(['broker', 'principal', 'list']));
    expect(listed.principals).toEqual([
      expect.objectContaining({ name: 'alice', role: 'owner', status: 'active' }),
    ]);
    const revoked = JSON.parse(await sealtrain(['broker', 'principal', 'revoke', 'alice']));
    expect(revoked.principal.status).toBe('revoked');
  });

  it('refuses a bad role and an unknown principal with ERR_USAGE_INVALID', async () => {
    await expect(sealtrain(['broker', 'principal', 'add', 'bob', '--role', 'admin'])).rejects.toMatchObject({
      code: 'ERR_USAGE_INVALID',
      message: '--role must be owner or workload, not "admin".',
    });
    await expect(sealtrain(['broker', 'principal', 'revoke', 'nobody'])).rejects.toMatchObject({
      code: 'ERR_USAGE_INVALID',
      message: 'There is no principal named "nobody".',
    });
  });

  it('serves the Key Vault API to a principal the CLI added', async () => {
    const { token } = JSON.parse(await sealtrain(['broker', 'principal', 'add', 'carol', '--role', 'owner']));
    const { startBroker } = await import('../../src/broker/index.js');
    const broker = await startBroker({
      stateDir: join(dir, 'broker'),
      passphrase: Buffer.from(PASSPHRASE),
      log: () => {},
    });
    try {
      expect((await keyClient(broker, token).createOctKey('from-cli')).name).toBe('from-cli');
    } finally {
      await broker.close();
    }
  });
});
