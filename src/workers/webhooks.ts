import type { Job } from 'bullmq';
import type { Logger } from '../lib/logger.js';
import { parseJob } from '../queues/definitions.js';
import { processWebhook } from '../webhooks/process.js';
import { requestPump } from './deps.js';

export function webhooksProcessor(log: Logger) {
  return async (job: Job) => {
    const { data } = parseJob('webhooks', job.name, job.data);
    return processWebhook(data, { pump: (tenantId, campaignId) => requestPump(tenantId, campaignId), log });
  };
}
