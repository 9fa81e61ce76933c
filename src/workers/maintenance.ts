import type { Job } from 'bullmq';
import type { RedisClient } from '../infra/redis.js';
import { logCampaignProgress } from '../features/campaigns/progress-log.js';
import { evaluateAbTests } from '../features/ab/evaluate.js';
import { config } from '../infra/config/index.js';
import { prisma } from '../infra/db/client.js';
import { checkStalls } from '../features/campaigns/stalls.js';
import { reconcileDue } from '../features/dispatch/reconcile.js';
import { markAllUnknown } from '../features/recipients/outcomes.js';
import { type FollowUpDeps, runFollowUps } from '../features/followups/service.js';
import { healthMaintenance, resetDailyCounters } from '../features/health/service.js';
import { logger } from '../infra/lib/logger.js';
import { refreshStaleServerVersions } from '../features/senders/service.js';
import { parseJob } from '../infra/queues/definitions.js';
import { purgeFailedInbox } from '../features/webhooks/inbox.js';
import { requestPump } from './deps.js';
import { purgeDeadWorkers } from '../features/health/worker-heartbeat.js';
import { restoreLostJobs } from './recovery.js';
import { checkDisconnected } from '../features/senders/connection.js';

/** A SENDING recipient older than this lost its worker (the send call itself times out well before). */
const SENDING_STALE_MS = () => config.evolutionTimeoutMs + 120_000;

export function maintenanceProcessor(deps: FollowUpDeps & { redis: RedisClient }) {
  return async (job: Job) => {
    const { name } = parseJob('maintenance', job.name, job.data);
    switch (name) {
      case 'maintenance:watchdog': {
        const running = await prisma.campaign.findMany({ where: { status: 'RUNNING' }, select: { id: true, tenantId: true } });
        for (const c of running) await requestPump(c.tenantId, c.id);
        const restored = await restoreLostJobs();
        const stalls = await checkStalls();
        return `pumped ${running.length}, scheduled starts ${restored.scheduledStarts}, imports restored ${restored.imports}, stalls ended ${stalls.ended}`;
      }
      case 'maintenance:reap-sending': {
        const stale = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>>`
          SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient
          WHERE status = 'SENDING' AND sending_at < now() - make_interval(secs => ${SENDING_STALE_MS() / 1000})
          LIMIT 1000`;
        await markAllUnknown(stale, 'the send was claimed but its worker never reported back');
        return `reaped ${stale.length}`;
      }
      case 'maintenance:daily-reset':
        return `reset ${await resetDailyCounters()}`;
      case 'maintenance:follow-ups': {
        const r = await runFollowUps(deps);
        return `follow-ups created ${r.created}, scheduled ${r.scheduled}, waiting ${r.waiting}`;
      }
      case 'maintenance:health': {
        const r = await healthMaintenance((t, c) => requestPump(t, c));
        const versions = await refreshStaleServerVersions();
        return `paused ${r.paused}, resting ${r.resting}, re-admitted ${r.readmitted}, server versions asked ${versions}`;
      }
      case 'maintenance:purge-receipts': {
        const n = await prisma.$executeRaw`DELETE FROM pending_receipt WHERE received_at < now() - interval '7 days'`;
        const inbox = await purgeFailedInbox();
        const workers = await purgeDeadWorkers();
        return `purged ${n} parked receipts, ${inbox} failed webhook events, ${workers} dead workers`;
      }
      case 'maintenance:ab-evaluate':
        return evaluateAbTests(logger);
      case 'maintenance:connections': {
        const r = await checkDisconnected((t, c) => requestPump(t, c), logger);
        return `disconnected instances checked ${r.checked}, re-admitted ${r.readmitted}`;
      }
      case 'maintenance:campaign-summary':
        return `campaigns summarized ${await logCampaignProgress(deps.redis, logger.child({ component: 'campaign-summary' }))}`;
      case 'maintenance:reconcile':
        return reconcileDue({ log: logger, requestPump, requestFollowUps: (ms) => deps.requestFollowUps(ms) });
      default: {
        // A job name added to the queue's map without a case here is a compile error, not a silent no-op.
        const unhandled: never = name;
        throw new Error(`no processor for job ${String(unhandled)}`);
      }
    }
  };
}
