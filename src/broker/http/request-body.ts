import type { IncomingMessage } from 'node:http';
import { SealtrainError } from '../../errors/index.js';

/** Default largest request body: 256 KiB. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

function tooLarge(limit: number): SealtrainError {
  return new SealtrainError('ERR_BROKER_REQUEST', `The request body is larger than ${limit} bytes.`, {
    details: { reason: 'body-too-large', limit },
  });
}

/** Throws 413 early when `Content-Length` already says the body is too large. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
}

/** Reads the whole body, at most `limit` bytes (else `body-too-large`). The caller wipes it. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      for (const c of chunks) c.fill(0);
      chunk.fill(0);
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return body;
}

/** Parses a JSON object body; `not-json` (400) when it is not one. An empty body is `{}`. */
export function parseJsonBody(bytes: Buffer): Record<string, unknown> {
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new SealtrainError('ERR_BROKER_REQUEST', 'The request body is not JSON.', {
      cause: error,
      details: { reason: 'not-json' },
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SealtrainError('ERR_BROKER_REQUEST', 'The request body is not a JSON object.', {
      details: { reason: 'not-json' },
    });
  }
  return value as Record<string, unknown>;
}
