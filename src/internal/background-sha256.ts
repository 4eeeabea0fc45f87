import { createHash, type Hash } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { NATIVE_GCM_FILE } from '../seal/internal/native-gcm.js';
import { loadAddon, optionalAddon } from './package-root.js';

/** A SHA-256 state inside the `sealtrain_native` addon (an opaque, tagged external). */
type NativeState = object;

/**
 * The SHA-256 stream of the `sealtrain_native` addon (`native/seal/addon.c`), with OpenSSL inside
 * the running `node`. A state takes one update at a time: while `sha256UpdateAsync` runs on the
 * libuv threadpool, every other call on that state throws (ERR_INVALID_STATE), and the caller
 * must not change `data`. `sha256Digest` spends the state. Anything but a state from
 * `sha256Create` or `sha256Copy` is a TypeError (ERR_INVALID_ARG_TYPE).
 */
export interface NativeSha256 {
  sha256Create(): NativeState;
  sha256UpdateAsync(state: NativeState, data: Uint8Array, callback: (err: Error | null) => void): void;
  sha256Copy(state: NativeState): NativeState;
  sha256Digest(state: NativeState): Buffer;
}

const EXPORTS = ['sha256Create', 'sha256UpdateAsync', 'sha256Copy', 'sha256Digest'] as const;

/** The addon's SHA-256 stream, or undefined when the addon cannot load (then `node:crypto` serves). */
export const tryLoadNativeSha256 = optionalAddon(() =>
  loadAddon<NativeSha256>(import.meta.url, NATIVE_GCM_FILE, 'native SHA-256', EXPORTS),
);

/**
 * SHA-256 of bytes that become final one piece after another, hashed on the thread pool while the
 * main thread goes on (with another hash of the same bytes, say). `update` only queues: each piece
 * must stay unchanged until {@link BackgroundSha256.digest} settles. Without the addon, the pieces
 * are hashed at once on the calling thread with `node:crypto`, with the same results.
 */
export class BackgroundSha256 {
  readonly #native: NativeSha256 | undefined;
  readonly #state: NativeState | Hash;
  /** Steps waiting for the update in flight, in order. */
  readonly #waiting: Step[] = [];
  #busy = false;
  #failed: Error | undefined;
  #ended = false;

  constructor(options: { native?: NativeSha256 | undefined } = { native: tryLoadNativeSha256() }) {
    let state: NativeState | undefined;
    try {
      state = options.native?.sha256Create();
    } catch {} // out of memory in the addon: node:crypto serves this stream
    this.#native = state ? options.native : undefined;
    this.#state = state ?? createHash('sha256');
  }

  /**
   * Queues `bytes` (which must not change until the digest settles). With the addon idle, the
   * update starts on the thread pool before this returns: work the caller does next on this
   * thread runs beside it.
   */
  update(bytes: Uint8Array): void {
    this.#open('update');
    if (!this.#native) (this.#state as Hash).update(bytes);
    else this.#push({ kind: 'update', bytes });
  }

  /** The digest of every byte queued so far; the stream goes on. */
  digestSoFar(): Promise<Buffer> {
    this.#open('digestSoFar');
    if (!this.#native) return Promise.resolve((this.#state as Hash).copy().digest());
    return new Promise((resolve, reject) => this.#push({ kind: 'copy', resolve, reject }));
  }

  /** The digest of every byte queued; the stream ends, its state is cleansed. */
  digest(): Promise<Buffer> {
    this.#open('digest');
    this.#ended = true;
    if (!this.#native) return Promise.resolve((this.#state as Hash).digest());
    return new Promise((resolve, reject) => this.#push({ kind: 'digest', resolve, reject }));
  }

  /**
   * Ends the stream without a result: the pieces not yet started are dropped (a digest asked for
   * and not yet given rejects), and the state is cleansed once the piece in flight, if any, is
   * hashed; the stream then keeps none of the bytes it was fed, and holds no buffer.
   */
  dispose(): void {
    if (this.#ended) return;
    const dropped = new SealtrainError('ERR_INTERNAL', 'The SHA-256 stream was disposed.');
    for (const step of this.#waiting.splice(0)) if (step.kind !== 'update') step.reject(dropped);
    this.digest().catch(() => {});
  }

  #push(step: Step): void {
    if (this.#failed) {
      if (step.kind !== 'update') step.reject(this.#failed);
      return;
    }
    this.#waiting.push(step);
    this.#pump();
  }

  /** Runs the waiting steps in order, until one is an update (which runs on the thread pool). */
  #pump(): void {
    const n = this.#native as NativeSha256;
    const state = this.#state as NativeState;
    while (!this.#busy && !this.#failed) {
      const step = this.#waiting.shift();
      if (!step) return;
      try {
        if (step.kind === 'update') {
          this.#busy = true;
          n.sha256UpdateAsync(state, step.bytes, (err) => {
            this.#busy = false;
            if (err) this.#fail(err);
            else this.#pump();
          });
        } else step.resolve(n.sha256Digest(step.kind === 'copy' ? n.sha256Copy(state) : state));
      } catch (error) {
        this.#busy = false;
        if (step.kind !== 'update') step.reject(error);
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** Every digest asked for, now or later, rejects with `error`; the state is cleansed. */
  #fail(error: Error): void {
    this.#failed = error;
    for (const step of this.#waiting.splice(0)) if (step.kind !== 'update') step.reject(error);
    try {
      (this.#native as NativeSha256).sha256Digest(this.#state as NativeState);
    } catch {} // spent already, or the failure was OpenSSL's own
  }

  #open(what: string): void {
    if (this.#ended)
      throw new SealtrainError('ERR_INTERNAL', `BackgroundSha256.${what} was called after the digest.`);
  }
}

type Step =
  | { readonly kind: 'update'; readonly bytes: Uint8Array }
  | {
      readonly kind: 'copy' | 'digest';
      readonly resolve: (digest: Buffer) => void;
      readonly reject: (error: unknown) => void;
    };
