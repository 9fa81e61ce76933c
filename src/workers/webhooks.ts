import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../infra/lib/logger.js';
import { parseJob } from '../infra/queues/definitions.js';
import { processWebhook } from '../features/webhooks/process.js';
import { parseEventData } from '../features/webhooks/schemas.js';
import { countApplied } from '../features/webhooks/inbox.js';
import { requestPump } from './deps.js';

/**
 * Webhook jobs that API servers enqueued in BullMQ before events went to the webhook inbox (an upgrade
 * with jobs still waiting): applied as before. New events never come this way (see src/features/webhooks/inbox.ts).
 */
export function webhooksProcessor(log: Logger) {
  return async (job: Job) => {
    const { data } = parseJob('webhooks', job.name, job.data);
    const parsed = parseEventData(data.event, data.data);
    // Data that can never parse would fail the same way on every attempt.
    if (!parsed.ok) throw new UnrecoverableError(parsed.error);
    const outcome = await processWebhook(
      { tenantId: data.tenantId, instanceId: data.instanceId, receivedAt: data.receivedAt, ...parsed.value },
      { pump: (tenantId, campaignId) => requestPump(tenantId, campaignId), log },
    );
    countApplied(data.event, 'applied', Date.now() - new Date(data.receivedAt).getTime());
    return outcome;
  };
}
