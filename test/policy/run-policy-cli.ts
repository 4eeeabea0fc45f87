import { vi } from 'vitest';
import { main } from '../../src/cli/index.js';

/** What one in-process run of `sealtrain …` printed and returned. */
export interface PolicyCliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

/**
 * Runs the real CLI entry point (`main` from `src/cli/index.ts`) in this process with `args`,
 * capturing what it writes. In-process so the policy tests stay fast; `test/attest/cli.test.ts`
 * runs the built binary for the same code paths.
 */
export async function runPolicyCli(args: string[]): Promise<PolicyCliResult> {
  let stdout = '';
  let stderr = '';
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  let code: number;
  try {
    code = await main(args);
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {}
  return { code, stdout, stderr, json };
}
