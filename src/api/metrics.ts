import { Gauge, Registry } from 'prom-client';
import { sqlRows } from '../infra/db/sql.js';
import { Prisma } from '../generated/prisma/client.js';
import { QUEUE_NAMES } from '../infra/queues/definitions.js';
import { getQueue } from '../infra/queues/index.js';
import { inboxStats } from '../features/webhooks/inbox.js';
import { liveWorkers } from '../features/health/worker-heartbeat.js';
import { registry as processRegistry } from '../infra/metrics/registry.js';

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
/** Queue counts are several Redis commands per queue: scrapes this close together share one read. */
const QUEUE_COUNTS_TTL_MS = 2000;

type QueueCounts = Array<{ queue: string; counts: Record<string, number> }>;

/** The job counts of every queue, read at most once per QUEUE_COUNTS_TTL_MS (concurrent scrapes share the read). */
function queueCountsReader(): () => Promise<QueueCounts> {
  let last: { at: number; read: Promise<QueueCounts> } | null = null;
  return () => {
    if (last && Date.now() - last.at < QUEUE_COUNTS_TTL_MS) return last.read;
    const read = Promise.all(QUEUE_NAMES.map(async (queue) => ({ queue, counts: await getQueue(queue).getJobCounts(...QUEUE_STATES) })));
    const entry = { at: Date.now(), read };
    last = entry;
    // A failed read is not kept: the next scrape tries again.
    read.catch(() => {
      if (last === entry) last = null;
    });
    return read;
  };
}

/** What GET /metrics serves on an API server: this process's metrics and the cluster-wide reads below. */
export function apiMetricsRegistry(): Registry {
  return Registry.merge([processRegistry, createMetrics()]);
}

/**
 * What an operator alerts on when the infrastructure blinks, read from PostgreSQL and Redis on each
 * scrape (Prometheus text format at GET /metrics): live workers, each queue's jobs, the webhook inbox,
 * stalled campaigns. Label values are bounded (queue and state names). These are the same on every API
 * server (cluster-wide): aggregate them with max, not sum.
 */
export function createMetrics(): Registry {
  const registry = new Registry();
  const queueCounts = queueCountsReader();
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
      for (const { queue, counts } of await queueCounts()) {
        for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
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
