import { sqlRows } from '../../infra/db/sql.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/lib/logger.js';
import { WORKER_STALE_MS } from '../health/worker-heartbeat.js';
import { appendLog } from './logs.js';
import { bumpCampaign } from './progress.js';

/** How often API servers look for campaigns that have work due and no worker to do it. */
const WATCH_MS = 10_000;

/**
 * A RUNNING campaign with recipients due and no live worker process that sends (heartbeats in
 * `worker_process`) is stalled: `stalled_since` is set (its progress shows it) and a CRITICAL
 * `STALLED` entry is logged, once. When a sending worker is alive again, every stalled campaign gets
 * `STALL_ENDED` and the field is cleared. Runs on any number of API servers and workers at once:
 * the changes are conditional updates, and the common case (nothing to do) reads two rows on pg.
 */
export async function checkStalls(): Promise<{ stalled: number; ended: number }> {
  const [state] = await sqlRows<{ alive: number; stalled: number; due: number }>(Prisma.sql`
    SELECT (SELECT count(*)::int FROM worker_process
            WHERE heartbeat_at > now() - make_interval(secs => ${WORKER_STALE_MS / 1000}) AND 'sends' = ANY(queues)) AS alive,
           (SELECT count(*)::int FROM campaign WHERE stalled_since IS NOT NULL) AS stalled,
           (SELECT count(*)::int FROM campaign WHERE status = 'RUNNING' AND stalled_since IS NULL) AS due`);
  if (!state) return { stalled: 0, ended: 0 };
  if (state.alive > 0) {
    if (state.stalled === 0) return { stalled: 0, ended: 0 };
    const ended = await inTransaction(async (tx, after) => {
      const rows = await tx.$queryRaw<Array<{ id: string; tenant_id: string; since: Date }>>`
        WITH s AS (SELECT id, stalled_since FROM campaign WHERE stalled_since IS NOT NULL FOR UPDATE SKIP LOCKED)
        UPDATE campaign c SET stalled_since = NULL FROM s WHERE c.id = s.id RETURNING c.id, c.tenant_id, s.stalled_since AS since`;
      for (const r of rows) {
        await appendLog(tx, after, {
          tenantId: r.tenant_id,
          campaignId: r.id,
          type: 'STALL_ENDED',
          severity: 'WARNING',
          message: `a worker process is alive again: sending resumes (stalled ${Math.round((Date.now() - r.since.getTime()) / 1000)} s)`,
          details: { stalledSince: r.since.toISOString() },
          actor: 'system',
        });
        await bumpCampaign(tx, after, r.id, {});
      }
      return rows.length;
    });
    return { stalled: 0, ended };
  }
  if (state.due === 0) return { stalled: 0, ended: 0 };
  const stalled = await inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ id: string; tenant_id: string }>>`
      WITH s AS (
        SELECT c.id FROM campaign c
        WHERE c.status = 'RUNNING' AND c.stalled_since IS NULL
          AND EXISTS (SELECT 1 FROM recipient r WHERE r.campaign_id = c.id AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= now()))
        FOR UPDATE OF c SKIP LOCKED)
      UPDATE campaign c SET stalled_since = now() FROM s WHERE c.id = s.id RETURNING c.id, c.tenant_id`;
    for (const r of rows) {
      await appendLog(tx, after, {
        tenantId: r.tenant_id,
        campaignId: r.id,
        type: 'STALLED',
        severity: 'CRITICAL',
        message: 'messages are due and no worker process is alive to send them: start a worker (npm run worker)',
        details: { workersAlive: 0 },
        actor: 'system',
      });
      await bumpCampaign(tx, after, r.id, {});
    }
    return rows.length;
  });
  return { stalled, ended: 0 };
}

/** Runs checkStalls every WATCH_MS until the returned stop is called; a failure is logged and tried again. */
export function startStallWatch(log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    checkStalls()
      .then((r) => {
        if (r.stalled) log.error({ campaigns: r.stalled }, 'campaigns stalled: no worker process is alive');
        if (r.ended) log.info({ campaigns: r.ended }, 'stalled campaigns resumed: a worker process is alive');
      })
      .catch((err) => log.warn({ err: (err as Error).message }, 'could not check for stalled campaigns'))
      .finally(() => (running = false));
  }, WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}
