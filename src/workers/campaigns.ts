import type { Job } from 'bullmq';
import { startScheduled } from '../features/campaigns/lifecycle.js';
import { type PumpDeps, pumpCampaign } from '../features/dispatch/pump.js';
import { type FollowUpDeps, pumpFollowUps } from '../features/followups/service.js';
import { checkInstanceHealth } from '../features/health/service.js';
import { parseJob } from '../infra/queues/definitions.js';

export function campaignsProcessor(deps: PumpDeps & FollowUpDeps) {
  return async (job: Job) => {
    const { name, data } = parseJob('campaigns', job.name, job.data);
    switch (name) {
      case 'campaign:pump': {
        const result = await pumpCampaign(deps, data.tenantId, data.campaignId);
        return typeof result === 'string' ? result : `scheduled ${result.scheduled}`;
      }
      case 'campaign:start-scheduled':
        return startScheduled(data.tenantId, data.campaignId, data.scheduledAt);
      case 'follow-ups:pump': {
        const r = await pumpFollowUps(deps);
        return `follow-ups scheduled ${r.scheduled}, waiting ${r.waiting}`;
      }
      case 'instance:health-check':
        return (await checkInstanceHealth(data.instanceId, (t, c) => deps.requestPump(t, c))) ? 'paused' : 'healthy enough';
      default: {
        // A job name added to the queue's map without a case here is a compile error, not a silent no-op.
        const unhandled: never = name;
        throw new Error(`no processor for job ${String(unhandled)}`);
      }
    }
  };
}
