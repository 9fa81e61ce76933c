import { type Job, type Processor, Worker } from 'bullmq';
import { config } from '../config/index.js';
import { logger } from '../lib/logger.js';
import type { QueueName } from '../queues/definitions.js';
import { getQueue } from '../queues/index.js';
import { createRedis } from '../redis.js';
import { campaignsProcessor } from './campaigns.js';
import { dispatchDeps } from './deps.js';
import { importsProcessor } from './imports.js';
import { maintenanceProcessor } from './maintenance.js';
import { sendsProcessor } from './sends.js';
import { webhooksProcessor } from './webhooks.js';

export interface WorkerRuntime {
  workers: Worker[];
  close(): Promise<void>;
}

function withJobLog(queue: QueueName, processor: Processor): Processor {
  return async (job: Job) => {
    const log = logger.child({ queue, jobId: job.id, job: job.name });
    const started = performance.now();
    try {
      const result = await processor(job);
      log.debug({ ms: Math.round(performance.now() - started), result }, 'job done');
      return result;
    } catch (err) {
      log.error({ err, ms: Math.round(performance.now() - started), attempt: job.attemptsMade + 1 }, 'job failed');
      throw err;
    }
  };
}

/** Starts the BullMQ workers of `queues` (all by default) and the maintenance schedules. */
export async function startWorkers(queues: QueueName[] = ['campaigns', 'sends', 'webhooks', 'imports', 'maintenance']): Promise<WorkerRuntime> {
  const commandRedis = createRedis('command');
  const deps = dispatchDeps(commandRedis, logger);
  const processors: Record<QueueName, { processor: Processor; concurrency: number }> = {
    campaigns: { processor: campaignsProcessor(deps), concurrency: 4 },
    sends: { processor: sendsProcessor(deps), concurrency: config.dispatchConcurrency },
    webhooks: { processor: webhooksProcessor(logger), concurrency: config.webhookConcurrency },
    imports: { processor: importsProcessor(), concurrency: 2 },
    maintenance: { processor: maintenanceProcessor(deps), concurrency: 1 },
  };
  const workers = queues.map((name) => {
    const w = new Worker(name, withJobLog(name, processors[name].processor), {
      connection: createRedis('worker'),
      prefix: `${config.redisPrefix}:bull`,
      concurrency: processors[name].concurrency,
    });
    w.on('error', (err) => logger.error({ err, queue: name }, 'worker error'));
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  if (queues.includes('maintenance')) {
    const m = getQueue('maintenance');
    await m.upsertJobScheduler('watchdog', { every: 10_000 }, { name: 'maintenance:watchdog', data: {} });
    await m.upsertJobScheduler('reap-sending', { every: 60_000 }, { name: 'maintenance:reap-sending', data: {} });
    await m.upsertJobScheduler('daily-reset', { every: 60_000 }, { name: 'maintenance:daily-reset', data: {} });
    await m.upsertJobScheduler('health', { every: 30_000 }, { name: 'maintenance:health', data: {} });
    // Follow-ups are due by the day; an hourly pass sends each soon after it falls due and its window opens.
    await m.upsertJobScheduler('follow-ups', { every: 3_600_000 }, { name: 'maintenance:follow-ups', data: {} });
    await m.upsertJobScheduler('ab-evaluate', { every: 30_000 }, { name: 'maintenance:ab-evaluate', data: {} });
    await m.upsertJobScheduler('purge-receipts', { every: 3_600_000 }, { name: 'maintenance:purge-receipts', data: {} });
  }

  return {
    workers,
    async close() {
      // worker.close() waits for active jobs to finish; new jobs are no longer taken.
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(workers.map((w) => w.disconnect().catch(() => undefined)));
      await commandRedis.quit().catch(() => undefined);
    },
  };
}
