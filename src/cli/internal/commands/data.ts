import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CheckName, DatasetSchema, PrepareOptions } from '../../../data/index.js';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import type { Output } from '../output.js';
import { progressFor } from '../progress.js';
import type { Session } from '../session.js';
import { lineageSigner, verifyLineageCommand } from './lineage.js';

/**
 * The data capability (readers, Parquet and compression codecs, checks) loads on first use, not
 * at the start of every sealtrain command.
 */
const data = () => import('../../../data/index.js');

/** The names `--fail-on` takes (checked against the data capability's list when it runs). */
const FAIL_ON_HELP = 'duplicates,near-duplicates,drift,outliers';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface PrepareCliOptions {
  schema?: string;
  infer?: boolean;
  label?: string;
  output?: string;
  sealTo?: string[];
  labels?: string;
  delimiter?: string;
  split?: string;
  seed?: string;
  maxErrors?: string;
  reference?: string;
  failOn?: string;
  outlierZ?: string;
  force?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function integer(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${flag} must be an integer of at least ${min}, not "${text}".`,
    );
  }
  return n;
}

async function readJsonFile(
  path: string,
  what: string,
  code: 'ERR_DATA_SCHEMA_INVALID' | 'ERR_USAGE_INVALID',
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw fromFsError(cause, `read the ${what}`, path);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SealtrainError(code, `The ${what} ${path} is not valid JSON: ${(cause as Error).message}.`, {
      cause,
      details: { path },
    });
  }
}

/** Label counts from `{ "B": 357, "M": 212 }` or from another run's `report.json` (all splits). */
async function readReference(path: string): Promise<Record<string, number>> {
  const value = (await readJsonFile(path, 'reference', 'ERR_USAGE_INVALID')) as Record<
    string,
    unknown
  > | null;
  const fromReport = value?.classes as Record<string, Record<string, number>> | undefined;
  const counts: Record<string, number> = {};
  if (fromReport !== undefined && typeof fromReport === 'object') {
    for (const split of Object.values(fromReport))
      for (const [k, v] of Object.entries(split)) counts[k] = (counts[k] ?? 0) + v;
    return counts;
  }
  for (const [k, v] of Object.entries(value ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `The reference ${path} must map each class to a count (e.g. {"B": 357, "M": 212}) or be a report.json; "${k}" is not a count.`,
      );
    }
    counts[k] = v;
  }
  if (Object.values(counts).reduce((a, b) => a + b, 0) === 0) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The reference ${path} has no label counts to compare with.`,
    );
  }
  return counts;
}

async function failOnOf(text: string | undefined): Promise<CheckName[]> {
  const { CHECK_NAMES } = await data();
  if (text === undefined) return [];
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !CHECK_NAMES.includes(n as CheckName));
  if (bad.length > 0) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--fail-on takes ${CHECK_NAMES.join(', ')}; not ${bad.join(', ')}.`,
    );
  }
  return names as CheckName[];
}

async function schemaOf(o: PrepareCliOptions): Promise<DatasetSchema | undefined> {
  if ((o.schema === undefined) === (o.infer !== true)) {
    throw new SealtrainError('ERR_USAGE_INVALID', 'prepare needs exactly one of --schema <file> or --infer.');
  }
  if (o.schema === undefined) return undefined;
  return (await data()).parseDatasetSchema(
    await readJsonFile(o.schema, 'schema', 'ERR_DATA_SCHEMA_INVALID'),
    o.schema,
  );
}

const HELP = `
Examples:
  sealtrain prepare examples/wdbc.csv --infer --label diagnosis -o wdbc-prepared
  sealtrain prepare patients.csv --schema patients.schema.json -o prepared --seal-to local:hospital-a \\
    --split 0.7,0.15,0.15 --seed 7 --fail-on duplicates,outliers --passphrase-file pass.txt
  sealtrain prepare /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \\
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --infer --label label -o fmnist

Writes into a new folder (complete or not at all): train/validation/test tensor files (sealed with
--seal-to, so plaintext never touches the disk), schema.json, transform.json (fitted on the training
split only; sealed with --seal-to), report.json and a signed lineage.json (verify it with
sealtrain lineage verify <dir>/lineage.json). With --infer the inferred schema is schema.json: review it.`;

/** `sealtrain prepare` and `sealtrain lineage verify`. */
export function dataCommands(program: Command, run: Run): void {
  program
    .command('prepare <input>')
    .description(
      'Validate, split, normalise and seal a dataset (CSV, JSON Lines, Parquet, IDX), with signed lineage',
    )
    .option('-o, --output <dir>', 'output folder (must not exist unless --force)')
    .option('--schema <file>', 'the dataset schema (JSON); see docs/data.md')
    .option('--infer', 'infer the schema from the first 10,000 rows and write it out for review')
    .option('--label <column>', 'with --infer: the label column (default: the last column)')
    .option('--seal-to <uri>', 'seal the outputs for this key (repeat for several)', collect)
    .option('--labels <file>', 'for an IDX images file: its IDX labels file')
    .option('--delimiter <char>', 'CSV field delimiter (default , or tab for .tsv)')
    .option('--split <shares>', 'train,validation,test shares (default 0.8,0.1,0.1)')
    .option('--seed <n>', 'seed of the stratified split (default 0)')
    .option('--max-errors <n>', 'collect this many errors before failing (default 10)')
    .option(
      '--reference <file>',
      'label counts to test the training labels against for drift (JSON, or a report.json)',
    )
    .option('--fail-on <checks>', `fail when these checks find something: ${FAIL_ON_HELP}`)
    .option('--outlier-z <n>', 'outliers lie beyond this many training standard deviations (default 6)')
    .option('-f, --force', 'replace an existing output folder')
    .addHelpText('after', HELP)
    .action(
      run(async (session, out, input = '') => {
        const o = session.opts as PrepareCliOptions;
        if (!o.output) throw new SealtrainError('ERR_USAGE_INVALID', 'prepare needs -o <dir>.');
        const schema = await schemaOf(o);
        const maxErrors = integer(o.maxErrors, '--max-errors', 1);
        const seed = integer(o.seed, '--seed', 0);
        if (seed !== undefined && seed > 0xffff_ffff) {
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `--seed must be at most 4294967295 (32 bits), not ${seed}.`,
          );
        }
        const outlierZ = o.outlierZ === undefined ? undefined : Number(o.outlierZ);
        if (outlierZ !== undefined && !(outlierZ > 0))
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `--outlier-z must be a positive number, not "${o.outlierZ}".`,
          );
        const options: PrepareOptions = {
          ...(schema !== undefined ? { schema } : { infer: o.label !== undefined ? { label: o.label } : {} }),
          read: {
            ...(o.delimiter !== undefined ? { delimiter: o.delimiter } : {}),
            ...(o.labels !== undefined ? { labels: o.labels } : {}),
          },
          ...(o.split !== undefined ? { fractions: (await data()).parseFractions(o.split) } : {}),
          ...(seed !== undefined ? { seed } : {}),
          ...(maxErrors !== undefined ? { maxErrors } : {}),
          checks: {
            failOn: await failOnOf(o.failOn),
            ...(o.reference !== undefined ? { reference: await readReference(o.reference) } : {}),
            ...(outlierZ !== undefined ? { outlierZ } : {}),
          },
          ...(o.sealTo?.length
            ? {
                // Key use is audited by the providers; the run itself by data.prepare, which names the
                // output folder (a per-file seal entry would name the temporary folder).
                seal: { recipients: o.sealTo, providers: await session.providers() },
              }
            : {}),
          overwrite: o.force ?? false,
          signingKey: await lineageSigner(session),
          audit: await session.auditContext(),
        };
        const { prepareDataset } = await data();
        // The bar starts only now, so that no error above can leave it drawn.
        const bar = progressFor('Preparing', (await stat(input).catch(() => undefined))?.size, !out.json);
        try {
          const r = await prepareDataset(input, o.output, {
            ...options,
            ...(bar.onProgress
              ? { onProgress: (phase, done) => phase === 'read' && bar.onProgress?.(done) }
              : {}),
          });
          bar.stop();
          const rows = r.report.split.rows;
          const c = r.report.checks.summary;
          out.result(
            {
              output: r.output,
              rows: r.report.ingest.rowsKept,
              dropped: r.report.ingest.rowsDropped,
              imputed_cells: r.report.ingest.cellsImputed,
              split: rows,
              features: r.transform.outputs.length,
              schema_inferred: r.report.schemaInferred,
              checks: c,
              outputs: r.outputs,
              lineage_sha256: r.manifest,
            },
            [
              `Prepared ${input} → ${r.output}: ${r.report.ingest.rowsKept} rows (${rows.train} train, ${rows.validation} validation, ${rows.test} test), ${r.transform.outputs.length} features${o.sealTo?.length ? `, sealed for ${o.sealTo.join(', ')}` : ''}.`,
              `Dropped ${r.report.ingest.rowsDropped} rows, imputed ${r.report.ingest.cellsImputed} values. Duplicates across splits: ${c.duplicate_groups_across_splits}; near duplicates: ${c.near_duplicate_groups_across_splits}; rows with outliers: ${c.rows_with_outliers}.`,
              ...(r.report.schemaInferred
                ? [
                    `The schema was inferred: review ${r.output}/schema.json and pass it with --schema next time.`,
                  ]
                : []),
              `Lineage: ${r.output}/lineage.json (signed; sealtrain lineage verify ${r.output}/lineage.json).`,
            ].join('\n'),
          );
        } finally {
          bar.stop();
        }
      }),
    );
  verifyLineageCommand(program, run);
}
