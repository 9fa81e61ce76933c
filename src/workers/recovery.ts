import { enqueueScheduledStart } from '../features/campaigns/lifecycle.js';
import { prisma } from '../infra/db/client.js';
import { jobId } from '../infra/queues/definitions.js';
import { enqueue, getQueue } from '../infra/queues/index.js';

const SCHEDULED_AHEAD_MS = 5 * 60_000;

/**
 * Work that only a BullMQ job carries, re-derived from PostgreSQL, so that Redis losing its jobs (a
 * restart without persistence, a failover to an empty replica) delays it instead of losing it.
 * Running campaigns are pumped by the watchdog itself; this restores the rest. Every job is added
 * under its usual id, so a job still in Redis makes this a no-op.
 */
export async function restoreLostJobs(): Promise<{ scheduledStarts: number; imports: number }> {
  // Starts due within the next few minutes (or already past): a later one is restored as it comes near.
  const scheduled = await prisma.campaign.findMany({
    where: { status: 'SCHEDULED', scheduledAt: { not: null, lte: new Date(Date.now() + SCHEDULED_AHEAD_MS) } },
    select: { id: true, tenantId: true, scheduledAt: true },
  });
  for (const c of scheduled) await enqueueScheduledStart(c.tenantId, c.id, c.scheduledAt as Date);

  // An import waiting a minute, or running for five, whose job Redis no longer has.
  const imports = await prisma.contactImport.findMany({
    where: {
      OR: [
        { status: 'PENDING', createdAt: { lt: new Date(Date.now() - 60_000) } },
        { status: 'RUNNING', startedAt: { lt: new Date(Date.now() - 5 * 60_000) } },
      ],
    },
    select: { id: true, tenantId: true },
    take: 100,
  });
  let restored = 0;
  const queue = getQueue('imports');
  for (const i of imports) {
    const id = jobId('import', i.id);
    if (await queue.getJob(id)) continue;
    await enqueue('imports', 'contacts:import', { tenantId: i.tenantId, importId: i.id }, { jobId: id });
    restored++;
  }
  return { scheduledStarts: scheduled.length, imports: restored };
}
