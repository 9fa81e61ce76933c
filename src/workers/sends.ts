import type { Job } from 'bullmq';
import { type DispatchDeps, processSend } from '../features/dispatch/send.js';
import { processFollowUp } from '../features/followups/service.js';
import { sendConsentReply } from '../features/replies/confirm.js';
import { parseJob } from '../infra/queues/definitions.js';

export function sendsProcessor(deps: DispatchDeps) {
  return async (job: Job) => {
    const parsed = parseJob('sends', job.name, job.data);
    const run = { id: job.id as string, attemptsStarted: job.attemptsStarted };
    switch (parsed.name) {
      case 'dispatch:send':
        // Takes a permit per Evolution call itself (several calls per job).
        return processSend(deps, { ...run, data: parsed.data });
      case 'dispatch:follow-up':
        // One call: its permit is held for the whole job.
        return deps.permits.withOne(() => processFollowUp(deps, { ...run, data: parsed.data }));
      case 'consent:reply':
        return deps.permits.withOne(() => sendConsentReply(parsed.data));
    }
  };
}
