import type { Job } from 'bullmq';
import { type DispatchDeps, processSend } from '../dispatch/send.js';
import { processFollowUp } from '../followups/service.js';
import { parseJob } from '../queues/definitions.js';

export function sendsProcessor(deps: DispatchDeps) {
  return async (job: Job) => {
    const parsed = parseJob('sends', job.name, job.data);
    const run = { id: job.id as string, attemptsStarted: job.attemptsStarted };
    switch (parsed.name) {
      case 'dispatch:send':
        return processSend(deps, { ...run, data: parsed.data });
      case 'dispatch:follow-up':
        return processFollowUp(deps, { ...run, data: parsed.data });
    }
  };
}
