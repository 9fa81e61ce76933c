import { type Job, type Processor, Worker } from 'bullmq';
import { config } from '../infra/config/index.js';
import { logger } from '../infra/lib/logger.js';
import type { QueueName } from '../infra/queues/definitions.js';
import { getQueue } from '../infra/queues/index.js';
import { bullPrefix, createRedis } from '../infra/redis.js';
import { campaignsProcessor } from './campaigns.js';
import { dispatchDeps, requestPump } from './deps.js';
import { importsProcessor } from './imports.js';
import { maintenanceProcessor } from './maintenance.js';
import { sendsProcessor } from './sends.js';
import { InboxConsumer } from '../features/webhooks/inbox.js';
import { Heartbeat } from '../features/health/worker-heartbeat.js';
import { webhooksProcessor } from './webhooks.js';

export interface WorkerRuntime {
  workers: Worker[];
  /** The webhook inbox's consumer, when this process applies webhooks. */
  inbox: InboxConsumer | null;
  heartbeat: Heartbeat;
  close(): Promise<void>;
}

/** The recurring maintenance jobs: (id, every, job name). */
const SCHEDULES = [
  ['watchdog', 10_000, 'maintenance:watchdog'],
  ['reap-sending', 60_000, 'maintenance:reap-sending'],
  ['daily-reset', 60_000, 'maintenance:daily-reset'],
  ['health', 30_000, 'maintenance:health'],
  // Follow-ups are due by the day; an hourly pass sends each soon after it falls due and its window opens.
  ['follow-ups', 3_600_000, 'maintenance:follow-ups'],
  ['ab-evaluate', 30_000, 'maintenance:ab-evaluate'],
  ['purge-receipts', 3_600_000, 'maintenance:purge-receipts'],
  ['reconcile', 5000, 'maintenance:reconcile'],
  // Each disconnected instance is asked on its own backoff (5 s doubling to 5 min); this pass finds the due ones.
  ['connections', 5000, 'maintenance:connections'],
  ['campaign-summary', 60_000, 'maintenance:campaign-summary'],
] as const;
/** How often a worker checks that every recurring job still exists in Redis. */
const SCHEDULE_CHECK_MS = 15_000;

/**
 * Creates the recurring jobs that Redis does not hold. Redis may lose them (a restart without
 * persistence, a failover to an empty replica): every worker running maintenance checks every
 * SCHEDULE_CHECK_MS, not only when it starts, and re-creates what is missing. An existing schedule is
 * left as it is (upserting it again would move its next run).
 */
async function ensureSchedules(initial: boolean) {
  const m = getQueue('maintenance');
  const missing: string[] = [];
  for (const [id, every, name] of SCHEDULES) {
    if (!initial && (await m.getJobScheduler(id))) continue;
    await m.upsertJobScheduler(id, { every }, { name, data: {} });
    if (!initial) missing.push(id);
  }
  if (missing.length) logger.warn({ schedules: missing }, 'recurring jobs were missing from Redis; created again');
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

/** Starts the BullMQ workers of `queues` (all by default), the webhook inbox's consumer and the maintenance schedules. */
export async function startWorkers(
  queues: QueueName[] = ['campaigns', 'sends', 'webhooks', 'imports', 'maintenance'],
  opts: { scheduleCheckMs?: number } = {},
): Promise<WorkerRuntime> {
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
      prefix: bullPrefix(name),
      concurrency: processors[name].concurrency,
    });
    w.on('error', (err) => logger.error({ err, queue: name }, 'worker error'));
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  // Webhooks come from the inbox in PostgreSQL (the BullMQ queue only drains jobs of older servers).
  const inbox = queues.includes('webhooks')
    ? new InboxConsumer({ concurrency: config.webhookConcurrency, log: logger.child({ component: 'webhook-inbox' }), effects: { pump: (t, c) => requestPump(t, c), log: logger } })
    : null;
  const heartbeat = new Heartbeat(queues, logger.child({ component: 'heartbeat' }));
  await heartbeat.start();

  let scheduleCheck: NodeJS.Timeout | null = null;
  if (queues.includes('maintenance')) {
    await ensureSchedules(true);
    let checking = false;
    scheduleCheck = setInterval(() => {
      if (checking) return;
      checking = true;
      ensureSchedules(false)
        .catch((err) => logger.warn({ err: (err as Error).message }, 'could not check the recurring jobs'))
        .finally(() => (checking = false));
    }, opts.scheduleCheckMs ?? SCHEDULE_CHECK_MS);
    scheduleCheck.unref();
  }

  return {
    workers,
    inbox,
    heartbeat,
    async close() {
      if (scheduleCheck) clearInterval(scheduleCheck);
      // worker.close() waits for active jobs to finish; new jobs are no longer taken.
      await Promise.all([...workers.map((w) => w.close()), inbox?.close()]);
      await Promise.all(workers.map((w) => w.disconnect().catch(() => undefined)));
      await heartbeat.stop();
      await commandRedis.quit().catch(() => undefined);
    },
  };
}
