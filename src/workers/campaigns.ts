import type { Job } from 'bullmq';
import { startScheduled } from '../campaigns/lifecycle.js';
import { type PumpDeps, pumpCampaign } from '../dispatch/pump.js';
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
        return startScheduled(data.tenantId, data.campaignId, data.scheduledAt);
    }
  };
}
