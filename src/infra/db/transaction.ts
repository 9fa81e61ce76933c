import { logger } from '../lib/logger.js';
import { publishAll } from '../realtime/pubsub.js';
import type { Topic, Topics } from '../realtime/topics.js';
import { prisma, type Tx } from './client.js';

/**
 * Side effects that must happen only once the transaction committed (live events). Collected while
 * the transaction runs, published after COMMIT, dropped on rollback.
 */
export class AfterCommit {
  private readonly events: Array<{ topic: Topic; payload: Topics[Topic] }> = [];
  private readonly tasks: Array<() => Promise<unknown>> = [];

  /**
   * Log entries of one campaign with the same severity and type join one `campaign:log` event (a
   * batch of sends is one message on the channel, not one per send).
   */
  publish<T extends Topic>(topic: T, payload: Topics[T]) {
    if (topic === 'campaign:log') {
      const log = payload as Topics['campaign:log'];
      const same = this.events.find((e): e is { topic: 'campaign:log'; payload: Topics['campaign:log'] } => {
        if (e.topic !== 'campaign:log') return false;
        const p = e.payload as Topics['campaign:log'];
        return p.tenantId === log.tenantId && p.campaignId === log.campaignId && p.severity === log.severity && p.type === log.type;
      });
      if (same) same.payload.logIds.push(...log.logIds);
      else this.events.push({ topic, payload: { ...log, logIds: [...log.logIds] } });
      return;
    }
    this.events.push({ topic, payload });
  }

  /** Work to start once committed (enqueueing a job that must see the committed rows). */
  defer(task: () => Promise<unknown>) {
    this.tasks.push(task);
  }

  async flush(): Promise<void> {
    for (const task of this.tasks.splice(0)) await task();
    const events = this.events.splice(0) as Array<{ topic: Topic; payload: Topics[Topic] & { tenantId: string } }>;
    // A lost live event must not fail a committed change: subscribers re-read state on connect.
    for (const { topic, error } of await publishAll(events)) logger.warn({ err: error, topic }, 'publish failed');
  }
}

export interface TxOptions {
  timeout?: number;
  maxWait?: number;
}

/** PostgreSQL aborted the transaction to break a deadlock or a serialization conflict: running it again is safe. */
export function isRetryableConflict(err: unknown): boolean {
  const e = err as { code?: string; meta?: { code?: string }; cause?: { code?: string }; message?: string } | null;
  if (!e) return false;
  const codes = [e.code, e.meta?.code, e.cause?.code];
  return codes.includes('P2034') || codes.includes('40P01') || codes.includes('40001') || /deadlock detected|could not serialize access/.test(e.message ?? '');
}

const CONFLICT_ATTEMPTS = 4;

/**
 * Runs `attempt` (a whole transaction) again when PostgreSQL aborted it to break a deadlock or a
 * serialization conflict: its writes were rolled back, so running it again is safe.
 */
export async function withConflictRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= CONFLICT_ATTEMPTS || !isRetryableConflict(err)) throw err;
      logger.warn({ attempt: n, err: (err as Error).message }, 'transaction aborted by a conflict; running it again');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * n));
    }
  }
}

/**
 * Runs `fn` in a transaction and publishes what it queued once it committed. A transaction that
 * PostgreSQL aborted to break a deadlock is run again (its writes were rolled back, and its live
 * events and deferred work were never released), so callers never see that race.
 */
export async function inTransaction<T>(fn: (tx: Tx, after: AfterCommit) => Promise<T>, options: TxOptions = {}): Promise<T> {
  return withConflictRetries(async () => {
    const after = new AfterCommit();
    const result = await prisma.$transaction((tx) => fn(tx, after), { timeout: options.timeout ?? 15_000, maxWait: options.maxWait ?? 10_000 });
    await after.flush();
    return result;
  });
}
