import { Prisma } from '../../generated/prisma/client.js';
import type { DbOrTx } from '../../infra/db/client.js';
import type { AfterCommit } from '../../infra/db/transaction.js';
import { COUNTER_KEYS, COUNTERS, type CounterColumns, type CounterKey, type Counts, countsFromColumns } from '../../domain/counters.js';
import type { CampaignProgressEvent } from '../../infra/realtime/topics.js';
import { counterColumns } from './counter-sql.js';

export type CounterDeltas = Partial<Counts>;

/** What every counter update returns: enough to publish progress without another read. */
export const PROGRESS_COLUMNS = Prisma.sql`id, tenant_id, status, version, resumes_at, stalled_since, reconnect_wait_since, throttled_until, started_at, completed_at, ${counterColumns(COUNTER_KEYS)}`;

interface ProgressRow extends CounterColumns {
  id: string;
  tenant_id: string;
  status: string;
  /** bigint through Prisma, a string through pg (src/infra/db/sql.ts). */
  version: bigint | string;
  resumes_at: Date | null;
  stalled_since: Date | null;
  reconnect_wait_since: Date | null;
  throttled_until: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
}

export function toProgressEvent(row: ProgressRow): CampaignProgressEvent {
  return {
    tenantId: row.tenant_id,
    campaignId: row.id,
    status: row.status,
    version: row.version.toString(),
    resumesAt: row.resumes_at?.toISOString() ?? null,
    stalledSince: row.stalled_since?.toISOString() ?? null,
    reconnectWaitSince: row.reconnect_wait_since?.toISOString() ?? null,
    throttledUntil: row.throttled_until?.toISOString() ?? null,
    startedAt: row.started_at?.toISOString() ?? null,
    completedAt: row.completed_at?.toISOString() ?? null,
    ...countsFromColumns(row),
    at: new Date().toISOString(),
  };
}

/**
 * Adds `deltas` to the campaign's counters (and applies `set`, raw SQL assignments) in one UPDATE,
 * bumps the version, and queues the progress event for after commit. Callers update the campaign row
 * last in their transaction: it is the hottest row, so its lock is held the shortest.
 */
export async function bumpCampaign(
  db: DbOrTx,
  after: AfterCommit | null,
  campaignId: string,
  deltas: CounterDeltas,
  set: Prisma.Sql[] = [],
): Promise<CampaignProgressEvent | null> {
  const assignments: Prisma.Sql[] = [];
  for (const [name, delta] of Object.entries(deltas) as Array<[CounterKey, number]>) {
    const column = Prisma.raw(COUNTERS[name].column);
    if (delta) assignments.push(Prisma.sql`${column} = ${column} + ${delta}`);
  }
  assignments.push(...set, Prisma.sql`version = version + 1`, Prisma.sql`updated_at = now()`);
  const rows = await db.$queryRaw<ProgressRow[]>`
    UPDATE campaign SET ${Prisma.join(assignments, ', ')} WHERE id = ${campaignId}::uuid RETURNING ${PROGRESS_COLUMNS}`;
  const row = rows[0];
  if (!row) return null;
  const event = toProgressEvent(row);
  after?.publish('campaign:progress', event);
  return event;
}

export async function readProgress(db: DbOrTx, tenantId: string, campaignId: string): Promise<CampaignProgressEvent | null> {
  const rows = await db.$queryRaw<ProgressRow[]>`
    SELECT ${PROGRESS_COLUMNS} FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid`;
  return rows[0] ? toProgressEvent(rows[0]) : null;
}

/** Share of the targeted recipients that went through dispatch (sent, failed, skipped or unknown), 0–100. */
export function percentDone(p: Counts<'targeted' | 'remaining'>): number {
  if (p.targeted === 0) return 0;
  return Math.min(100, Math.round(((p.targeted - p.remaining) / p.targeted) * 10000) / 100);
}

/**
 * Sends of the last minute, grouped by second, from the campaign log (`message_sent`, indexed by
 * campaign, type and time): seeds a live subscriber's sending speed without scanning recipients.
 */
export async function recentSends(db: DbOrTx, tenantId: string, campaignId: string): Promise<Array<{ ageMs: number; n: number }>> {
  return db.$queryRaw<Array<{ ageMs: number; n: number }>>`
    SELECT (extract(epoch FROM now() - date_trunc('second', created_at)) * 1000)::int AS "ageMs", count(*)::int AS n
    FROM campaign_log
    WHERE campaign_id = ${campaignId}::uuid AND type = 'MESSAGE_SENT' AND created_at > now() - interval '60 seconds'
      AND tenant_id = ${tenantId}::uuid
    GROUP BY date_trunc('second', created_at)`;
}
