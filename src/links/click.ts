import { markClicked } from '../recipients/engagement.js';
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bumpCampaign } from '../campaigns/progress.js';
import { config } from '../config/index.js';
import { prisma } from '../db/client.js';
import { inTransaction } from '../db/transaction.js';
import { isHumanClick, isLinkCode } from '../domain/links.js';
import type { Logger } from '../lib/logger.js';

/** Keyed, so that a stored hash cannot be reversed by hashing every IPv4 address. */
const ipKey = createHmac('sha256', config.encryptionKey).update('link-click-ip').digest();

function ipHash(req: IncomingMessage): string | null {
  const ip = req.socket.remoteAddress;
  return ip ? createHmac('sha256', ipKey).update(ip).digest('hex') : null;
}

export interface ClickMeta {
  userAgent: string | null;
  ipHash: string | null;
}

/**
 * Records one click of a short link and returns where it leads; null for an unknown code. Every click
 * is a link_click row and counts on the link; the recipient's first click sets clicked_at and the
 * campaign's clicked counter, in the same transaction.
 */
export async function recordClick(code: string, meta: ClickMeta): Promise<string | null> {
  return inTransaction(async (tx, after) => {
    const [link] = await tx.$queryRaw<Array<{ tenant_id: string; campaign_id: string; recipient_id: string; url: string }>>`
      WITH hit AS (
        UPDATE recipient_link SET click_count = click_count + 1, first_clicked_at = COALESCE(first_clicked_at, now()), last_clicked_at = now()
        WHERE code = ${code}
        RETURNING tenant_id, campaign_id, recipient_id, link_id
      )
      SELECT hit.tenant_id, hit.campaign_id, hit.recipient_id, l.url FROM hit JOIN tracked_link l ON l.id = hit.link_id`;
    if (!link) return null;
    await tx.$executeRaw`
      INSERT INTO link_click (tenant_id, campaign_id, recipient_id, code, user_agent, ip_hash)
      VALUES (${link.tenant_id}::uuid, ${link.campaign_id}::uuid, ${link.recipient_id}::uuid, ${code}, ${meta.userAgent?.slice(0, 500) ?? null}, ${meta.ipHash})`;
    if (await markClicked(tx, link.recipient_id)) await bumpCampaign(tx, after, link.campaign_id, { clicked: 1 });
    return link.url;
  });
}

/** Where a short link leads, without counting (link previews and crawlers). */
async function destination(code: string): Promise<string | null> {
  const [row] = await prisma.$queryRaw<Array<{ url: string }>>`
    SELECT l.url FROM recipient_link rl JOIN tracked_link l ON l.id = rl.link_id WHERE rl.code = ${code}`;
  return row?.url ?? null;
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
