// A PKCS#11 binding that cannot load (not built, or built for another Node) is reported when a
// token is opened, as the token being unreachable, with the reason and what to do; it is not
// loaded before then, and telling a Cryptoki error apart never loads it.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('node:module', async (original) => {
  const real = await original<typeof import('node:module')>();
  const createRequire = (from: string | URL) => {
    const require = real.createRequire(from);
    return Object.assign((id: string) => {
      if (id === 'pkcs11js') throw new Error('pkcs11.node: cannot open shared object file');
      return require(id);
    }, require);
  };
  return { ...real, default: { ...real, createRequire }, createRequire };
});

const { Pkcs11KeyProvider } = await import('../../src/kms/index.js');
const { ckrOf } = await import('../../src/kms/internal/pkcs11-token.js');
const { SOFTHSM_MODULE, USER_PIN, initSoftHsmToken } = await import('./conformance/softhsm.js');

let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ cleanup } = await initSoftHsmToken('binding-hsm'));
});
afterAll(async () => {
  await cleanup();
});

describe('pkcs11: a binding that cannot load', () => {
  it('makes the token unreachable, naming the binding, the reason and the remedy', async () => {
    expect(ckrOf(new Error('CKR_PIN_INCORRECT:160'))).toBeUndefined();
    const opening = Pkcs11KeyProvider.open({
      module: SOFTHSM_MODULE,
      tokenLabel: 'binding-hsm',
      pin: Buffer.from(USER_PIN),
    });
    await expect(opening).rejects.toMatchObject({
      code: 'ERR_KMS_KEYRING_NOT_FOUND',
      details: { module: SOFTHSM_MODULE, token: 'binding-hsm' },
    });
    const message = await opening.catch((e: Error) => e.message);
    expect(message).toContain('pkcs11js');
    expect(message).toContain('cannot open shared object file');
    expect(message).toContain('reinstall sealtrain');
  });
});
