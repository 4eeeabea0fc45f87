import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEvent, type AuditSink, auditedProvider, type LocalKeyring } from '../../src/kms/index.js';
import { dek, newRing, rejectsWith, tempDir } from './helpers.js';

class MemorySink implements AuditSink {
  readonly events: AuditEvent[] = [];
  failing = false;
  async record(event: AuditEvent): Promise<void> {
    if (this.failing) throw new Error('audit log unavailable');
    this.events.push(event);
  }
}

let ring: LocalKeyring;
let cleanup: () => Promise<void>;
let sink: MemorySink;

beforeEach(async () => {
  const tmp = await tempDir();
  cleanup = tmp.cleanup;
  ring = await newRing(tmp.dir);
  sink = new MemorySink();
});
afterEach(async () => {
  ring.close();
  await cleanup();
});

describe('auditedProvider', () => {
  it('records each key operation with outcome, key and version', async () => {
    const p = auditedProvider(ring, sink, 'tester@host');
    expect(p.scheme).toBe('local');
    await p.create('alice');
    await p.rotate('alice');
    const w = await p.wrap('local:alice', dek());
    expect(Buffer.from(await p.unwrap(w))).toEqual(dek());
    await p.disableVersion('alice', '1');
    await p.list();
    await p.listVersions('alice');
    expect(sink.events).toEqual([
      {
        actor: 'tester@host',
        action: 'keys.create',
        outcome: 'ok',
        key: { uri: 'local:alice', version: '1' },
      },
      {
        actor: 'tester@host',
        action: 'keys.rotate',
        outcome: 'ok',
        key: { uri: 'local:alice', version: '2' },
      },
      { actor: 'tester@host', action: 'keys.wrap', outcome: 'ok', key: { uri: 'local:alice', version: '2' } },
      {
        actor: 'tester@host',
        action: 'keys.unwrap',
        outcome: 'ok',
        key: { uri: 'local:alice', version: '2' },
      },
      {
        actor: 'tester@host',
        action: 'keys.disable',
        outcome: 'ok',
        key: { uri: 'local:alice', version: '1' },
      },
    ]);
  });

  it('records failures with their code and re-throws them unchanged', async () => {
    const p = auditedProvider(ring, sink, 'a');
    await rejectsWith(p.rotate('nobody'), 'ERR_KMS_KEY_NOT_FOUND');
    await p.create('alice');
    await rejectsWith(p.wrap('local:alice/4', dek()), 'ERR_KMS_VERSION_NOT_FOUND');
    const w = await p.wrap('local:alice', dek());
    const bad = Buffer.from(w.wrapped);
    bad[0] = (bad[0] ?? 0) ^ 1;
    await rejectsWith(p.unwrap({ ...w, wrapped: bad }), 'ERR_KMS_UNWRAP_FAILED');
    await rejectsWith(p.disableVersion('alice', '3'), 'ERR_KMS_VERSION_NOT_FOUND');
    const errors = sink.events.filter((e) => e.outcome === 'error');
    expect(errors).toEqual([
      {
        actor: 'a',
        action: 'keys.rotate',
        outcome: 'error',
        key: { uri: 'local:nobody' },
        code: 'ERR_KMS_KEY_NOT_FOUND',
      },
      {
        actor: 'a',
        action: 'keys.wrap',
        outcome: 'error',
        key: { uri: 'local:alice', version: '4' },
        code: 'ERR_KMS_VERSION_NOT_FOUND',
      },
      {
        actor: 'a',
        action: 'keys.unwrap',
        outcome: 'error',
        key: { uri: 'local:alice', version: '1' },
        code: 'ERR_KMS_UNWRAP_FAILED',
      },
      {
        actor: 'a',
        action: 'keys.disable',
        outcome: 'error',
        key: { uri: 'local:alice', version: '3' },
        code: 'ERR_KMS_VERSION_NOT_FOUND',
      },
    ]);
  });

  it('keeps the original error when recording fails, and fails an unrecorded success', async () => {
    const p = auditedProvider(ring, sink, 'a');
    await p.create('alice');
    const w = await p.wrap('local:alice', dek());
    sink.failing = true;
    await rejectsWith(p.rotate('nobody'), 'ERR_KMS_KEY_NOT_FOUND');
    await expect(p.unwrap(w)).rejects.toThrow('audit log unavailable');
    await expect(p.rotate('alice')).rejects.toThrow('audit log unavailable');
  });

  it('wipes an unwrapped key it could not record', async () => {
    let handed: Uint8Array | undefined;
    const spy = {
      ...ring,
      scheme: ring.scheme,
      unwrap: async (x: Parameters<LocalKeyring['unwrap']>[0]) => {
        handed = await ring.unwrap(x);
        return handed;
      },
    } as unknown as LocalKeyring;
    await ring.create('alice');
    const w = await ring.wrap('local:alice', dek());
    sink.failing = true;
    await expect(auditedProvider(spy, sink, 'a').unwrap(w)).rejects.toThrow();
    expect(Buffer.from(handed ?? [1])).toEqual(Buffer.alloc(32));
  });
});
