import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sqlExecute, sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/lib/logger.js';

/** A worker writes its heartbeat this often; one silent for WORKER_STALE_MS is considered gone. */
export const HEARTBEAT_MS = 5000;
export const WORKER_STALE_MS = 20_000;

/**
 * This worker process's row in `worker_process`, refreshed every HEARTBEAT_MS (in PostgreSQL, which
 * every API server reads, and which outlives a Redis loss). Deleted on an orderly stop; a killed
 * process's row simply goes stale.
 */
export class Heartbeat {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    private readonly queues: string[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await sqlExecute(Prisma.sql`
        INSERT INTO worker_process (id, hostname, pid, queues, started_at, heartbeat_at)
        VALUES (${this.id}, ${hostname()}, ${process.pid}, ${this.queues}::text[], now(), now())
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`);
      if (this.failing) this.log.info('heartbeat written again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'heartbeat could not be written');
      this.failing = true;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await sqlExecute(Prisma.sql`DELETE FROM worker_process WHERE id = ${this.id}`).catch(() => undefined);
  }
}

export interface LiveWorker {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  startedAt: Date;
  heartbeatAt: Date;
}

/** Worker processes whose heartbeat is fresh. */
export async function liveWorkers(): Promise<LiveWorker[]> {
  const rows = await sqlRows<{ id: string; hostname: string; pid: number; queues: string[]; started_at: Date; heartbeat_at: Date }>(Prisma.sql`
    SELECT id, hostname, pid, queues, started_at, heartbeat_at FROM worker_process
    WHERE heartbeat_at > now() - make_interval(secs => ${WORKER_STALE_MS / 1000}) ORDER BY started_at`);
  return rows.map((r) => ({ id: r.id, hostname: r.hostname, pid: r.pid, queues: r.queues, startedAt: r.started_at, heartbeatAt: r.heartbeat_at }));
}

/** Forgets processes silent for a day (killed ones never delete their row). */
export function purgeDeadWorkers(): Promise<number> {
  return sqlExecute(Prisma.sql`DELETE FROM worker_process WHERE heartbeat_at < now() - interval '1 day'`);
}
