import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readAuditEntries, verifyAuditLog } from '../../../audit/index.js';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface AuditCliOptions {
  publicKey?: string;
  expectHead?: string;
  strict?: boolean;
  limit?: string;
  action?: string;
}

function expectedHead(value: string | undefined): { expectedHead?: { seq: number; hash: string } } {
  if (value === undefined) return {};
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value);
  if (!m)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--expect-head must look like <seq>:<64 hex digits>, not "${value}".`,
    );
  return { expectedHead: { seq: Number(m[1]), hash: m[2] ?? '' } };
}

/** Shows control characters from stored strings as escapes so entries cannot drive the terminal. */
function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const control = (c < 0x20 && ch !== '\n') || (c >= 0x7f && c <= 0x9f);
    out += control ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

/** `sealtrain audit verify|show`. */
export function auditCommand(program: Command, run: Run): void {
  const audit = program.command('audit').description('Check and read the tamper-evident audit log');
  audit
    .command('verify')
    .description(
      'Verify the hash chain and signed heads; name every edited, deleted, inserted, reordered or truncated entry',
    )
    .option(
      '--public-key <pem>',
      'pin the signing public key (PEM file) instead of trusting the one in --home',
    )
    .option('--expect-head <seq:hash>', 'a head exported earlier; the log must still contain it')
    .option('--strict', 'also fail on entries after the last signed head')
    .addHelpText(
      'after',
      '\nExample:\n  sealtrain audit verify --public-key audit-signing.pub.pem --expect-head 41:3fa4…',
    )
    .action(
      run(async (session, out) => {
        const o = session.opts as AuditCliOptions;
        const publicKeyPem = o.publicKey
          ? await readFile(o.publicKey, 'utf8').catch((e: unknown) => {
              throw fromFsError(e, 'read', o.publicKey ?? '');
            })
          : undefined;
        const report = await verifyAuditLog(session.auditDir, {
          ...(publicKeyPem ? { publicKeyPem } : {}),
          ...expectedHead(o.expectHead),
          ...(o.strict ? { strict: true } : {}),
        });
        if (!report.ok) {
          const lines = report.problems.map((p) => `  ${p.kind}: ${p.message}`);
          throw new SealtrainError(
            'ERR_AUDIT_VERIFY_FAILED',
            `Audit log in ${session.auditDir} failed verification:\n${lines.join('\n')}`,
            {
              details: {
                path: session.auditDir,
                problems: report.problems.map((p) => `${p.kind}: ${p.message}`),
              },
            },
          );
        }
        const warnings = report.problems.map((p) => `  warning ${p.kind}: ${p.message}`);
        out.result(
          { report },
          [
            `Audit log verified: ${report.entries} entries, ${
              report.signedThrough === null
                ? 'no signed head yet'
                : `signed through entry ${report.signedThrough}`
            }.`,
            ...warnings,
          ].join('\n'),
        );
      }),
    );
  audit
    .command('show')
    .description('Print audit entries, newest last')
    .option('-n, --limit <n>', 'only the last n entries')
    .option('--action <name>', 'only entries with this action, e.g. unseal')
    .action(
      run(async (session, out) => {
        const o = session.opts as AuditCliOptions;
        const limit = o.limit === undefined ? undefined : Number(o.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `--limit must be a positive integer, not "${o.limit}".`,
          );
        }
        const entries = await readAuditEntries(session.auditDir, {
          ...(limit !== undefined ? { limit } : {}),
          ...(o.action ? { action: o.action } : {}),
        });
        const text = entries.map((e) => {
          const key = e.key ? ` ${e.key.uri}${e.key.version ? `/${e.key.version}` : ''}` : '';
          const file = e.file ? ` ${e.file.path} sha256:${e.file.sha256.slice(0, 12)}…` : '';
          return `#${e.seq} ${e.time} ${e.actor} ${e.action} ${e.outcome}${e.code ? ` ${e.code}` : ''}${key}${file}`;
        });
        out.result({ entries }, text.length ? printable(text.join('\n')) : 'The audit log is empty.');
      }),
    );
}
