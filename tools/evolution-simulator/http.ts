import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../../src/infra/evolution/wire.js';

const MAX_BODY = 16 * 1024 * 1024;

/** An answer other than success, in Evolution's error envelope (`errorBody`); thrown by the routes. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** JSON, or plain text when a string (as a gateway in front of Evolution answers). */
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export function sendError(res: ServerResponse, err: HttpError) {
  if (typeof err.body !== 'string') return sendJson(res, err.status, err.body, err.headers);
  res.writeHead(err.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(err.body), ...err.headers });
  res.end(err.body);
}

/** Refuses (401, as Evolution's guards do) a request whose `apikey` header is none of `keys`. */
export function requireApiKey(req: IncomingMessage, ...keys: string[]) {
  const key = req.headers.apikey;
  if (typeof key !== 'string' || !keys.includes(key)) throw new HttpError(401, errorBody(401, 'Unauthorized'));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The request's body (events, not an async iterator: cheaper per request, and requests are small). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, { status: 413, error: 'Payload Too Large', response: { message: ['request entity too large'] } }));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, errorBody(400, [`Unexpected token in JSON at position 0`]));
  }
}
