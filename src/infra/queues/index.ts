import { type JobsOptions, Queue } from 'bullmq';
import { logger } from '../lib/logger.js';
import { bullPrefix, createRedis, type RedisClient } from '../redis.js';
import type { JobData, JobName, QueueName } from './definitions.js';

/** Per-queue defaults: explicit attempts and backoff, bounded retention of finished jobs. */
export const QUEUE_DEFAULTS: Record<QueueName, JobsOptions> = {
  campaigns: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
  },
  // A send is never retried by BullMQ: the processor decides, because only it knows whether the
  // message may have left (see src/workers/send.ts).
  sends: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600, count: 5000 } },
  webhooks: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 250 },
    // Kept for a day so that a redelivered webhook with the same id is recognised and dropped.
    removeOnComplete: { age: 24 * 3600, count: 200_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  },
  imports: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { count: 1000 }, removeOnFail: { age: 7 * 24 * 3600 } },
  maintenance: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { count: 100 } },
};

let connection: RedisClient | null = null;
const queues = new Map<QueueName, Queue>();

export function getQueue(name: QueueName): Queue {
  let q = queues.get(name);
  if (!q) {
    connection ??= createRedis('producer');
    q = new Queue(name, { connection, prefix: bullPrefix(name), defaultJobOptions: QUEUE_DEFAULTS[name] });
    // A Queue re-emits its connection's errors (Redis restarting, a failover): unheard, they end the process.
    q.on('error', (err) => logger.warn({ err: err.message, queue: name }, 'queue connection error'));
    queues.set(name, q);
  }
  return q;
}

export function enqueue<Q extends QueueName, N extends JobName<Q>>(queue: Q, name: N, data: JobData<Q, N>, opts: JobsOptions = {}) {
  return getQueue(queue).add(name, data, opts);
}

export async function closeQueues(): Promise<void> {
  await Promise.all([...queues.values()].map((q) => q.close()));
  queues.clear();
  if (connection) await connection.quit().catch(() => undefined);
  connection = null;
}
