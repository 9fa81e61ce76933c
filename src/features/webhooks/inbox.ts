import pg from 'pg';
import { config } from '../../infra/config/index.js';
import { sqlExecute, sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';
import { type GroupResult, KeyedBatcher } from '../../infra/lib/keyed-batcher.js';
import type { Logger } from '../../infra/lib/logger.js';
import { poolConfigFromUrl } from '../../infra/db/pg-client.js';
import { isHandledEvent, parseEventData } from './schemas.js';
import { processWebhook, type WebhookEffects, type WebhookJob } from './process.js';
import { webhookApplyLagSeconds, webhooksAppliedTotal } from '../../infra/metrics/registry.js';

/**
 * The webhook inbox (table `webhook_inbox`): an Evolution event is acknowledged only once it is a row
 * here, and a row is deleted only once the event is applied. Redis holds nothing of it, so a Redis
 * restart loses no acknowledged event; a worker that dies mid-way leaves its rows to be taken again
 * when their lease ends.
 */

export interface InboxEvent {
  tenantId: string;
  instanceId: string;
  event: string;
  /** The envelope's validated `data`. */
  data: unknown;
  receivedAt: Date;
}

/** Wakes the consumers (LISTEN) when rows arrive; they also look every POLL_MS without it. */
const CHANNEL = 'wc_webhook_inbox';
/** The most events one insert takes: every request waiting while the previous insert ran. */
const INSERT_BATCH_MAX = 500;

/**
 * PostgreSQL refuses U+0000 in text and in jsonb. An event whose text carries one (a contact's name,
 * a message) is still a real event: the character is dropped, not the event.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replace(/\u0000/g, '') : value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[withoutNul(k)] = withoutNul(v);
    return out as T;
  }
  return value;
}

/**
 * Group commit: the requests that arrive while an insert runs are written by the next one, together,
 * so the acknowledgement costs one round trip under any load instead of a queue of them.
 */
const inserts = new KeyedBatcher<InboxEvent[]>((_key, groups) => insertGroups(groups), INSERT_BATCH_MAX);

function insertStatement(events: readonly InboxEvent[]): Prisma.Sql {
  return Prisma.sql`
    WITH ins AS (
      INSERT INTO webhook_inbox (tenant_id, instance_id, event, data, received_at)
      SELECT * FROM unnest(${events.map((e) => e.tenantId)}::uuid[], ${events.map((e) => e.instanceId)}::uuid[],
        ${events.map((e) => e.event)}::text[], ${events.map((e) => JSON.stringify(withoutNul(e.data)))}::jsonb[],
        ${events.map((e) => e.receivedAt)}::timestamptz[])
      RETURNING 1)
    SELECT count(*)::int AS n, pg_notify(${CHANNEL}, '') FROM ins`;
}

async function insertGroups(groups: readonly InboxEvent[][]): Promise<GroupResult[]> {
  try {
    await sqlRows(insertStatement(groups.flat()));
    return groups.map(() => ({ ok: true, value: undefined }));
  } catch (error) {
    if (groups.length === 1) return [{ ok: false, error }];
    // One bad row must not refuse the others: each request's events on their own.
    const results: GroupResult[] = [];
    for (const g of groups) {
      try {
        await sqlRows(insertStatement(g));
        results.push({ ok: true, value: undefined });
      } catch (err) {
        results.push({ ok: false, error: err });
      }
    }
    return results;
  }
}

/** Makes the event durable; resolves once it is committed (then, and only then, may it be acknowledged). */
export function acceptWebhook(event: InboxEvent): Promise<void> {
  return inserts.add('inbox', [event], 1);
}

/** What the inbox holds now: events waiting (and the oldest one's age), and events that kept failing. */
export async function inboxStats(): Promise<{ pending: number; oldestPendingMs: number | null; failed: number }> {
  const [row] = await sqlRows<{ pending: number; oldest: Date | null; failed: number }>(Prisma.sql`
    SELECT count(*) FILTER (WHERE failed_at IS NULL)::int AS pending,
           min(received_at) FILTER (WHERE failed_at IS NULL) AS oldest,
           count(*) FILTER (WHERE failed_at IS NOT NULL)::int AS failed
    FROM webhook_inbox`);
  return {
    pending: row?.pending ?? 0,
    oldestPendingMs: row?.oldest ? Math.max(0, Date.now() - row.oldest.getTime()) : null,
    failed: row?.failed ?? 0,
  };
}

interface InboxRow {
  id: string;
  tenant_id: string;
  instance_id: string;
  event: string;
  data: unknown;
  received_at: Date;
  attempts: number;
}

/** An event that failed this many times stays in the inbox with `failed_at`, for an operator. */
export const INBOX_MAX_ATTEMPTS = 8;
/** A claimed row not deleted or released by then is taken again (its worker died). */
const LEASE_MS = 60_000;
const POLL_MS = 1000;

function retryDelayMs(attempts: number): number {
  return Math.min(60_000, 250 * 2 ** Math.max(0, attempts - 1));
}

export interface InboxConsumerOptions {
  /** Events applied at once, besides receipts (which go through the receipt batcher together). */
  concurrency: number;
  log: Logger;
  effects: WebhookEffects;
}

/**
 * A worker's consumer of the inbox: claims waiting rows (SKIP LOCKED, so workers share them), applies
 * them, deletes the applied ones and gives the failed ones a later try. Runs until `close()`;
 * a database outage only makes it wait and try again.
 */
export class InboxConsumer {
  /** How the events this process applied went (the processor's answers), for logs and tests. */
  readonly outcomes = new Map<string, number>();
  private running = true;
  private wake: (() => void) | null = null;
  private listener: pg.Client | null = null;
  private loop: Promise<void>;
  private readonly batch: number;

  constructor(private readonly options: InboxConsumerOptions) {
    this.batch = Math.max(50, options.concurrency * 5);
    void this.listen();
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => undefined);
  }

  /** LISTEN on a connection of its own, reconnected after a failure; a lost notification costs at most POLL_MS. */
  private async listen(): Promise<void> {
    while (this.running) {
      const client = new pg.Client(poolConfigFromUrl(config.databaseUrl));
      const ended = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', () => this.wake?.());
        await client.query(`LISTEN ${CHANNEL}`);
        this.listener = client;
        if (this.running) await ended;
      } catch {
        // the database is away: the poll still runs; try to listen again shortly
      }
      if (this.listener === client) this.listener = null;
      await client.end().catch(() => undefined);
      if (this.running) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.round();
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 30 === 0) this.options.log.warn({ err: (err as Error).message, failures }, 'webhook inbox unavailable; trying again');
      }
      if (!this.running) break;
      if (claimed >= this.batch) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, failures > 0 ? Math.min(5000, 250 * failures) : POLL_MS);
        const self = this;
        function done() {
          clearTimeout(t);
          if (self.wake === done) self.wake = null;
          resolve();
        }
        this.wake = done;
      });
    }
  }

  /** Claims, applies and settles one batch; returns how many rows it claimed. */
  private async round(): Promise<number> {
    const rows = await sqlRows<InboxRow>(Prisma.sql`
      UPDATE webhook_inbox w SET attempts = w.attempts + 1, available_at = now() + make_interval(secs => ${LEASE_MS / 1000})
      FROM (SELECT id FROM webhook_inbox WHERE failed_at IS NULL AND available_at <= now() ORDER BY id LIMIT ${this.batch} FOR UPDATE SKIP LOCKED) c
      WHERE w.id = c.id
      RETURNING w.id, w.tenant_id, w.instance_id, w.event, w.data, w.received_at, w.attempts`);
    if (rows.length === 0) return 0;
    const done: InboxRow[] = [];
    const failed: Array<{ id: string; event: string; attempts: number; error: string; permanent: boolean }> = [];
    const apply = async (row: InboxRow) => {
      const parsed = parseInboxRow(row);
      if (!parsed.ok) {
        failed.push({ id: row.id, event: row.event, attempts: row.attempts, error: parsed.error, permanent: true });
        return;
      }
      try {
        const outcome = await processWebhook(parsed.job, this.options.effects);
        this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
        done.push(row);
      } catch (err) {
        failed.push({ id: row.id, event: row.event, attempts: row.attempts, error: (err as Error).message ?? String(err), permanent: false });
      }
    };
    // Receipts all at once: they are applied in batches by the receipt batcher. Other events a few at a time.
    const receipts = rows.filter((r) => r.event === 'messages.update');
    const others = rows.filter((r) => r.event !== 'messages.update');
    let next = 0;
    const lane = async () => {
      while (next < others.length) await apply(others[next++] as InboxRow);
    };
    await Promise.all([...receipts.map(apply), ...Array.from({ length: Math.min(this.options.concurrency, others.length) }, lane)]);

    if (done.length > 0) {
      await sqlExecute(Prisma.sql`DELETE FROM webhook_inbox WHERE id = ANY(${done.map((r) => r.id)}::bigint[])`);
      // Counted once gone from the inbox: a row applied but not deleted (the database left) is applied again.
      const now = Date.now();
      for (const r of done) countApplied(r.event, 'applied', now - r.received_at.getTime());
    }
    for (const f of failed) {
      const final = f.permanent || f.attempts >= INBOX_MAX_ATTEMPTS;
      countApplied(f.event, final ? 'failed' : 'retry');
      this.options.log[final ? 'error' : 'warn']({ inboxId: f.id, attempt: f.attempts, err: f.error }, final ? 'webhook event failed for good; kept in the inbox' : 'webhook event failed; trying again');
      await sqlExecute(Prisma.sql`
        UPDATE webhook_inbox SET last_error = ${f.error.slice(0, 2000)},
          failed_at = CASE WHEN ${final} THEN now() END,
          available_at = now() + make_interval(secs => ${retryDelayMs(f.attempts) / 1000})
        WHERE id = ${f.id}::bigint`);
    }
    return rows.length;
  }
}

/**
 * wc_webhooks_applied_total (and, for an applied event, wc_webhook_apply_lag_seconds: received by the
 * route → applied). Rows hold only events the route handles; anything else is `other`.
 */
export function countApplied(event: string, result: 'applied' | 'retry' | 'failed', lagMs?: number) {
  const label = isHandledEvent(event) ? event : 'other';
  webhooksAppliedTotal.inc({ event: label, result });
  if (lagMs !== undefined) webhookApplyLagSeconds.observe({ event: label }, Math.max(0, lagMs) / 1000);
}

/** An inbox row as the job the processor takes, its data checked again by its event's schema. */
export function parseInboxRow(row: Pick<InboxRow, 'tenant_id' | 'instance_id' | 'event' | 'data' | 'received_at'>): { ok: true; job: WebhookJob } | { ok: false; error: string } {
  const parsed = parseEventData(row.event, row.data);
  if (!parsed.ok) return parsed;
  return { ok: true, job: { tenantId: row.tenant_id, instanceId: row.instance_id, receivedAt: row.received_at.toISOString(), ...parsed.value } };
}

/** Deletes events that failed for good long ago (kept a week for an operator to look at). */
export function purgeFailedInbox(): Promise<number> {
  return sqlExecute(Prisma.sql`DELETE FROM webhook_inbox WHERE failed_at < now() - interval '7 days'`);
}

