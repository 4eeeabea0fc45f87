import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { decodeBase64 } from '../../../attest/evidence.js';
import type { AttestationPolicy, Verdict } from '../../../attest/index.js';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import { writeFileAtomic } from '../../../store/index.js';
import type { Output } from '../output.js';
import { readSmallFile } from '../read-small-file.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
  stdoutIsData?: (opts: Record<string, unknown>) => boolean,
) => (...args: unknown[]) => Promise<void>;

/** The evidence options `attest verify` reads (shared with `policy explain|generate`). */
export interface AttestCliOptions {
  nonce?: string;
  runtimeKey?: string;
  sim?: boolean;
  output?: string;
  force?: boolean;
  tcti?: string;
  policy?: string;
  at?: string;
  certs?: string;
  jwks?: string;
  allowSim?: boolean;
  simKey?: string;
  certCache?: string;
  thim?: boolean;
}

const opts = (session: Session): AttestCliOptions => session.opts as AttestCliOptions;

/** The attestation module, loaded by the commands that use it: the CLI starts without it. */
const attestModule = () => import('../../../attest/index.js');

/** `--nonce`: `hex:…`, `b64:…` (base64 or base64url), or UTF-8 text. */
export function parseNonce(value: string): Buffer {
  let bytes: Buffer;
  if (value.startsWith('hex:')) {
    const hex = value.slice(4);
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex))
      throw new SealtrainError('ERR_USAGE_INVALID', `--nonce ${value} is not whole bytes of hexadecimal.`);
    bytes = Buffer.from(hex, 'hex');
  } else if (value.startsWith('b64:')) bytes = decodeBase64(value.slice(4), '--nonce', 'the b64: value');
  else bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0 || bytes.length > 64)
    throw new SealtrainError('ERR_USAGE_INVALID', `--nonce must be 1 to 64 bytes, not ${bytes.length}.`);
  return bytes;
}

/** Policy, JWKS and key files are small; a larger one is a mistake, not something to parse. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** Reads a small text file (at most 1 MiB); `what` names it in errors. */
export async function readText(path: string, what: string): Promise<string> {
  return readSmallFile(path, what, { maxBytes: MAX_INPUT_BYTES, code: 'ERR_ATTEST_MALFORMED' });
}

/** Reads a small JSON file; not JSON is `ERR_ATTEST_MALFORMED`. */
export async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readText(path, what);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SealtrainError('ERR_ATTEST_MALFORMED', `The ${what} ${path} is not JSON.`, {
      cause,
      details: { path },
    });
  }
}

/** The attestation policy from `--policy` (default {@link DEFAULT_POLICY}), with `--allow-sim` applied. */
export async function policyOf(o: AttestCliOptions): Promise<AttestationPolicy> {
  const { DEFAULT_POLICY, parseAttestationPolicy } = await attestModule();
  let policy = DEFAULT_POLICY;
  if (o.policy) {
    const json = await readJson(o.policy, 'policy').catch((e: unknown) => {
      if (e instanceof SealtrainError && e.code === 'ERR_ATTEST_MALFORMED')
        throw new SealtrainError('ERR_ATTEST_POLICY_INVALID', e.message, { cause: e, details: e.details });
      throw e;
    });
    policy = parseAttestationPolicy(json, o.policy);
  }
  return o.allowSim ? { ...policy, allowSim: true } : policy;
}

/** Parses `--at`. */
export function timeOf(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--at must be an ISO 8601 time such as 2025-12-15T20:00:00Z, not "${value}".`,
    );
  return at;
}

/** The local sim attester's public key: `--sim-key`, else the key under --home if one exists. */
export async function simKeyOf(session: Session, o: AttestCliOptions): Promise<KeyObject | undefined> {
  const { publicKeyFrom } = await attestModule();
  if (o.simKey) return publicKeyFrom(await readText(o.simKey, 'sim public key'), o.simKey);
  const path = join(session.home, 'attest', 'sim-key.pem');
  const pem = await readFile(path, 'utf8').catch(() => undefined);
  return pem === undefined ? undefined : publicKeyFrom(pem, path);
}

/** A verdict for people: ACCEPTED/REJECTED, every check, and the claims. */
export function verdictText(file: string, v: Verdict): string {
  const lines = [
    `${v.ok ? 'ACCEPTED' : 'REJECTED'}: ${file} (${v.kind}${v.sim ? ', SIMULATED: no hardware protection' : ''})`,
  ];
  for (const c of v.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.id.padEnd(28)} ${c.message}`);
  if (!v.fresh)
    lines.push('  note: no --nonce given, so freshness was not checked (the evidence could be a replay).');
  lines.push(`  checked at ${v.at}`, 'claims:', JSON.stringify(v.claims, null, 2).replace(/^/gm, '  '));
  return lines.join('\n');
}

/**
 * Verifies evidence bytes with the command's options (`--policy`, `--at`, `--nonce`, `--certs`,
 * `--cert-cache`, `--jwks`, `--allow-sim`, `--sim-key`) and refuses evidence that does not verify
 * with `ERR_ATTEST_REJECTED` listing every failed check. `attest verify` and `policy explain|generate`
 * share it. `policyFile` overrides `--policy` (the policy commands name it `--attest-policy`).
 */
export async function verifiedEvidence(
  session: Session,
  out: Output,
  file: string,
  bytes: Buffer,
  policyFile?: string,
): Promise<Verdict> {
  const o = opts(session);
  const { parseEvidence, readCertificatesDir, verifyEvidence } = await attestModule();
  const evidence = parseEvidence(bytes, file);
  const certificates = o.certs ? await readCertificatesDir(o.certs) : undefined;
  const simPublicKey = evidence.kind === 'sim' ? await simKeyOf(session, o) : undefined;
  const now = timeOf(o.at);
  const verdict = await verifyEvidence(evidence, {
    policy: await policyOf(policyFile === undefined ? o : { ...o, policy: policyFile }),
    ...(now ? { now } : {}),
    ...(o.nonce ? { nonce: parseNonce(o.nonce) } : {}),
    ...(o.jwks ? { maa: { jwks: await readJson(o.jwks, 'JWKS') } } : {}),
    ...(certificates ? { certificates } : {}),
    ...(o.certCache ? { snp: { certCache: o.certCache } } : {}),
    ...(simPublicKey ? { simPublicKey } : {}),
  });
  if (!verdict.ok) {
    if (!out.json) process.stderr.write(`${verdictText(file, verdict)}\n`);
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `Evidence ${file} was rejected: ${verdict.failures.map((f) => f.id).join(', ')}.`,
      { details: { file, failures: verdict.failures.map((f) => `${f.id}: ${f.message}`) } },
    );
  }
  return verdict;
}

/** `sealtrain attest detect|collect|verify`. */
export function attestCommand(program: Command, run: Run): void {
  const attest = program.command('attest').description('Detect a TEE, collect evidence and verify evidence');
  attest
    .command('detect')
    .description('Say which trusted execution environment this machine runs in, if any')
    .addHelpText('after', '\nExample:\n  sealtrain attest detect --json')
    .action(
      run(async (_session, out) => {
        const d = await (await attestModule()).detectTee();
        out.result({ detection: d }, `${d.platform}${d.supported ? '' : ' (not supported)'}: ${d.summary}`);
      }),
    );
  attest
    .command('collect')
    .description('Collect evidence bound to a nonce (and a runtime public key) from this TEE')
    .requiredOption('--nonce <value>', "the verifier's challenge: text, hex:<hex> or b64:<base64>")
    .option('--runtime-key <file>', 'the workload public key to bind (PEM or JWK)')
    .option('--sim', 'use the simulated TEE (INSECURE, development only; key under --home)')
    .option('-o, --output <file>', 'write the evidence envelope here instead of standard output')
    .option('-f, --force', 'replace an existing output')
    .option('--no-thim', "Azure CVM: do not fetch the VCEK from Azure's instance metadata (THIM)")
    .option('--tcti <tcti>', 'TPM transport for tpm2-tools on an Azure CVM (default device:/dev/tpmrm0)')
    .addHelpText(
      'after',
      '\nExamples:\n  sealtrain attest collect --nonce hex:00112233 -o evidence.json\n' +
        '  sealtrain attest collect --nonce dev-1 --sim --home ./state -o sim-evidence.json',
    )
    .action(
      run(
        async (session, out) => {
          const o = opts(session);
          const { collectEvidence, loadOrCreateSimKey, publicKeyFrom } = await attestModule();
          const runtimeKey = o.runtimeKey
            ? publicKeyFrom(await readText(o.runtimeKey, 'runtime key'), o.runtimeKey)
            : undefined;
          const sim = o.sim ? { privateKey: (await loadOrCreateSimKey(session.home)).privateKey } : undefined;
          if (sim) out.note('WARNING: sim evidence is simulated and proves nothing about hardware.');
          const evidence = await collectEvidence({
            nonce: parseNonce(o.nonce ?? ''),
            ...(runtimeKey ? { runtimeKey } : {}),
            ...(sim ? { sim } : {}),
            ...(o.tcti ? { tcti: o.tcti } : {}),
            ...(o.thim === false ? { thim: false as const } : {}),
          });
          const text = `${JSON.stringify(evidence, null, 2)}\n`;
          if (o.output) {
            await writeFileAtomic(o.output, text, { overwrite: o.force ?? false, mode: 0o644 });
            out.result(
              { kind: evidence.kind, output: o.output },
              `Wrote ${evidence.kind} evidence to ${o.output}.`,
            );
          } else if (out.json) out.result({ kind: evidence.kind, evidence }, '');
          else process.stdout.write(text);
        },
        (o) => !o.output && !o.json,
      ),
    );
  attest
    .command('verify <evidence>')
    .description('Verify evidence (signatures, AMD chain, freshness), then check it against a policy')
    .option(
      '--policy <file>',
      'attestation policy JSON (default: real hardware, debug and migration agent off)',
    )
    .option('--at <time>', 'check certificates and tokens at this time instead of now (ISO 8601)')
    .option('--nonce <value>', 'the nonce you issued: text, hex:<hex> or b64:<base64>')
    .option(
      '--certs <dir>',
      'folder of AMD certificates (VCEK/VLEK, ASK/ASVK, ARK; PEM or DER); they win over the evidence',
    )
    .option('--cert-cache <dir>', 'read-only VCEK cache: <dir>/<Product>/<hwid>/<TCB as 16 hex digits>.der')
    .option('--jwks <file>', 'JWKS with the Azure Attestation signing keys (for tokens)')
    .option('--allow-sim', 'accept simulated evidence (INSECURE, development only)')
    .option('--sim-key <file>', 'public key of the sim attester (default: the one under --home)')
    .addHelpText(
      'after',
      '\nExamples:\n  sealtrain attest verify evidence.json --nonce hex:00112233 --policy policy.json\n' +
        '  sealtrain attest verify report.bin --certs ./amd-certs --at 2025-01-01T00:00:00Z --json\n' +
        '  sealtrain attest verify token.jwt --jwks maa-keys.json --policy maa-policy.json',
    )
    .action(
      run(async (session, out, file = '') => {
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (error) {
          throw fromFsError(error, 'read the evidence', file);
        }
        const verdict = await verifiedEvidence(session, out, file, bytes);
        out.result({ verdict }, verdictText(file, verdict));
      }),
    );
}
