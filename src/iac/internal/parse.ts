import { parse as parseHcl } from '@cdktf/hcl2json';

/** One file handed to the scanner: its path as the user should see it, and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** A file the parser rejected, with the position of the first error. */
export interface ParseProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** The parser's JSON form of one file (`resource`, `variable`, `locals`, … at the top). */
export type ParsedFile = Record<string, unknown>;

/** Terraform JSON files keep blocks as objects where the HCL parser gives arrays; make both arrays. */
export function asArray(v: unknown): Record<string, unknown>[] {
  if (Array.isArray(v))
    return v.filter((x) => typeof x === 'object' && x !== null) as Record<string, unknown>[];
  return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
}

function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function jsonProblem(file: SourceFile, error: Error): ParseProblem {
  const at = /position (\d+)/.exec(error.message);
  const offset = at ? Number(at[1]) : /end of JSON/i.test(error.message) ? file.text.trimEnd().length : 0;
  const pos = positionOf(file.text, offset);
  return { file: file.path, ...pos, message: error.message };
}

function hclProblem(file: SourceFile, error: unknown): ParseProblem {
  const text = error instanceof Error ? error.message : String(error);
  const m = /:(\d+),(\d+)(?:-[\d,]+)?:\s*([^\]]*)/.exec(text);
  if (!m) return { file: file.path, line: 1, column: 1, message: text };
  return { file: file.path, line: Number(m[1]), column: Number(m[2]), message: (m[3] ?? '').trim() };
}

/**
 * Parses a `.tf`, `.tf.json`, `.tfvars` or `.tfvars.json` file with HashiCorp's HCL parser (as
 * WASM). Resolves to the JSON form, or to the first syntax error with its line.
 */
export async function parseSource(
  file: SourceFile,
): Promise<{ parsed: ParsedFile } | { problem: ParseProblem }> {
  if (file.path.endsWith('.json')) {
    try {
      const v = JSON.parse(file.text) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return { parsed: v as ParsedFile };
      return {
        problem: { file: file.path, line: 1, column: 1, message: 'the top level is not a JSON object' },
      };
    } catch (e) {
      return { problem: jsonProblem(file, e as Error) };
    }
  }
  try {
    return { parsed: (await parseHcl(file.path, file.text)) as ParsedFile };
  } catch (e) {
    return { problem: hclProblem(file, e) };
  }
}
