import type { RedisClient } from '../../infra/redis.js';
import { prisma } from '../../infra/db/client.js';
import type { Logger } from '../../infra/lib/logger.js';
import { redisKey } from '../../infra/redis.js';

/** The counters the last summary saw, per campaign (field: campaign id, value: "sent,delivered,failed"). */
const LAST_KEY = redisKey('campaign-summary');

/**
 * One log line per RUNNING campaign ("campaign progress"): what was sent, delivered and failed since
 * the previous summary, what remains, and the totals. One query and two Redis round trips per pass,
 * whatever the number of campaigns; run by one worker per interval (a maintenance job), the previous
 * figures kept in Redis so that any worker can take the next pass.
 */
export async function logCampaignProgress(redis: RedisClient, log: Logger): Promise<number> {
  const running = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; sent_count: number; delivered_count: number; failed_count: number; remaining_count: number }>>`
    SELECT id, tenant_id, sent_count, delivered_count, failed_count, remaining_count
    FROM campaign WHERE status = 'RUNNING' ORDER BY id LIMIT 1000`;
  const previous = running.length ? await redis.hmget(LAST_KEY, ...running.map((c) => c.id)) : [];
  running.forEach((c, i) => {
    const [sent, delivered, failed] = (previous[i] ?? '').split(',').map(Number);
    const first = previous[i] == null;
    log.info(
      {
        tenantId: c.tenant_id,
        campaignId: c.id,
        ...(first ? {} : { sent: c.sent_count - (sent ?? 0), delivered: c.delivered_count - (delivered ?? 0), failed: c.failed_count - (failed ?? 0) }),
        remaining: c.remaining_count,
        total: { sent: c.sent_count, delivered: c.delivered_count, failed: c.failed_count },
      },
      'campaign progress',
    );
  });
  // Campaigns no longer running drop out of the hash; it lives a little longer than a few passes.
  const tx = redis.multi().del(LAST_KEY);
  if (running.length) tx.hset(LAST_KEY, Object.fromEntries(running.map((c) => [c.id, `${c.sent_count},${c.delivered_count},${c.failed_count}`]))).pexpire(LAST_KEY, 10 * 60_000);
  await tx.exec();
  return running.length;
}
