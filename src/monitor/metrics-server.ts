import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { SealtrainError } from '../errors/index.js';

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** `http://127.0.0.1:<port>/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` as Prometheus text on `GET /metrics` (plain HTTP, for a scraper on the same
 * host: it binds loopback unless `host` says otherwise). The figures are losses, rates and
 * resource use, never data or keys. Port 0 picks a free port.
 *
 * @throws {SealtrainError} `ERR_USAGE_INVALID` when the port cannot be bound (in use, privileged).
 */
export async function serveMetrics(
  registry: Registry,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: the metrics are at /metrics.\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new SealtrainError(
          'ERR_USAGE_INVALID',
          `--metrics-port ${options.port}: cannot listen on ${host}:${options.port} (${error.code ?? error.message}); choose another port, or 0 for any free one.`,
          { details: { port: options.port } },
        ),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
