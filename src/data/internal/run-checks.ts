import {
  type ClassBalance,
  type ColumnStats,
  classBalance,
  type DuplicateReport,
  type LabelDrift,
  labelDrift,
  nearDuplicateQuanta,
  OutlierCounter,
  type OutlierReport,
} from '../checks.js';
import { SPLITS, type SplitName } from '../split.js';
import type { RawMatrix } from '../transform.js';
import { countDuplicates, groupKeys } from './key-groups.js';
import { RowHasher } from './row-hash.js';

/** A check `--fail-on` can name. */
export type CheckName = 'duplicates' | 'near-duplicates' | 'drift' | 'outliers';
/** Every check `--fail-on` accepts. */
export const CHECK_NAMES: readonly CheckName[] = ['duplicates', 'near-duplicates', 'drift', 'outliers'];

/** Options for the leakage and poisoning checks. */
export interface CheckOptions {
  /** Label counts to compare the training split's with (`--reference`). */
  readonly reference?: Readonly<Record<string, number>>;
  /** Checks whose findings fail the run. */
  readonly failOn?: readonly CheckName[];
  /** A value is an outlier beyond this many training standard deviations (default 6). */
  readonly outlierZ?: number;
  /** Drift fails when the p-value is below this (default 0.01). */
  readonly driftAlpha?: number;
  /** Near-duplicate quantum as a share of each column's training standard deviation (default 1e-3). */
  readonly nearFraction?: number;
}

/** The prepared rows the checks look at. */
export interface CheckInput {
  readonly matrix: RawMatrix;
  readonly labels: Int32Array | Float32Array;
  /** Split codes per row (0 train, 1 validation, 2 test, 255 none). */
  readonly split: Uint8Array;
  /** Class names (classification); undefined for regression. */
  readonly classes: readonly string[] | undefined;
  /** Input row numbers, for examples. */
  readonly sourceRows: Int32Array;
  /** Each column's statistics over the training rows, after imputation (from fitting). */
  readonly stats: readonly ColumnStats[];
  /**
   * The rows' exact keys (two words per row, `RowHasher.exact` of the imputed rows), when they
   * were made already (prepare makes them while it reads); else they are made here.
   */
  readonly exactKeys?: Uint32Array;
}

/** Examples kept per split and per pair of splits. */
const MAX_EXAMPLES = 10;

/** What the checks found; also written in `report.json`. */
export interface CheckReport {
  readonly duplicates: DuplicateReport;
  readonly nearDuplicates: DuplicateReport;
  readonly outliers: OutlierReport & { readonly z: number; readonly columns: readonly string[] };
  readonly balance?: Record<string, ClassBalance>;
  readonly drift?: LabelDrift & { readonly alpha: number };
  /** The numbers the lineage manifest keeps. */
  readonly summary: Record<string, number>;
}

function crossGroups(r: DuplicateReport): number {
  return (
    r.across['train-validation'].groups + r.across['train-test'].groups + r.across['validation-test'].groups
  );
}

/**
 * Exact and near duplicates within and across splits (on the converted, imputed values, before
 * normalisation, without the label, so a row repeated under another label counts), outliers per
 * column against the training split's mean and standard deviation, class balance per split, and
 * the training split's label drift against a reference.
 */
export function runChecks(data: CheckInput, options: CheckOptions): CheckReport {
  const { matrix: m, labels, split, classes, sourceRows, stats } = data;
  const width = m.columns.length;
  const hasher = new RowHasher(width);
  let exactKeys = data.exactKeys;
  if (exactKeys === undefined) {
    exactKeys = new Uint32Array(2 * m.rows);
    hasher.exact(m.values, 0, m.rows, exactKeys);
  }
  const duplicates = countDuplicates(groupKeys(exactKeys, split), split, sourceRows, MAX_EXAMPLES);
  const quanta = nearDuplicateQuanta(stats, { fraction: options.nearFraction ?? 1e-3 });
  const nearKeys = new Uint32Array(2 * m.rows);
  hasher.quantised(m.values, 0, m.rows, quanta, nearKeys);
  const nearDuplicates = countDuplicates(groupKeys(nearKeys, split), split, sourceRows, MAX_EXAMPLES);
  const z = options.outlierZ ?? 6;
  // Outliers are measured on number and integer columns only: a rare category or boolean is not one.
  const numeric = m.columns.flatMap((c, j) =>
    (c.type === 'number' || c.type === 'integer') &&
    Number.isFinite((stats[j] as ColumnStats).mean) &&
    Number.isFinite((stats[j] as ColumnStats).std)
      ? [j]
      : [],
  );
  const spreads = numeric.map((j) => ({
    center: (stats[j] as ColumnStats).mean,
    scale: (stats[j] as ColumnStats).std,
  }));
  const numericRow = new Float64Array(numeric.length);
  const outliers = new OutlierCounter(spreads, { z });
  if (numeric.length > 0) {
    for (let r = 0; r < m.rows; r++) {
      if ((split[r] as number) > 2) continue;
      const base = r * width;
      for (let k = 0; k < numeric.length; k++)
        numericRow[k] = m.values[base + (numeric[k] as number)] as number;
      outliers.add(numericRow, sourceRows[r] as number);
    }
  }
  const outlierReport = outliers.report();
  const summary: Record<string, number> = {
    duplicate_rows_within_splits:
      duplicates.within.train.duplicateRows +
      duplicates.within.validation.duplicateRows +
      duplicates.within.test.duplicateRows,
    duplicate_groups_across_splits: crossGroups(duplicates),
    near_duplicate_groups_across_splits: crossGroups(nearDuplicates),
    rows_with_outliers: outlierReport.rowsWithOutliers,
  };
  let balance: Record<string, ClassBalance> | undefined;
  let drift: (LabelDrift & { alpha: number }) | undefined;
  if (classes !== undefined) {
    const counts = classCounts(labels as Int32Array, split, classes);
    balance = {
      train: classBalance(counts.train),
      validation: classBalance(counts.validation),
      test: classBalance(counts.test),
    };
    summary.train_imbalance_ratio = balance.train?.imbalanceRatio ?? Number.NaN;
    if (options.reference !== undefined) {
      drift = { ...labelDrift(counts.train, options.reference), alpha: options.driftAlpha ?? 0.01 };
      summary.drift_total_variation = drift.totalVariation;
      summary.drift_p_value = drift.pValue;
    }
  }
  return {
    duplicates,
    nearDuplicates,
    outliers: { ...outlierReport, z, columns: numeric.map((j) => m.columns[j]?.name ?? '') },
    ...(balance !== undefined ? { balance } : {}),
    ...(drift !== undefined ? { drift } : {}),
    summary,
  };
}

/** Rows per class in each split. */
export function classCounts(
  labels: Int32Array,
  split: Uint8Array,
  classes: readonly string[],
): Record<SplitName, Record<string, number>> {
  const k = classes.length;
  const counts = new Float64Array(SPLITS.length * k);
  for (let r = 0; r < labels.length; r++) {
    const s = split[r] as number;
    const l = labels[r] as number;
    if (s < SPLITS.length && l >= 0 && l < k) counts[s * k + l] = (counts[s * k + l] as number) + 1;
  }
  return Object.fromEntries(
    SPLITS.map((name, s) => {
      const out: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
      // Two classes of one name (a schema may repeat one) share its count.
      classes.forEach((c, l) => {
        out[c] = (out[c] as number) + (counts[s * k + l] as number);
      });
      return [name, out];
    }),
  ) as Record<SplitName, Record<string, number>>;
}

/** The failures of the checks named in `failOn`, one sentence each. */
export function checkFailures(report: CheckReport, options: CheckOptions): string[] {
  const failOn = new Set(options.failOn ?? []);
  const out: string[] = [];
  const cross = crossGroups(report.duplicates);
  if (failOn.has('duplicates') && cross > 0) {
    const ex = Object.values(report.duplicates.across).flatMap((p) => p.examples)[0];
    out.push(
      `${cross} group(s) of identical rows appear in more than one split${ex ? ` (e.g. rows ${ex[0]} and ${ex[1]})` : ''}`,
    );
  }
  const within = report.summary.duplicate_rows_within_splits ?? 0;
  if (failOn.has('duplicates') && within > 0) {
    const ex = Object.values(report.duplicates.within).flatMap((p) => p.examples)[0];
    out.push(
      `${within} row(s) repeat an earlier row of the same split${ex ? ` (e.g. rows ${ex[0]} and ${ex[1]})` : ''}`,
    );
  }
  const nearCross = crossGroups(report.nearDuplicates);
  if (failOn.has('near-duplicates') && nearCross > 0)
    out.push(`${nearCross} group(s) of near-identical rows appear in more than one split`);
  if (failOn.has('outliers') && report.outliers.rowsWithOutliers > 0) {
    out.push(
      `${report.outliers.rowsWithOutliers} row(s) have values beyond ${report.outliers.z} standard deviations (e.g. row ${report.outliers.examples[0]})`,
    );
  }
  if (failOn.has('drift')) {
    if (report.drift === undefined)
      out.push('drift was asked for but there is no --reference to compare with');
    else if (report.drift.pValue < report.drift.alpha) {
      out.push(
        `the training labels drift from the reference (total variation ${report.drift.totalVariation.toFixed(3)}, p = ${report.drift.pValue.toExponential(2)})`,
      );
    }
  }
  return out;
}
