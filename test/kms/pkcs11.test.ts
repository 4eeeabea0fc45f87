// The pkcs11: provider on a SoftHSM2 token initialised in a temp folder: the KEK stays in the token,
// PIN and token errors, RFC 7512 URIs, and the bad paths the conformance suite does not cover.
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PKCS11_WRAP_ALG, Pkcs11KeyProvider, parsePkcs11Uri } from '../../src/kms/index.js';
import { initSoftHsmToken, SOFTHSM_MODULE, USER_PIN } from './conformance/softhsm.js';
import { dek, rejectsWith } from './helpers.js';

const LABEL = 'unit-hsm';
let cleanup: () => Promise<void>;
const open = (pin = Buffer.from(USER_PIN), tokenLabel = LABEL, module = SOFTHSM_MODULE) =>
  Pkcs11KeyProvider.open({ module, tokenLabel, pin });
const uri = (object: string) => `pkcs11:token=${LABEL};object=${object}`;

beforeAll(async () => {
  ({ cleanup } = await initSoftHsmToken(LABEL));
});
afterAll(async () => {
  await cleanup();
});

describe('pkcs11: the KEK never leaves the token', () => {
  it('generates a sensitive, non-extractable, token-resident AES-256 key that neither reads nor wraps out', async () => {
    const hsm = await open();
    await hsm.create('export-me');
    await hsm.create('other-kek');
    await hsm.close();
    const P = pkcs11js;
    const lib = new P.PKCS11();
    lib.load(SOFTHSM_MODULE);
    lib.C_Initialize();
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === LABEL);
      if (!slot) throw new Error('test token not found');
      const session = lib.C_OpenSession(slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
      lib.C_Login(session, P.CKU_USER, USER_PIN);
      const find = (label: string) => {
        lib.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: label }]);
        const [h] = lib.C_FindObjects(session, 2);
        lib.C_FindObjectsFinal(session);
        if (!h) throw new Error(`no object ${label}`);
        return h;
      };
      const kek = find('export-me#1');
      const attrs = lib.C_GetAttributeValue(session, kek, [
        { type: P.CKA_SENSITIVE },
        { type: P.CKA_EXTRACTABLE },
        { type: P.CKA_TOKEN },
        { type: P.CKA_KEY_TYPE },
        { type: P.CKA_VALUE_LEN },
      ]);
      expect(attrs.map((a) => Buffer.from(a.value as Buffer).readUIntLE(0, 1))).toEqual([
        1,
        0,
        1,
        P.CKK_AES,
        32,
      ]);
      const code = (f: () => unknown) => {
        try {
          f();
        } catch (error) {
          return error instanceof P.Pkcs11Error ? error.message : String(error);
        }
        return 'no error';
      };
      expect(code(() => lib.C_GetAttributeValue(session, kek, [{ type: P.CKA_VALUE }]))).toBe(
        'CKR_ATTRIBUTE_SENSITIVE',
      );
      const other = find('other-kek#1');
      const wrapOut = () =>
        lib.C_WrapKey(session, { mechanism: P.CKM_AES_KEY_WRAP_PAD }, other, kek, Buffer.alloc(64));
      expect(code(wrapOut)).toBe('CKR_KEY_UNEXTRACTABLE');
      const makeExtractable = () =>
        lib.C_SetAttributeValue(session, kek, [{ type: P.CKA_EXTRACTABLE, value: true }]);
      expect(code(makeExtractable)).toMatch(/CKR_ATTRIBUTE_READ_ONLY/);
      lib.C_Logout(session);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
      lib.close();
    }
  });
});

describe('pkcs11: opening the token', () => {
  it('refuses a wrong PIN, an empty PIN, an absent token and a module that does not load', async () => {
    const wrong = await rejectsWith(open(Buffer.from('not-the-pin')), 'ERR_KMS_WRONG_PASSPHRASE');
    expect(wrong.message).not.toContain('not-the-pin');
    await rejectsWith(open(Buffer.alloc(0)), 'ERR_KMS_PASSPHRASE_REQUIRED');
    const absent = await rejectsWith(open(undefined, 'no-such-token'), 'ERR_KMS_KEYRING_NOT_FOUND');
    expect(absent.message).toContain('"no-such-token" is not present');
    await rejectsWith(open(undefined, LABEL, '/nonexistent/libpkcs11.so'), 'ERR_KMS_KEYRING_NOT_FOUND');
  });

  it('lets two providers share the module, and a closed provider refuses calls', async () => {
    const a = await open();
    const b = await open();
    await a.create('shared');
    await a.close();
    const w = await b.wrap(uri('shared'), dek());
    expect(Buffer.from(await b.unwrap(w))).toEqual(dek());
    await b.close();
    await rejectsWith(b.wrap(uri('shared'), dek()), 'ERR_KMS_KEYRING_LOCKED');
  });
});

describe('pkcs11: URIs and wrapped keys', () => {
  it('parses RFC 7512 URIs with percent-encoding and a version in the object label', () => {
    expect(parsePkcs11Uri('pkcs11:token=My%20HSM;object=alice')).toEqual({ token: 'My HSM', name: 'alice' });
    expect(parsePkcs11Uri('pkcs11:token=hsm;object=alice%232;type=secret-key')).toEqual({
      token: 'hsm',
      name: 'alice',
      version: '2',
    });
    expect(parsePkcs11Uri('pkcs11:serial=abc;token=hsm;object=a')).toEqual({ token: 'hsm', name: 'a' });
  });

  it.each([
    ['local:alice', 'is not a pkcs11: URI'],
    ['pkcs11:token=hsm;object=alice?pin-value=1234', 'has a query or fragment'],
    ['pkcs11:token=hsm;object=alice#2', 'has a query or fragment'],
    ['pkcs11:object=alice', 'has no token attribute'],
    ['pkcs11:token=hsm', 'has no object attribute'],
    ['pkcs11:token=hsm;object=alice;type=private', 'names type private'],
    ['pkcs11:token=hsm;object=alice;id=%01', 'has the unsupported attribute id'],
    ['pkcs11:token=hsm;token=x;object=alice', 'repeats the attribute token'],
    ['pkcs11:token=hsm;object=%zz', 'malformed percent-encoding'],
    ['pkcs11:token=hsm;object=Alice', 'Key name "Alice" is not valid'],
    ['pkcs11:token=hsm;object=alice%230', 'Key version "0" is not valid'],
  ])('refuses %s with ERR_KMS_BAD_URI', (bad, reason) => {
    let caught: unknown;
    try {
      parsePkcs11Uri(bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'ERR_KMS_BAD_URI' });
    expect((caught as Error).message).toContain(reason);
  });

  it('refuses another token, a versioned wrapped URI, another algorithm and an odd data key size', async () => {
    const hsm = await open();
    try {
      await hsm.create('uri-checks');
      const w = await hsm.wrap(uri('uri-checks'), dek());
      expect(w.alg).toBe(PKCS11_WRAP_ALG);
      expect(w.uri).toBe(uri('uri-checks'));
      await rejectsWith(hsm.wrap('pkcs11:token=other;object=uri-checks', dek()), 'ERR_KMS_BAD_URI');
      await rejectsWith(hsm.unwrap({ ...w, uri: uri('uri-checks%231') }), 'ERR_KMS_BAD_URI');
      const alg = await rejectsWith(hsm.unwrap({ ...w, alg: 'A256KW' }), 'ERR_KMS_UNWRAP_FAILED');
      expect(alg.message).not.toContain(Buffer.from(w.wrapped).toString('hex'));
      await rejectsWith(hsm.unwrap({ ...w, version: '7' }), 'ERR_KMS_VERSION_NOT_FOUND');
      await rejectsWith(hsm.wrap(uri('uri-checks'), Buffer.alloc(15)), 'ERR_USAGE_INVALID');
      await rejectsWith(hsm.wrap(uri('uri-checks'), Buffer.alloc(1025)), 'ERR_USAGE_INVALID');
      await rejectsWith(hsm.disableVersion('uri-checks', '3'), 'ERR_KMS_VERSION_NOT_FOUND');
      await rejectsWith(hsm.create('Bad Name'), 'ERR_KMS_BAD_URI');
    } finally {
      await hsm.close();
    }
  });
});
