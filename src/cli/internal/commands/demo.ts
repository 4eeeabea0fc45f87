import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { collectEvidence, DEFAULT_POLICY, parseEnvelope, verifyEvidence } from '../../../attest/index.js';
import { AuditLog, verifyAuditLog } from '../../../audit/index.js';
import { isSealtrainError, SealtrainError } from '../../../errors/index.js';
import { auditedProvider, LocalKeyring } from '../../../kms/index.js';
import { inspectFile, rewrapFile, sealFile, unsealFile } from '../../../seal/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

const SAMPLE = fileURLToPath(new URL('../../../../examples/iris.csv', import.meta.url));
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** `sealtrain demo`: the sealing flow end to end on the shipped example, in `<home>/demo`. */
export function demoCommand(program: Command, run: Run): void {
  program
    .command('demo')
    .description(
      'Seal, rotate, rewrap and unseal the example dataset in a throwaway keyring under <home>/demo, then attest on the simulated TEE',
    )
    .addHelpText('after', '\nExample:\n  npx sealtrain demo --home /tmp/sealtrain-demo')
    .action(run(async (session, out) => out.result(await runDemo(session, out), 'Demo complete.')));
}

async function runDemo(session: Session, out: Output): Promise<Record<string, unknown>> {
  const dir = join(session.home, 'demo');
  await rm(dir, { recursive: true, force: true });
  const steps: Array<{ step: string; ok: boolean; detail: string }> = [];
  const step = (name: string, detail: string): void => {
    steps.push({ step: name, ok: true, detail });
    out.note(`✔ ${name}: ${detail}`);
  };
  out.note(`sealtrain demo in ${dir} (a throwaway keyring whose passphrase exists only in memory)`);
  const pass = randomBytes(32);
  const ring = await LocalKeyring.init(join(dir, 'keyring'), pass);
  pass.fill(0);
  const log = await AuditLog.open(join(dir, 'audit'));
  const audit = { sink: log, actor: `demo:${session.actor}` };
  const providers = [auditedProvider(ring, log, audit.actor)];
  try {
    const key = await providers[0]?.create('demo-owner');
    step('keys create', `${key?.uri} version ${key?.version}`);
    const sealed = join(dir, 'iris.csv.sealed');
    const meta = { dataset_id: 'iris', content_type: 'text/csv' };
    const s = await sealFile(SAMPLE, sealed, { recipients: ['local:demo-owner'], providers, meta, audit });
    step(
      'seal',
      `examples/iris.csv → ${sealed} (${s.plaintextLength} bytes, ${s.chunkCount} chunk, ${s.engine} AES-GCM)`,
    );
    const info = await inspectFile(sealed);
    step(
      'inspect',
      `dataset ${info.meta.dataset_id}, recipient ${info.recipients.map((r) => `${r.uri}/${r.version}`).join(', ')}`,
    );
    const v2 = await providers[0]?.rotate('demo-owner');
    const rw = await rewrapFile(sealed, { providers, audit });
    step(
      'rotate + rewrap',
      `now version ${v2?.version}; header moved ${rw.from[0]?.version} → ${rw.to[0]?.version} without re-encrypting`,
    );
    const plain = join(dir, 'iris.unsealed.csv');
    await unsealFile(sealed, plain, { providers, audit });
    const same = sha256(await readFile(plain)) === sha256(await readFile(SAMPLE));
    if (!same) throw new SealtrainError('ERR_INTERNAL', 'The unsealed sample differs from the original.');
    step('unseal', `${plain} is byte-identical to the original`);
    step('tamper check', await tamperCheck(sealed, providers, audit));
  } finally {
    ring.close();
    await log.close();
  }
  const report = await verifyAuditLog(join(dir, 'audit'));
  if (!report.ok) throw new SealtrainError('ERR_AUDIT_VERIFY_FAILED', `The demo's audit log did not verify.`);
  step('audit verify', `${report.entries} entries, hash chain and signed heads intact`);
  step('attest (sim)', await simAttestation());
  return { demo: dir, tee: 'sim (simulated, insecure: no hardware protection)', steps };
}

/**
 * Attestation on the simulated TEE, with keys that live only in memory: evidence bound to a fresh
 * nonce and a workload key, refused by the default policy, accepted only when sim is allowed.
 */
async function simAttestation(): Promise<string> {
  const sim = generateKeyPairSync('ed25519');
  const workload = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const nonce = randomBytes(32);
  const envelope = await collectEvidence({
    nonce,
    runtimeKey: workload.publicKey,
    sim: { privateKey: sim.privateKey },
  });
  const evidence = parseEnvelope(JSON.parse(JSON.stringify(envelope)), 'demo evidence');
  const refused = await verifyEvidence(evidence, { nonce, simPublicKey: sim.publicKey });
  const allowSim = { ...DEFAULT_POLICY, allowSim: true };
  const allowed = await verifyEvidence(evidence, { nonce, simPublicKey: sim.publicKey, policy: allowSim });
  const refusedFor = refused.failures.map((f) => f.id).join(', ');
  if (refused.ok || refusedFor !== 'policy.allow-sim' || !allowed.ok || !allowed.fresh)
    throw new SealtrainError('ERR_INTERNAL', 'The simulated attestation did not behave as specified.');
  return `SIMULATED TEE evidence bound to a fresh nonce and the workload key: the default policy refuses it (${refusedFor}); with allowSim all ${allowed.checks.length} checks pass. On a confidential VM, \`sealtrain attest collect\` gets real evidence.`;
}

async function tamperCheck(
  sealed: string,
  providers: Parameters<typeof unsealFile>[2]['providers'],
  audit: { sink: AuditLog; actor: string },
): Promise<string> {
  const bytes = await readFile(sealed);
  const last = bytes.length - 20;
  bytes[last] = (bytes[last] ?? 0) ^ 1;
  const tampered = `${sealed}.tampered`;
  await writeFile(tampered, bytes);
  try {
    await unsealFile(tampered, `${tampered}.out`, { providers, audit });
  } catch (error) {
    if (isSealtrainError(error, 'ERR_SEAL_DECRYPT_FAILED'))
      return `one flipped bit was refused (${error.code}), no output written`;
    throw error;
  }
  throw new SealtrainError('ERR_INTERNAL', 'A tampered file was accepted.');
}
