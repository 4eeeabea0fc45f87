// A SoftHSM2 token for tests: a config and token folder in a temp dir, initialised with softhsm2-util.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers.js';

/** Debian's SoftHSM2 module. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** The user PIN of test tokens. */
export const USER_PIN = '4711-hsm-user';

/**
 * Initialises a token labelled `label` in a new temp folder and points SOFTHSM2_CONF (configuration,
 * not a secret) at it; this process's PKCS#11 module must not be initialised yet.
 */
export async function initSoftHsmToken(
  label: string,
): Promise<{ label: string; pin: () => Buffer; conf: string; cleanup: () => Promise<void> }> {
  const t = await tempDir();
  const tokens = join(t.dir, 'tokens');
  await mkdir(tokens, { mode: 0o700 });
  const conf = join(t.dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  await promisify(execFile)(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', 'so-pin-0815', '--pin', USER_PIN],
    { env: { ...process.env, SOFTHSM2_CONF: conf } },
  );
  return { label, pin: () => Buffer.from(USER_PIN), conf, cleanup: t.cleanup };
}
