import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isHumanClick, isLinkCode } from '../../domain/links.js';
import { destination, recordClick } from '../../features/links/click.js';
import { config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/lib/logger.js';

/** Keyed, so that a stored hash cannot be reversed by hashing every IPv4 address. */
const ipKey = createHmac('sha256', config.encryptionKey).update('link-click-ip').digest();

function ipHash(req: IncomingMessage): string | null {
  const ip = req.socket.remoteAddress;
  return ip ? createHmac('sha256', ipKey).update(ip).digest('hex') : null;
}

/**
 * GET /l/<code>: a 302 to the tracked URL. A malformed or unknown code, or another method, gets
 * exactly the response of any unknown route (`notFound`), so the route reveals nothing.
 */
export async function handleLinkClick(req: IncomingMessage, res: ServerResponse, code: string, notFound: () => void, log: Logger): Promise<void> {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !isLinkCode(code)) return notFound();
  try {
    const userAgent = req.headers['user-agent'] ?? null;
    const url = isHumanClick(req.method, userAgent ?? undefined) ? await recordClick(code, { userAgent, ipHash: ipHash(req) }) : await destination(code);
    if (!url) return notFound();
    res.writeHead(302, { location: url, 'cache-control': 'private, no-store', 'referrer-policy': 'no-referrer', 'content-length': '0' });
    res.end();
  } catch (err) {
    log.error({ err }, 'short link failed');
    if (!res.headersSent) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end('temporarily unavailable, try again');
    } else res.destroy();
  }
}
