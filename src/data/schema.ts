import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../audit/index.js';
import { SealtrainError } from '../errors/index.js';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** What happens to a missing or invalid value: fail (an error), drop the row, or impute it. */
export const policySchema = z.enum(['fail', 'drop', 'impute']);

/** How an imputed value is chosen, from the training split only. */
export const imputeSchema = z.union([
  z.enum(['mean', 'median', 'mode']),
  z.strictObject({ constant: z.union([finite, z.string(), z.boolean()]) }),
]);

const columnSchema = z
  .strictObject({
    name: z.string().min(1).max(256),
    type: z.enum(['number', 'integer', 'boolean', 'category']),
    min: finite.optional(),
    max: finite.optional(),
    categories: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    missing: policySchema.default('fail'),
    invalid: policySchema.default('fail'),
    impute: imputeSchema.optional(),
    normalize: z.enum(['zscore', 'minmax', 'none']).optional(),
  })
  .check((ctx) => {
    const c = ctx.value;
    const issue = (path: string, message: string) =>
      ctx.issues.push({ code: 'custom', path: [path], message, input: c });
    if (c.type === 'category' && c.categories === undefined)
      issue('categories', 'a category column lists its categories');
    if (c.type !== 'category' && c.categories !== undefined)
      issue('categories', 'only category columns have categories');
    if (c.min !== undefined && c.max !== undefined && c.min > c.max) issue('min', 'min is above max');
    if ((c.missing === 'impute' || c.invalid === 'impute') && c.impute === undefined)
      issue('impute', 'say how to impute: "mean", "median", "mode" or { "constant": … }');
    if (c.type === 'category' && (c.impute === 'mean' || c.impute === 'median'))
      issue('impute', 'a category column imputes "mode" or a constant');
    if (c.normalize !== undefined && (c.type === 'category' || c.type === 'boolean'))
      issue('normalize', 'only number and integer columns are normalised (categories are one-hot encoded)');
  });

/**
 * A dataset schema (`--schema s.json`): every column the input has, in any order, with its type,
 * allowed range or categories, what to do with missing and invalid values, and the
 * normalisation; `label` names the target column; `ignore` lists input columns to leave out.
 */
export const datasetSchemaSchema = z
  .strictObject({
    version: z.literal(1),
    label: z.string().min(1),
    columns: z.array(columnSchema).min(2).max(100_000),
    ignore: z.array(z.string()).default([]),
  })
  .check((ctx) => {
    const s = ctx.value;
    const names = new Set<string>();
    s.columns.forEach((c, i) => {
      if (names.has(c.name))
        ctx.issues.push({
          code: 'custom',
          path: ['columns', i, 'name'],
          message: `"${c.name}" appears twice`,
          input: s,
        });
      names.add(c.name);
    });
    const label = s.columns.find((c) => c.name === s.label);
    if (label === undefined)
      ctx.issues.push({
        code: 'custom',
        path: ['label'],
        message: `no column is named "${s.label}"`,
        input: s,
      });
    else if (
      label.type === 'boolean' ||
      label.normalize !== undefined ||
      label.missing === 'impute' ||
      label.invalid === 'impute'
    )
      ctx.issues.push({
        code: 'custom',
        path: ['label'],
        message:
          'the label is a category (classification) or a number (regression), never imputed or normalised',
        input: s,
      });
  });

/** A dataset schema as written in a file. */
export type DatasetSchemaInput = z.input<typeof datasetSchemaSchema>;
/** A validated dataset schema, defaults applied. */
export type DatasetSchema = z.output<typeof datasetSchemaSchema>;
/** One validated column. */
export type ColumnSpec = DatasetSchema['columns'][number];

/** Validates a schema object; `ERR_DATA_SCHEMA_INVALID` names every offending path. */
export function parseDatasetSchema(value: unknown, source = 'schema'): DatasetSchema {
  const result = datasetSchemaSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`,
  );
  throw new SealtrainError(
    'ERR_DATA_SCHEMA_INVALID',
    `The schema ${source} is invalid: ${problems.join('; ')}.`,
    {
      details: { source, problems },
    },
  );
}

/** SHA-256 (hex) of the schema's canonical JSON: what the lineage manifest records. */
export function schemaDigest(schema: DatasetSchema): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}

/**
 * Checks the input's header against the schema: every schema column must be there, and every
 * input column must be in the schema or in `ignore`. Errors name the columns.
 */
export function matchColumns(schema: DatasetSchema, columns: readonly string[], path: string): number[] {
  const index = new Map(columns.map((c, i) => [c, i]));
  const missing = schema.columns.filter((c) => !index.has(c.name)).map((c) => c.name);
  const known = new Set([...schema.columns.map((c) => c.name), ...schema.ignore]);
  const unknown = columns.filter((c) => !known.has(c));
  if (missing.length > 0 || unknown.length > 0) {
    const parts = [
      ...(missing.length > 0
        ? [
            `the schema's column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the input`,
          ]
        : []),
      ...(unknown.length > 0
        ? [
            `the input's column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the schema (add to "columns" or "ignore")`,
          ]
        : []),
    ];
    throw new SealtrainError(
      'ERR_DATA_SCHEMA_MISMATCH',
      `${path} does not match the schema: ${parts.join('; ')}.`,
      {
        details: { path, missing, unknown },
      },
    );
  }
  return schema.columns.map((c) => index.get(c.name) as number);
}
