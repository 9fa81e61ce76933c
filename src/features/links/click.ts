import { markClicked } from '../recipients/engagement.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';

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
export async function destination(code: string): Promise<string | null> {
  const [row] = await prisma.$queryRaw<Array<{ url: string }>>`
    SELECT l.url FROM recipient_link rl JOIN tracked_link l ON l.id = rl.link_id WHERE rl.code = ${code}`;
  return row?.url ?? null;
}
