import type { Logger } from '../lib/logger.js';

/** PostgreSQL and driver codes of a database that is away (restarting, failing over, unreachable). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
  'P1001', // Prisma: can't reach database server
  'P1017', // Prisma: server has closed the connection
  'P2024', // Prisma: timed out fetching a connection from the pool
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection error and is not queryable|terminating connection|the database system is (starting up|shutting down|in recovery mode)|Can't reach database server|Connection closed|Client was closed|timeout exceeded when trying to connect/i;

/** Whether `err` says the database is away (as opposed to refusing this statement). */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; meta?: { code?: unknown }; cause?: unknown };
    if (typeof x.code === 'string' && UNAVAILABLE_CODES.has(x.code)) return true;
    if (typeof x.meta?.code === 'string' && UNAVAILABLE_CODES.has(x.meta.code)) return true;
    if (typeof x.message === 'string' && UNAVAILABLE_MESSAGES.test(x.message)) return true;
    e = x.cause;
  }
  return false;
}

/**
 * Runs `fn`, and again while the database is away, for up to `maxMs` (backing off from 250 ms to 5 s).
 * For writes that must not be lost when the database blinks: the outcome of a call already made to
 * Evolution, recipients put back that were never sent. `fn` must be safe to run again (our writes are
 * conditional on the row's state). Any other error, or an outage longer than `maxMs`, is thrown.
 */
export async function whileDatabaseRecovers<T>(fn: () => Promise<T>, opts: { log?: Logger; what: string; maxMs?: number }): Promise<T> {
  const until = Date.now() + (opts.maxMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() >= until) throw err;
      if (attempt === 1) opts.log?.warn({ err: (err as Error).message }, `database unavailable: ${opts.what} is tried again until it is back`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt - 1, 5))));
    }
  }
}
