import { whileDatabaseRecovers } from '../../infra/db/outage.js';
import { sqlExecute, sqlRows } from '../../infra/db/sql.js';
import type { MediaColumns } from '../../infra/evolution/requests.js';
import { Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import { type GroupResult, KeyedBatcher } from '../../infra/lib/keyed-batcher.js';

// Claiming recipients for sends and putting claimed ones back (src/features/recipients/ owns every write to
// the recipient table).

/** A recipient claimed for a send, with what its request is rendered from. */
export interface ClaimedRow extends MediaColumns {
  id: string;
  seq: number;
  /** The key id to send under (Evolution 2.4.0+), chosen by the claim; null otherwise. */
  request_key_id: string | null;
  contact_id: string;
  attempts: number;
  message_id: string;
  name: string | null;
  custom_fields: Record<string, unknown>;
  timezone: string | null;
  referred_by: string | null;
  text: string;
}


/** SQL condition: the recipient (alias r) is in one of the open zones (null: every zone). */
export function inOpenZones(open: string[] | null, tenantZone: string): Prisma.Sql {
  if (open === null) return Prisma.sql`TRUE`;
  if (open.length === 0) return Prisma.sql`FALSE`;
  return Prisma.sql`COALESCE(r.timezone, ${tenantZone}) = ANY(${open}::text[])`;
}

interface ClaimGroup {
  campaignId: string;
  instanceId: string;
  token: string;
  limit: number;
  open: string[] | null;
  tenantZone: string;
  /** Choose each recipient's key id in the claim (the instance's Evolution sends under it). */
  chooseKeyIds: boolean;
}

/** The most recipients one claim statement takes (groups are never split). */
const CLAIM_BATCH_MAX = 500;

/**
 * Claims of one campaign and instance run one statement at a time, per process: the send jobs that
 * ask meanwhile are served together by the next statement, each its own recipients under its own
 * token. Concurrent claims would otherwise scan and skip each other's locked rows in PostgreSQL.
 */
const claims = new KeyedBatcher<ClaimGroup, ClaimedRow[]>((_key, groups) => claimGroups(groups), CLAIM_BATCH_MAX);

/**
 * Claims the next `limit` recipients of the campaign for this instance, in open zones `open` (null:
 * every zone), for the send job `token`: only QUEUED ones, only while the campaign is RUNNING and the
 * instance may send. Resolves with the claimed rows in sequence order (fewer than `limit` when the
 * queue has no more now).
 */
export function claimNext(
  campaignId: string,
  instanceId: string,
  token: string,
  open: string[] | null,
  tenantZone: string,
  limit: number,
  chooseKeyIds = false,
): Promise<ClaimedRow[]> {
  if (limit <= 0 || (open !== null && open.length === 0)) return Promise.resolve([]);
  const key = `${campaignId}:${instanceId}:${tenantZone}:${open === null ? '*' : [...open].sort().join(',')}:${chooseKeyIds ? 'k' : '-'}`;
  return claims.add(key, { campaignId, instanceId, token, limit, open, tenantZone, chooseKeyIds }, limit);
}

/**
 * One claim for all the groups (same campaign, instance and zones): the first group gets the lowest
 * sequence numbers. FOR KEY SHARE on the campaign row makes a concurrent pause or cancel (FOR UPDATE)
 * wait for this claim, or this claim see its result.
 */
async function claimGroups(groups: readonly ClaimGroup[]): Promise<Array<GroupResult<ClaimedRow[]>>> {
  const first = groups[0];
  if (!first) return [];
  const { campaignId, instanceId } = first;
  let upto = 0;
  const bounds = groups.map((g) => (upto += g.limit));
  try {
    const rows = await sqlRows<ClaimedRow & { group_no: number }>(Prisma.sql`
      WITH c AS (
        SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND status = 'RUNNING' FOR KEY SHARE
      ), i AS (
        SELECT id FROM whatsapp_instance
        WHERE id = ${instanceId}::uuid AND NOT manually_paused AND auto_paused_at IS NULL
          AND connection_state NOT IN ('CLOSE', 'REFUSED') AND (unreachable_until IS NULL OR unreachable_until <= now())
          AND (throttled_until IS NULL OR throttled_until <= now())
      ), picked AS (
        SELECT r.id, r.seq FROM recipient r
        WHERE r.campaign_id = (SELECT id FROM c) AND EXISTS (SELECT 1 FROM i)
          AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= ${clock.now()}) AND ${inOpenZones(first.open, first.tenantZone)}
        ORDER BY r.seq
        LIMIT ${upto}
        FOR UPDATE OF r SKIP LOCKED
      ), next AS (
        SELECT p.id, t.token, t.g FROM (SELECT id, row_number() OVER (ORDER BY seq) AS rn FROM picked) p
        CROSS JOIN LATERAL (
          SELECT token, g FROM unnest(${groups.map((g) => g.token)}::text[], ${bounds}::int[]) WITH ORDINALITY AS t(token, upto, g)
          WHERE t.upto >= p.rn ORDER BY t.upto LIMIT 1
        ) t
      )
      UPDATE recipient r
      SET status = 'SENDING', instance_id = ${instanceId}::uuid, sending_at = now(), attempts = r.attempts + 1,
          claim_token = next.token, updated_at = now(),
          -- Baileys' form of key id: any webhook or lookup that names it proves this send (src/features/dispatch/reconcile.ts).
          request_key_id = CASE WHEN ${first.chooseKeyIds} THEN '3EB0' || upper(substr(md5(gen_random_uuid()::text), 1, 18)) END
      FROM next, contact ct, campaign_message m
      WHERE r.id = next.id AND ct.id = r.contact_id AND m.id = r.message_id
      RETURNING r.id, r.seq, r.request_key_id, r.contact_id, r.phone, r.attempts, r.message_id, ct.name, ct.custom_fields, ct.timezone,
                ct.referred_by, m.text, m.media_type, m.media_url, m.media_mimetype, m.media_file_name, next.g::int AS group_no`);
    rows.sort((a, b) => a.seq - b.seq);
    const perGroup = groups.map((): ClaimedRow[] => []);
    for (const { group_no, ...row } of rows) perGroup[group_no - 1]?.push(row);
    return perGroup.map((value) => ({ ok: true, value }));
  } catch (error) {
    return groups.map(() => ({ ok: false, error }));
  }
}

/** Puts claimed recipients back in the queue, as if they had never been claimed (across a database blink too). */
export async function unclaim(recipientIds: string[], notBefore: Date | null) {
  if (recipientIds.length === 0) return;
  await whileDatabaseRecovers(() => unclaimOnce(recipientIds, notBefore), { what: 'putting recipients back', maxMs: 60_000 });
}

async function unclaimOnce(recipientIds: string[], notBefore: Date | null) {
  await sqlExecute(Prisma.sql`
    UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, instance_id = NULL, attempts = GREATEST(0, attempts - 1),
      request_key_id = NULL, not_before = ${notBefore}, updated_at = now()
    WHERE id = ANY(${recipientIds}::uuid[]) AND status = 'SENDING'`);
}
