import { Gauge, Registry } from 'prom-client';
import { sqlRows } from '../infra/db/sql.js';
import { Prisma } from '../generated/prisma/client.js';
import { QUEUE_NAMES } from '../infra/queues/definitions.js';
import { getQueue } from '../infra/queues/index.js';
import { inboxStats } from '../features/webhooks/inbox.js';
import { liveWorkers } from '../features/health/worker-heartbeat.js';

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/**
 * What an operator alerts on when the infrastructure blinks, read from PostgreSQL and Redis on each
 * scrape (Prometheus text format at GET /metrics): live workers, each queue's jobs, the webhook inbox,
 * stalled campaigns. Label values are bounded (queue and state names).
 */
export function createMetrics(): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'wc_workers_alive',
    help: 'Worker processes whose heartbeat is fresh (worker_process).',
    registers: [registry],
    async collect() {
      this.set((await liveWorkers()).length);
    },
  });
  new Gauge({
    name: 'wc_queue_jobs',
    help: 'BullMQ jobs by queue and state.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      await Promise.all(
        QUEUE_NAMES.map(async (queue) => {
          const counts = await getQueue(queue).getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  let inbox: Promise<Awaited<ReturnType<typeof inboxStats>>> | null = null;
  // Both inbox gauges come from one read per scrape.
  const readInbox = () => (inbox ??= inboxStats().finally(() => setTimeout(() => (inbox = null), 0)));
  new Gauge({
    name: 'wc_webhook_inbox_events',
    help: 'Acknowledged webhook events not yet applied (pending) and kept after failing for good (failed).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await readInbox();
      this.set({ state: 'pending' }, s.pending);
      this.set({ state: 'failed' }, s.failed);
    },
  });
  new Gauge({
    name: 'wc_webhook_inbox_oldest_pending_seconds',
    help: 'Age of the oldest webhook event waiting to be applied (0 when none).',
    registers: [registry],
    async collect() {
      this.set(((await readInbox()).oldestPendingMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'wc_campaigns_stalled',
    help: 'Running campaigns with messages due and no worker alive to send them.',
    registers: [registry],
    async collect() {
      const [row] = await sqlRows<{ n: number }>(Prisma.sql`SELECT count(*)::int AS n FROM campaign WHERE stalled_since IS NOT NULL`);
      this.set(row?.n ?? 0);
    },
  });
  new Gauge({
    name: 'wc_unknown_outcomes_reconciling',
    help: 'Sends whose outcome is unknown and still being resolved against Evolution.',
    registers: [registry],
    async collect() {
      const [row] = await sqlRows<{ n: number }>(Prisma.sql`SELECT count(*)::int AS n FROM recipient WHERE reconcile_at IS NOT NULL`);
      this.set(row?.n ?? 0);
    },
  });
  return registry;
}
