import { isSealtrainError, SealtrainError } from '../../errors/index.js';
import type { WrappedKey } from '../../kms/key-provider.js';
import type { Core, Envelope } from './header-json.js';
import { headerKey, payloadKey } from './keys.js';
import { PREAMBLE_SIZE, type Preamble, parsePreamble } from './layout.js';
import { type ParsedSlot, parseSlots, slotAuthentic } from './slot.js';

/** Unwraps one recipient's data key; throws a `SealtrainError` when it cannot. */
export type UnwrapFn = (recipient: WrappedKey) => Promise<Uint8Array>;

/** A header whose tag verified, with the keys derived from its DEK. Wipe with {@link wipeOpened}. */
export interface OpenedHeader {
  readonly preamble: Preamble;
  readonly preambleBytes: Buffer;
  readonly slot: ParsedSlot;
  readonly core: Core;
  readonly envelope: Envelope;
  /** The recipient that opened it. */
  readonly openedWith: WrappedKey;
  readonly dek: Buffer;
  readonly payloadKey: Buffer;
  readonly headerKey: Buffer;
}

/** Zeroes the key buffers of an opened header. */
export function wipeOpened(opened: OpenedHeader): void {
  opened.dek.fill(0);
  opened.payloadKey.fill(0);
  opened.headerKey.fill(0);
}

/** Parses the preamble and both slots without any key: what `inspect` shows. */
export function readHeaderStructure(
  prefix: Buffer,
  name: string,
): { preamble: Preamble; preambleBytes: Buffer; slots: ParsedSlot[] } {
  const preamble = parsePreamble(prefix, name);
  const need = PREAMBLE_SIZE + 2 * preamble.slotSize;
  if (prefix.length < need) {
    throw new SealtrainError('ERR_SEAL_TRUNCATED', `${name} is truncated: it ends inside the header.`, {
      details: { path: name },
    });
  }
  const preambleBytes = Buffer.from(prefix.subarray(0, PREAMBLE_SIZE));
  const slots = parseSlots(prefix.subarray(PREAMBLE_SIZE, need), preamble.slotSize, name);
  return { preamble, preambleBytes, slots };
}

const SKIPPABLE = new Set([
  'ERR_KMS_KEY_NOT_FOUND',
  'ERR_KMS_VERSION_NOT_FOUND',
  'ERR_KMS_UNWRAP_FAILED',
  'ERR_KMS_KEY_DISABLED',
  'ERR_KMS_BAD_URI',
]);

/**
 * Finds a slot whose DEK one of `unwrap`'s keys can open and whose tag verifies.
 * Slots are tried newest first, so a torn header rewrite falls back to the older slot.
 */
export async function openHeader(prefix: Buffer, name: string, unwrap: UnwrapFn): Promise<OpenedHeader> {
  const { preamble, preambleBytes, slots } = readHeaderStructure(prefix, name);
  const failures: SealtrainError[] = [];
  let tampered = false;
  for (const slot of slots) {
    for (const recipient of slot.envelope.recipients) {
      let dek: Buffer;
      try {
        // Copy into a Buffer we own, then wipe the provider's (the caller owns and wipes it).
        const raw = await unwrap(recipient);
        dek = Buffer.from(raw);
        raw.fill(0);
      } catch (error) {
        // Any provider's error with one of these codes means "not this recipient", even from
        // providers outside this package that throw their own error class.
        const code = (error as { code?: unknown } | null)?.code;
        if (typeof code === 'string' && SKIPPABLE.has(code)) {
          failures.push(
            isSealtrainError(error)
              ? error
              : new SealtrainError(code as 'ERR_KMS_UNWRAP_FAILED', String((error as Error).message), {
                  cause: error,
                }),
          );
          continue;
        }
        throw error;
      }
      const salt = Buffer.from(slot.core.salt, 'base64url');
      const hk = headerKey(dek, salt);
      if (dek.length === 32 && slotAuthentic(slot, preambleBytes, hk)) {
        const pk = payloadKey(dek, salt, preambleBytes, slot.coreBytes);
        const { core, envelope } = slot;
        return {
          preamble,
          preambleBytes,
          slot,
          core,
          envelope,
          openedWith: recipient,
          dek,
          payloadKey: pk,
          headerKey: hk,
        };
      }
      dek.fill(0);
      hk.fill(0);
      tampered = true;
      break; // a DEK that does not verify this slot will not verify it from another recipient
    }
  }
  if (tampered) {
    throw new SealtrainError(
      'ERR_SEAL_HEADER_TAMPERED',
      `Header of ${name} failed authentication: the file was modified.`,
      {
        details: { path: name },
      },
    );
  }
  throw noRecipientError(name, slots, failures);
}

function noRecipientError(name: string, slots: ParsedSlot[], failures: SealtrainError[]): SealtrainError {
  const listed = [
    ...new Set(slots.flatMap((s) => s.envelope.recipients.map((r) => `${r.uri} version ${r.version}`))),
  ];
  const details = { path: name, recipients: listed };
  const codes = new Set(failures.map((f) => f.code));
  if (codes.has('ERR_KMS_UNWRAP_FAILED')) {
    return new SealtrainError(
      'ERR_KMS_UNWRAP_FAILED',
      `Cannot open ${name}: the available keys do not unwrap its data key (recipients: ${listed.join(', ')}).`,
      { details },
    );
  }
  if (codes.size === 1 && codes.has('ERR_KMS_KEY_DISABLED')) {
    const cause = failures[0];
    return new SealtrainError(
      'ERR_KMS_KEY_DISABLED',
      `Cannot open ${name}: ${cause?.message ?? 'its key is disabled.'}`,
      {
        details,
        cause,
      },
    );
  }
  // Say why each key was out of reach (no keyring, no PKCS#11 module, a key not on the token).
  const why = [...new Set(failures.map((f) => f.message))].slice(0, 4);
  return new SealtrainError(
    'ERR_SEAL_NO_RECIPIENT',
    `Cannot open ${name}: none of its recipients (${listed.join(', ')}) is a key you have.${why.length ? ` ${why.join(' ')}` : ''}`,
    { details },
  );
}
