import type { Job } from 'bullmq';
import { config } from '../config/index.js';
import { prisma } from '../db/client.js';
import { markUnknown } from '../dispatch/send.js';
import { parseJob } from '../queues/definitions.js';
import { requestPump } from './deps.js';

/** A SENDING recipient older than this lost its worker (the send call itself times out well before). */
const SENDING_STALE_MS = () => config.evolutionTimeoutMs + 120_000;

export function maintenanceProcessor() {
  return async (job: Job) => {
    const { name } = parseJob('maintenance', job.name, job.data);
    switch (name) {
      case 'maintenance:watchdog': {
        const running = await prisma.campaign.findMany({ where: { status: 'RUNNING' }, select: { id: true, tenantId: true } });
        for (const c of running) await requestPump(c.tenantId, c.id);
        return `pumped ${running.length}`;
      }
      case 'maintenance:reap-sending': {
        const stale = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>>`
          SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient
          WHERE status = 'SENDING' AND sending_at < now() - make_interval(secs => ${SENDING_STALE_MS() / 1000})
          LIMIT 1000`;
        for (const r of stale) await markUnknown(r, 'the send was claimed but its worker never reported back');
        return `reaped ${stale.length}`;
      }
      case 'maintenance:daily-reset': {
        const n = await prisma.$executeRaw`
          UPDATE whatsapp_instance i
          SET sent_today = 0, delivered_today = 0, read_today = 0, failed_today = 0, last_daily_reset_at = now(), updated_at = now()
          FROM tenant t
          WHERE i.tenant_id = t.id
            AND (i.last_daily_reset_at IS NULL
              OR (i.last_daily_reset_at AT TIME ZONE t.timezone)::date < (now() AT TIME ZONE t.timezone)::date)`;
        return `reset ${n}`;
      }
      case 'maintenance:purge-receipts': {
        const n = await prisma.$executeRaw`DELETE FROM pending_receipt WHERE received_at < now() - interval '7 days'`;
        return `purged ${n}`;
      }
    }
  };
}
