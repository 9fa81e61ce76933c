import type { Job } from 'bullmq';
import { startCampaign } from '../campaigns/lifecycle.js';
import { type PumpDeps, pumpCampaign } from '../dispatch/pump.js';
import { AppError } from '../errors.js';
import { parseJob } from '../queues/definitions.js';

export function campaignsProcessor(deps: PumpDeps) {
  return async (job: Job) => {
    const { name, data } = parseJob('campaigns', job.name, job.data);
    switch (name) {
      case 'campaign:pump': {
        const result = await pumpCampaign(deps, data.tenantId, data.campaignId);
        return typeof result === 'string' ? result : `scheduled ${result.scheduled}`;
      }
      case 'campaign:start-scheduled':
        try {
          await startCampaign(data.tenantId, data.campaignId, 'scheduler');
          return 'started';
        } catch (err) {
          // Cancelled, already started or not ready: a typed outcome, logged by the service; nothing to retry.
          if (err instanceof AppError) return `not started: ${err.message}`;
          throw err;
        }
    }
  };
}
