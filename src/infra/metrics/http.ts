import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A scrape that takes longer than this answers 503 (a collector reading a database that is away). */
const SCRAPE_TIMEOUT_MS = 5000;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** `Authorization: Bearer <token>` matches `token` (compared in constant time, whatever the lengths). */
function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const m = (req.headers.authorization ?? '').match(/^\s*Bearer\s+(\S+)\s*$/i);
  return !!m && timingSafeEqual(digest(m[1] as string), digest(token));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * GET /metrics: the registry in Prometheus text format. With a token, a request without
 * `Authorization: Bearer <token>` gets 401 and no metric is read.
 */
export function serveMetrics(req: IncomingMessage, res: ServerResponse, registry: Registry, token: string | null): void {
  if (!authorized(req, token)) {
    sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <METRICS_TOKEN>' } }, { 'www-authenticate': 'Bearer realm="metrics"' });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET /metrics' } }, { allow: 'GET, HEAD' });
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${SCRAPE_TIMEOUT_MS} ms`)), SCRAPE_TIMEOUT_MS)));
  Promise.race([registry.metrics(), timeout])
    .then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err) => sendJson(res, 503, { error: { code: 'UNAVAILABLE', message: `metrics could not be read: ${(err as Error).message}` } }),
    )
    .finally(() => clearTimeout(timer));
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A server with GET /metrics only (the worker process's: WORKER_METRICS_PORT). Port 0 takes a free
 * port (tests); the caller decides whether to start it at all.
 */
export function startMetricsServer(opts: { registry: Registry; port: number; host: string; token: string | null }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return serveMetrics(req, res, opts.registry, opts.token);
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'this server answers GET /metrics only' } });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
