import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request body over its route's limit. `drained`: the rest was read and dropped, so the connection can serve the next request. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly drained: boolean,
  ) {
    super(`body larger than ${limit} bytes`);
  }
}

/**
 * Reads a request body of at most `limit` bytes. A larger one (declared, or chunked and found to be)
 * is refused with BodyTooLargeError; its remainder is read and dropped up to `drainLimit` bytes, so
 * that a keep-alive connection stays usable for the next request (an unread body left on it made
 * that request hang). Beyond `drainLimit` the caller must close the connection (`closeAfter`).
 * Listens with events: leaving an async iterator early destroys the request, and with it the socket.
 */
export function readBody(req: IncomingMessage, limit: number, drainLimit = Math.max(limit, 64 * 1024 * 1024)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > drainLimit) {
      req.pause();
      reject(new BodyTooLargeError(limit, false));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > limit;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > drainLimit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        reject(new BodyTooLargeError(limit, false));
        return;
      }
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
      else chunks.length = 0;
    };
    const onEnd = () => (over ? reject(new BodyTooLargeError(limit, true)) : resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** After an answer to a request whose body was not read to its end: the connection cannot serve another one. */
export function closeAfter(res: ServerResponse) {
  if (!res.headersSent) res.setHeader('connection', 'close');
  res.once('finish', () => res.socket?.destroySoon?.());
}
