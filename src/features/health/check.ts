import { jobId } from '../../infra/queues/definitions.js';
import { enqueue } from '../../infra/queues/index.js';

/** Checks within a second of each other share a job. */
const TICK_MS = 1000;

/**
 * Asks a worker to check an instance against its tenant's health threshold, shortly after the
 * caller's transaction has committed the lower score. Never throws: the periodic health sweep
 * (maintenance:health) catches any check that could not be queued.
 */
export async function requestHealthCheck(instanceId: string): Promise<void> {
  await enqueue(
    'campaigns',
    'instance:health-check',
    { instanceId },
    { jobId: jobId('health', instanceId, Math.floor(Date.now() / TICK_MS)), delay: 250 },
  ).catch(() => undefined);
}
