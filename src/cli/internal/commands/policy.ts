import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { MAX_EVIDENCE_BYTES } from '../../../attest/evidence.js';
import type { Claims, Verdict } from '../../../attest/index.js';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import type { ReleasePolicy } from '../../../policy/index.js';
import { writeFileAtomic } from '../../../store/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import { type AttestCliOptions, readJson, timeOf, verifiedEvidence } from './attest.js';

/** The policy module, loaded by the commands that use it: the CLI starts without it. */
const policyModule = () => import('../../../policy/index.js');

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
  stdoutIsData?: (opts: Record<string, unknown>) => boolean,
) => (...args: unknown[]) => Promise<void>;

interface PolicyCliOptions extends AttestCliOptions {
  authority?: string;
  attestPolicy?: string;
  fromEvidence?: string;
  verbose?: boolean;
}

const opts = (session: Session): PolicyCliOptions => session.opts as PolicyCliOptions;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

async function readBytes(path: string, what: string, limit: number): Promise<Buffer> {
  try {
    const size = (await stat(path)).size;
    if (size > limit)
      throw new SealtrainError('ERR_USAGE_INVALID', `The ${what} ${path} is ${size} bytes, over ${limit}.`, {
        details: { path },
      });
    return await readFile(path);
  } catch (error) {
    if (error instanceof SealtrainError) throw error;
    throw fromFsError(error, `read the ${what}`, path);
  }
}

async function readPolicy(path: string): Promise<{ policy: ReleasePolicy; warnings: readonly string[] }> {
  const { POLICY_LIMITS, validateReleasePolicy } = await policyModule();
  const bytes = await readBytes(path, 'release policy', POLICY_LIMITS.bytes).catch((e: unknown) => {
    if (e instanceof SealtrainError && e.code === 'ERR_USAGE_INVALID')
      throw new SealtrainError('ERR_POLICY_INVALID', e.message, { details: e.details });
    throw e;
  });
  return validateReleasePolicy(bytes, path);
}

/** Verifies evidence as `attest verify` does; refuses evidence that does not verify. */
async function checkedEvidence(session: Session, file: string, bytes: Buffer, out: Output): Promise<Verdict> {
  const verdict = await verifiedEvidence(session, out, file, bytes, opts(session).attestPolicy);
  if (verdict.sim) out.note('WARNING: the evidence is SIMULATED and proves nothing about hardware.');
  return verdict;
}

interface Input {
  readonly source: 'token' | 'claims' | 'evidence';
  readonly claims: Claims;
  readonly issuer?: string;
  /** Whether a signature was checked (token with --jwks, or evidence). */
  readonly verified: boolean;
}

async function tokenInput(
  session: Session,
  file: string,
  token: string,
  policy: ReleasePolicy,
): Promise<Input> {
  const o = opts(session);
  if (!o.jwks) {
    let claims: Claims;
    try {
      claims = (await import('jose')).decodeJwt(token) as Claims;
    } catch (cause) {
      throw new SealtrainError('ERR_ATTEST_MALFORMED', `The token ${file} cannot be decoded.`, { cause });
    }
    const iss = typeof claims.iss === 'string' ? { issuer: claims.iss } : {};
    return { source: 'token', claims, verified: false, ...iss };
  }
  const now = timeOf(o.at);
  const { verifyMaaToken } = await import('../../../attest/index.js');
  const result = await verifyMaaToken(token, {
    jwks: await readJson(o.jwks, 'JWKS'),
    issuers: policy.anyOf.map((r) => r.authority),
    ...(now ? { now } : {}),
  });
  const failures = result.checks.filter((c) => !c.ok);
  if (failures.length > 0)
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `Token ${file} was rejected: ${failures.map((f) => f.id).join(', ')}.`,
      { details: { file, failures: failures.map((f) => `${f.id}: ${f.message}`) } },
    );
  return { source: 'token', claims: result.claims, verified: true, issuer: result.claims.iss as string };
}

async function readInput(session: Session, file: string, policy: ReleasePolicy, out: Output): Promise<Input> {
  const bytes = await readBytes(file, 'input', MAX_EVIDENCE_BYTES);
  const text = bytes.toString('utf8').trim();
  if (JWT.test(text)) return tokenInput(session, file, text, policy);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  const record = typeof json === 'object' && json !== null && !Array.isArray(json) ? json : undefined;
  const evidence =
    record && ('sealtrain-evidence' in record || ('hcl_report' in record && 'tpm_quote' in record));
  if (record && !evidence) {
    const claims = record as Claims;
    const iss = typeof claims.iss === 'string' ? { issuer: claims.iss } : {};
    return { source: 'claims', claims, verified: false, ...iss };
  }
  const verdict = await checkedEvidence(session, file, bytes, out);
  return { source: 'evidence', claims: verdict.claims, verified: true };
}

function sourceNote(input: Input, authority: string | undefined): string {
  if (input.source === 'token' && !input.verified)
    return "NOTE: the token's signature was NOT verified (pass --jwks <file> to verify it against the policy's authorities).";
  if (input.source === 'claims')
    return 'NOTE: these claims were read as given; nothing about them was verified.';
  if (input.source === 'evidence' && authority === undefined)
    return 'NOTE: evidence has no token issuer; pass --authority <url> to say which attestation service would issue its token.';
  return '';
}

async function explain(session: Session, out: Output, policyFile: string, inputFile: string): Promise<void> {
  const o = opts(session);
  const { policy, warnings } = await readPolicy(policyFile);
  for (const w of warnings) out.note(`WARNING: ${w}`);
  const input = await readInput(session, inputFile, policy, out);
  const authority = o.authority ?? input.issuer;
  const note = sourceNote(input, authority);
  if (note) out.note(note);
  const { evaluatePolicy, explainText, failedConditions } = await policyModule();
  const decision = evaluatePolicy(policy, input.claims, authority === undefined ? {} : { authority });
  const text = explainText(decision, { verbose: o.verbose ?? false });
  if (!decision.allowed) {
    if (!out.json) process.stderr.write(`${text}\n`);
    const failures = failedConditions(decision).map(
      (n) => `${n.path}${n.kind === 'claim' ? ` ${n.claim}` : ''}: ${n.reason}`,
    );
    throw new SealtrainError('ERR_RELEASE_DENIED', `Release policy ${policyFile} denies ${inputFile}.`, {
      details: {
        policy: policyFile,
        input: inputFile,
        source: input.source,
        verified: input.verified,
        ...(authority ? { authority } : {}),
        failures,
      },
    });
  }
  out.result({ allowed: true, source: input.source, verified: input.verified, warnings, decision }, text);
}

async function generate(session: Session, out: Output): Promise<void> {
  const o = opts(session);
  const file = o.fromEvidence ?? '';
  const bytes = await readBytes(file, 'evidence', MAX_EVIDENCE_BYTES);
  const verdict = await checkedEvidence(session, file, bytes, out);
  const { generatePolicy, policyAllowsSim } = await policyModule();
  const policy = generatePolicy(verdict, { authority: o.authority ?? '' });
  const sim = policyAllowsSim(policy);
  if (sim)
    out.note('WARNING: this policy admits only SIMULATED evidence (x-ms-attestation-type equals sim).');
  const text = `${JSON.stringify(policy, null, 2)}\n`;
  if (o.output && o.output !== '-') {
    await writeFileAtomic(o.output, text, { overwrite: o.force ?? false, mode: 0o644 });
    out.result(
      { output: o.output, sim, policy },
      `Wrote a release policy for ${verdict.kind} evidence to ${o.output}.`,
    );
  } else if (out.json) out.result({ sim, policy }, '');
  else process.stdout.write(text);
}

const EVIDENCE_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['--at <time>', 'check certificates and tokens at this time instead of now (ISO 8601)'],
  ['--nonce <value>', 'the nonce you issued: text, hex:<hex> or b64:<base64>'],
  ['--certs <dir>', 'folder of AMD certificates (VCEK/VLEK, ASK/ASVK, ARK); they win over the evidence'],
  ['--cert-cache <dir>', 'read-only VCEK cache: <dir>/<Product>/<hwid>/<TCB as 16 hex digits>.der'],
  ['--jwks <file>', 'JWKS with the Azure Attestation signing keys (verifies tokens)'],
  ['--attest-policy <file>', 'attestation policy for evidence (default: real hardware, debug off)'],
  ['--allow-sim', 'accept simulated evidence (INSECURE, development only)'],
  ['--sim-key <file>', 'public key of the sim attester (default: the one under --home)'],
];

function withEvidenceOptions(command: Command): Command {
  for (const [flags, help] of EVIDENCE_OPTIONS) command.option(flags, help);
  return command;
}

/** `sealtrain policy validate|explain|generate`: Key Vault release policies (docs/policy.md). */
export function policyCommand(program: Command, run: Run): void {
  const policy = program
    .command('policy')
    .description('Validate, explain and generate Key Vault release policies');
  policy
    .command('validate <policy>')
    .description('Check a release policy against the Key Vault grammar, naming the path of every problem')
    .addHelpText('after', '\nExample:\n  sealtrain policy validate skr-policy.json')
    .action(
      run(async (_session, out, file = '') => {
        const { policy: p, warnings } = await readPolicy(file);
        for (const w of warnings) out.note(`WARNING: ${w}`);
        const sim = (await policyModule()).policyAllowsSim(p);
        const text = `Release policy ${file} is valid: ${p.anyOf.length} rule(s) for ${p.anyOf.map((r) => r.authority).join(', ')}${sim ? '; it admits SIMULATED evidence' : ''}.`;
        out.result({ policy: p, warnings, sim }, text);
      }),
    );
  withEvidenceOptions(
    policy
      .command('explain <policy> <input>')
      .description(
        'Show whether a policy releases to a token, claims JSON or evidence, and why (exit 91 if not)',
      ),
  )
    .option('--authority <url>', "the token issuer to match (default: the token's or claims' iss)")
    .option('--verbose', 'also list the conditions of rules whose authority does not match')
    .addHelpText(
      'after',
      '\nA token is only decoded unless --jwks is given. Examples:\n' +
        '  sealtrain policy explain skr-policy.json maa-token.jwt\n' +
        '  sealtrain policy explain skr-policy.json maa-token.jwt --jwks maa-keys.json --at 2025-12-15T20:00:00Z\n' +
        '  sealtrain policy explain policy.json report.bin --certs ./amd --authority https://127.0.0.1:8443 --json',
    )
    .action(
      run(async (session, out, policyFile = '', inputFile = '') =>
        explain(session, out, policyFile, inputFile),
      ),
    );
  withEvidenceOptions(
    policy
      .command('generate')
      .description("Write a policy pinning verified evidence's measurement, debug off and minimum TCB"),
  )
    .requiredOption('--from-evidence <file>', 'the evidence (verified first, as attest verify does)')
    .requiredOption('--authority <url>', 'the attestation service whose tokens the policy trusts (https)')
    .option('-o, --output <file>', 'write the policy here instead of standard output')
    .option('-f, --force', 'replace an existing output')
    .addHelpText(
      'after',
      '\nExample:\n  sealtrain policy generate --from-evidence report.bin --certs ./amd \\\n' +
        '    --authority https://127.0.0.1:8443 -o policy.json',
    )
    .action(
      run(
        (session, out) => generate(session, out),
        (o) => (!o.output || o.output === '-') && !o.json,
      ),
    );
}
