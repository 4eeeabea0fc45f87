import { createRequire } from 'node:module';
import type * as pkcs11js from 'pkcs11js';
import { SealtrainError } from '../../errors/index.js';

/** A PKCS#11 object or session handle. */
export type Handle = Buffer;

let binding: typeof pkcs11js | undefined;

/**
 * The pkcs11js binding's constants and class, loaded on first use: its native part is loaded only
 * by what uses a PKCS#11 key, not by every command (`sealtrain train` starts sooner). Opening a
 * token loads it first (see `acquire`), so a binding that cannot load is reported there.
 */
export function P(): typeof pkcs11js {
  binding ??= createRequire(import.meta.url)('pkcs11js') as typeof pkcs11js;
  return binding;
}

/** A logged-in read-write session on one token. */
export interface TokenSession {
  readonly lib: pkcs11js.PKCS11;
  readonly session: Handle;
  /** Logs out, closes the session and releases the module. */
  close(): void;
}

/** Modules loaded in this process, shared and counted: C_Initialize runs once per module. */
const loaded = new Map<string, { lib: pkcs11js.PKCS11; users: number }>();

const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LEN_RANGE = 0xa2;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;

/** The PKCS#11 return value of `error`, if it is a Cryptoki error. */
export function ckrOf(error: unknown): number | undefined {
  // No binding loaded, no Cryptoki error: telling one apart never loads it.
  return binding !== undefined && error instanceof binding.Pkcs11Error ? error.code : undefined;
}

/** `ERR_KMS_KEYRING_NOT_FOUND` for a module that does not load or a token that is absent. */
function tokenMissing(module: string, token: string, problem: string, cause?: unknown): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEYRING_NOT_FOUND',
    `PKCS#11 token ${JSON.stringify(token)} ${problem} (module ${module}).`,
    {
      details: { module, token },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function acquire(module: string, token: string): pkcs11js.PKCS11 {
  const entry = loaded.get(module);
  if (entry) {
    entry.users += 1;
    return entry.lib;
  }
  let lib: pkcs11js.PKCS11;
  try {
    lib = new (P().PKCS11)();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw tokenMissing(
      module,
      token,
      `is unreachable: the PKCS#11 binding (pkcs11js) does not load on ${process.platform}-${process.arch} (${why}); reinstall sealtrain, whose install builds it`,
      error,
    );
  }
  try {
    lib.load(module);
    lib.C_Initialize();
  } catch (error) {
    throw tokenMissing(module, token, 'is unreachable: the PKCS#11 module did not load', error);
  }
  loaded.set(module, { lib, users: 1 });
  return lib;
}

function release(module: string): void {
  const entry = loaded.get(module);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  loaded.delete(module);
  try {
    entry.lib.C_Finalize();
  } finally {
    entry.lib.close();
  }
}

function findSlot(lib: pkcs11js.PKCS11, module: string, token: string): Handle {
  for (const slot of lib.C_GetSlotList(true)) {
    if (lib.C_GetTokenInfo(slot).label.trimEnd() === token) return slot;
  }
  throw tokenMissing(module, token, 'is not present');
}

/**
 * Opens a logged-in read-write session on the token labelled `token`. A wrong PIN is
 * `ERR_KMS_WRONG_PASSPHRASE`. The binding takes the PIN as a string, which cannot be wiped; the
 * caller still wipes its bytes.
 */
export function openToken(module: string, token: string, pin: Uint8Array): TokenSession {
  const lib = acquire(module, token);
  let session: Handle | undefined;
  try {
    const slot = findSlot(lib, module, token);
    const p = P();
    session = lib.C_OpenSession(slot, p.CKF_RW_SESSION | p.CKF_SERIAL_SESSION);
    login(lib, session, module, token, pin);
  } catch (error) {
    if (session !== undefined) lib.C_CloseSession(session);
    release(module);
    throw error;
  }
  const opened = session;
  let open = true;
  return {
    lib,
    session: opened,
    close() {
      if (!open) return;
      open = false;
      try {
        lib.C_CloseSession(opened);
      } finally {
        release(module);
      }
    },
  };
}

function login(lib: pkcs11js.PKCS11, session: Handle, module: string, token: string, pin: Uint8Array): void {
  try {
    lib.C_Login(session, P().CKU_USER, Buffer.from(pin.buffer, pin.byteOffset, pin.length).toString('utf8'));
  } catch (error) {
    const ckr = ckrOf(error);
    if (ckr === CKR_USER_ALREADY_LOGGED_IN) return;
    if (ckr === CKR_PIN_INCORRECT || ckr === CKR_PIN_LEN_RANGE) {
      throw new SealtrainError(
        'ERR_KMS_WRONG_PASSPHRASE',
        `Cannot log in to PKCS#11 token ${JSON.stringify(token)}: wrong PIN.`,
        {
          details: { module, token },
        },
      );
    }
    throw tokenMissing(module, token, 'refused the login', error);
  }
}

/** Every secret-key object on the token whose label matches `label` (all secret keys when absent). */
export function findSecretKeys(t: TokenSession, label?: string): Handle[] {
  const p = P();
  const template: pkcs11js.Template = [
    { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
    { type: p.CKA_TOKEN, value: true },
  ];
  if (label !== undefined) template.push({ type: p.CKA_LABEL, value: label });
  t.lib.C_FindObjectsInit(t.session, template);
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = t.lib.C_FindObjects(t.session, 64);
      found.push(...batch);
      if (batch.length < 64) return found;
    }
  } finally {
    t.lib.C_FindObjectsFinal(t.session);
  }
}

/** A key object's label, creation time (kept in CKA_ID) and whether it still wraps and unwraps. */
export function keyAttributes(
  t: TokenSession,
  key: Handle,
): { label: string; created: string; enabled: boolean } {
  const p = P();
  const [label, id, wrap, unwrap] = t.lib.C_GetAttributeValue(t.session, key, [
    { type: p.CKA_LABEL },
    { type: p.CKA_ID },
    { type: p.CKA_WRAP },
    { type: p.CKA_UNWRAP },
  ]);
  const flag = (value: unknown) => Buffer.isBuffer(value) && value.length > 0 && value[0] !== 0;
  return {
    label: String(label?.value ?? ''),
    created: Buffer.isBuffer(id?.value) ? id.value.toString('utf8') : '',
    enabled: flag(wrap?.value) && flag(unwrap?.value),
  };
}
