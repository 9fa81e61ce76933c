import type { Job } from 'bullmq';
import { type DispatchDeps, processSend } from '../dispatch/send.js';
import { parseJob } from '../queues/definitions.js';

export function sendsProcessor(deps: DispatchDeps) {
  return async (job: Job) => {
    const { data } = parseJob('sends', job.name, job.data);
    return processSend(deps, { id: job.id as string, attemptsStarted: job.attemptsStarted, data });
  };
}
