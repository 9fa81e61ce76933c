import { randomBytes } from 'node:crypto';
import { config } from '../../infra/config/index.js';
import { prisma } from '../../infra/db/client.js';
import { linkCodeFrom, replaceUrls, trackableUrls } from '../../domain/links.js';
import { logger } from '../../infra/lib/logger.js';

interface MessageLinks {
  at: number;
  links: Array<{ id: string; url: string }>;
}

/** Variations change rarely once a campaign runs; their tracked links are re-read at most this often. */
const CACHE_MS = 30_000;
const cache = new Map<string, MessageLinks>();

/** The tracked links of a variation (none unless it tracks links), creating their rows on first use. */
async function linksOf(tenantId: string, campaignId: string, messageId: string): Promise<MessageLinks['links']> {
  const hit = cache.get(messageId);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.links;
  const message = await prisma.campaignMessage.findFirst({
    where: { id: messageId, tenantId, campaignId },
    select: { trackLinks: true, text: true },
  });
  let links: MessageLinks['links'] = [];
  const urls = message?.trackLinks ? trackableUrls(message.text) : [];
  if (urls.length > 0) {
    await prisma.$executeRaw`
      INSERT INTO tracked_link (tenant_id, campaign_id, message_id, url)
      SELECT ${tenantId}::uuid, ${campaignId}::uuid, ${messageId}::uuid, u FROM unnest(${urls}::text[]) AS u
      ON CONFLICT (message_id, url) DO NOTHING`;
    links = await prisma.$queryRaw<MessageLinks['links']>`
      SELECT id, url FROM tracked_link WHERE message_id = ${messageId}::uuid AND url = ANY(${urls}::text[])`;
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(messageId, { at: Date.now(), links });
  return links;
}

/**
 * The recipient's short code for each link: created once and reused (a retried send carries the
 * same links). A code that collides with an existing one is simply drawn again.
 */
async function codesFor(tenantId: string, campaignId: string, recipientId: string, linkIds: string[]): Promise<Map<string, string>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const codes = linkIds.map(() => linkCodeFrom(randomBytes));
    const rows = await prisma.$queryRaw<Array<{ link_id: string; code: string }>>`
      WITH wanted AS (
        SELECT * FROM unnest(${codes}::text[], ${linkIds}::uuid[]) AS w(code, link_id)
      ), created AS (
        INSERT INTO recipient_link (code, tenant_id, campaign_id, recipient_id, link_id)
        SELECT code, ${tenantId}::uuid, ${campaignId}::uuid, ${recipientId}::uuid, link_id FROM wanted
        ON CONFLICT DO NOTHING
        RETURNING link_id, code
      )
      SELECT link_id, code FROM created
      UNION ALL
      SELECT link_id, code FROM recipient_link WHERE recipient_id = ${recipientId}::uuid AND link_id = ANY(${linkIds}::uuid[])`;
    const byLink = new Map(rows.map((r) => [r.link_id, r.code]));
    if (linkIds.every((id) => byLink.has(id))) return byLink;
  }
  throw new Error('could not draw unique link codes');
}

export function shortLinkUrl(code: string): string {
  return `${config.publicUrl}/l/${code}`;
}

/**
 * The rendered text of a send with its variation's tracked URLs replaced by the recipient's short
 * links. Variations that do not track links come back unchanged. If the links cannot be prepared,
 * the message goes out with its original URLs (its clicks are then not counted) rather than not at all.
 */
export async function withTrackedLinks(tenantId: string, campaignId: string, recipientId: string, messageId: string, text: string): Promise<string> {
  try {
    const links = (await linksOf(tenantId, campaignId, messageId)).filter((l) => text.includes(l.url));
    if (links.length === 0) return text;
    const codes = await codesFor(
      tenantId,
      campaignId,
      recipientId,
      links.map((l) => l.id),
    );
    return replaceUrls(text, new Map(links.map((l) => [l.url, shortLinkUrl(codes.get(l.id) as string)])));
  } catch (err) {
    logger.warn({ err, tenantId, campaignId, recipientId }, 'tracked links unavailable; sending the original URLs');
    return text;
  }
}
