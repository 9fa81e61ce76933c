import { whileDatabaseRecovers } from '../../infra/db/outage.js';
import { sqlExecute, sqlRows } from '../../infra/db/sql.js';
import type { MediaColumns } from '../../infra/evolution/requests.js';
import { Prisma, type SkipReason } from '../../generated/prisma/client.js';
import { AfterCommit } from '../../infra/db/transaction.js';
import { PROGRESS_COLUMNS, toProgressEvent } from '../campaigns/progress.js';
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
  /** The zone its sending window is read in (null: the tenant's). */
  window_zone: string | null;
  /** The frequency cap in force for this send (messages per hours), null when none. */
  cap_n: number | null;
  cap_hours: number | null;
  /** The variation's template (WHATSAPP_BUSINESS), when it is one. */
  template_name: string | null;
  template_language: string | null;
  template_params: unknown;
  /** Sent as a template: the variation is one and the instance is WHATSAPP_BUSINESS (elsewhere its body goes as text). */
  send_template: boolean;
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

/** The texts recipients skipped at send are logged and stored with, by reason. */
const SKIP_TEXTS: Record<SkipReason, string> = {
  OPTED_OUT: 'contact opted out',
  BLOCKED: 'contact blocked',
  NOT_ON_WHATSAPP: 'the number is not on WhatsApp',
  NO_OPT_IN: 'the contact has no opt-in and the tenant requires it',
  FREQUENCY_CAP: "the contact reached the frequency cap, which frees only after the campaign's expiry",
  EXPIRED: 'the campaign expired before this recipient could be sent',
  CAMPAIGN_CANCELLED: 'campaign cancelled',
  CONTACT_DELETED: 'contact deleted',
  OUTSIDE_SERVICE_WINDOW: 'outside the 24-hour service window of a WhatsApp Business number, and the campaign has no template variation',
};
const SKIP_KEYS = Object.keys(SKIP_TEXTS);
const SKIP_VALUES = Object.values(SKIP_TEXTS);

/**
 * Meta's customer-service window: a WHATSAPP_BUSINESS number may send free text only within 24 hours
 * of the contact's last message to it. Judged with a margin, so that a send claimed just inside the
 * window does not reach Meta just outside it.
 */
const SERVICE_WINDOW = '24 hours';
const SERVICE_WINDOW_MARGIN = '10 minutes';

/** SQL condition: the contact (`contactId`, an SQL expression) wrote to the instance within its service window at `now`. */
export function insideServiceWindow(contactId: Prisma.Sql, instanceId: string, now: Date): Prisma.Sql {
  return Prisma.sql`EXISTS (
    SELECT 1 FROM reply rp WHERE rp.contact_id = ${contactId} AND rp.instance_id = ${instanceId}::uuid
      AND rp.received_at > ${now}::timestamptz - ${SERVICE_WINDOW}::interval + ${SERVICE_WINDOW_MARGIN}::interval)`;
}

/** How long a recipient capped only by sends still in flight waits before it is judged again. */
const CAP_IN_FLIGHT_WAIT = '5 seconds';

/**
 * SQL condition on another recipient `o` of the same contact: it counts against the frequency cap of
 * `hours` at `now` (sent in the period, or possibly sent: in flight or with an unknown outcome).
 */
export function countsForCap(now: Date, hours: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(o.sent_at > ${now}::timestamptz - make_interval(hours => ${hours})
    OR (o.status IN ('SENDING', 'UNKNOWN') AND o.sending_at > ${now}::timestamptz - make_interval(hours => ${hours})))`;
}

interface ClaimResult {
  claimed: Array<ClaimedRow & { group_no: number }> | null;
  progress: (Parameters<typeof toProgressEvent>[0] & { log_ids: string[] | null }) | null;
  deferred_log_ids: string[] | null;
}

/**
 * One claim for all the groups (same campaign, instance and zones): the first group gets the lowest
 * sequence numbers. FOR KEY SHARE on the campaign row makes a concurrent pause or cancel (FOR UPDATE)
 * wait for this claim, or this claim see its result.
 *
 * The same statement re-checks each picked recipient's contact as it is now (not as it was when the
 * audience was frozen): opted out, blocked, not on WhatsApp, without the opt-in its tenant requires,
 * or its campaign expired: the recipient ends SKIPPED with its reason, counted and logged, and is
 * never returned for a call. A contact at its frequency cap (campaign messages in the rolling period,
 * across campaigns) is deferred until the cap frees, or skipped (FREQUENCY_CAP) when that is after
 * the campaign's expiry.
 */
async function claimGroups(groups: readonly ClaimGroup[]): Promise<Array<GroupResult<ClaimedRow[]>>> {
  const first = groups[0];
  if (!first) return [];
  const { campaignId, instanceId } = first;
  let upto = 0;
  const bounds = groups.map((g) => (upto += g.limit));
  const now = clock.now();
  try {
    const [result] = await sqlRows<ClaimResult>(Prisma.sql`
      WITH c AS (
        SELECT c.id, c.tenant_id, c.expires_at, t.require_opt_in,
          (SELECT m.id FROM campaign_message m WHERE m.campaign_id = c.id AND m.template_name IS NOT NULL ORDER BY m.sort_order, m.id LIMIT 1) AS template_message_id,
          CASE WHEN c.frequency_cap_exempt THEN NULL ELSE COALESCE(c.frequency_cap_messages, t.frequency_cap_messages) END AS cap_n,
          CASE WHEN c.frequency_cap_exempt THEN NULL WHEN c.frequency_cap_messages IS NOT NULL THEN c.frequency_cap_hours
               ELSE t.frequency_cap_hours END AS cap_hours
        FROM campaign c JOIN tenant t ON t.id = c.tenant_id
        WHERE c.id = ${campaignId}::uuid AND c.status = 'RUNNING' FOR KEY SHARE OF c
      ), i AS (
        SELECT id, integration = 'WHATSAPP-BUSINESS' AS business FROM whatsapp_instance
        WHERE id = ${instanceId}::uuid AND NOT manually_paused AND auto_paused_at IS NULL
          AND connection_state NOT IN ('CLOSE', 'REFUSED') AND disconnected_since IS NULL AND (unreachable_until IS NULL OR unreachable_until <= now())
          AND (throttled_until IS NULL OR throttled_until <= now())
      ), picked AS (
        SELECT r.id, r.seq, r.contact_id, r.message_id FROM recipient r
        WHERE r.campaign_id = (SELECT id FROM c) AND EXISTS (SELECT 1 FROM i)
          AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= ${now}) AND ${inOpenZones(first.open, first.tenantZone)}
        ORDER BY r.seq
        LIMIT ${upto}
        FOR UPDATE OF r SKIP LOCKED
      ), windowed AS (
        -- Free text from a WhatsApp Business number to a contact outside its service window: the
        -- campaign's template variation goes instead, or the recipient is skipped.
        SELECT p.*, (SELECT business FROM i) AND m.template_name IS NULL AND NOT ${insideServiceWindow(Prisma.sql`p.contact_id`, instanceId, now)} AS outside
        FROM picked p JOIN campaign_message m ON m.id = p.message_id
      ), judged AS (
        SELECT p.id, p.seq, CASE WHEN p.outside THEN c.template_message_id ELSE p.message_id END AS message_id,
          CASE
            WHEN c.expires_at <= ${now} THEN 'EXPIRED'
            WHEN ct.opted_out THEN 'OPTED_OUT'
            WHEN ct.blocked THEN 'BLOCKED'
            WHEN ct.not_on_whatsapp THEN 'NOT_ON_WHATSAPP'
            WHEN c.require_opt_in AND ct.opted_in_at IS NULL THEN 'NO_OPT_IN'
            WHEN p.outside AND c.template_message_id IS NULL THEN 'OUTSIDE_SERVICE_WINDOW'
            WHEN cap.n >= c.cap_n AND cap.frees_at > c.expires_at THEN 'FREQUENCY_CAP'
          END AS skip,
          CASE WHEN cap.n >= c.cap_n THEN cap.frees_at END AS defer_until
        FROM windowed p CROSS JOIN c JOIN contact ct ON ct.id = p.contact_id
        LEFT JOIN LATERAL (
          -- Only with a cap in force (a one-time filter otherwise): the contact's other campaign messages in the period.
          SELECT count(*)::int AS n,
            COALESCE(min(o.sent_at) + make_interval(hours => c.cap_hours), ${now}::timestamptz + ${CAP_IN_FLIGHT_WAIT}::interval) AS frees_at
          FROM recipient o
          WHERE c.cap_n IS NOT NULL AND o.contact_id = p.contact_id AND o.id <> p.id AND ${countsForCap(now, Prisma.sql`c.cap_hours`)}
        ) cap ON true
      ), eligible AS (
        SELECT id, message_id, row_number() OVER (ORDER BY seq) AS rn FROM judged WHERE skip IS NULL AND defer_until IS NULL
      ), next AS (
        SELECT e.id, e.message_id, t.token, t.g FROM eligible e
        CROSS JOIN LATERAL (
          SELECT token, g FROM unnest(${groups.map((g) => g.token)}::text[], ${bounds}::int[]) WITH ORDINALITY AS t(token, upto, g)
          WHERE t.upto >= e.rn ORDER BY t.upto LIMIT 1
        ) t
      ), sent AS (
        UPDATE recipient r
        SET status = 'SENDING', instance_id = ${instanceId}::uuid, sending_at = now(), attempts = r.attempts + 1,
            claim_token = next.token, message_id = next.message_id, updated_at = now(),
            -- Baileys' form of key id: any webhook or lookup that names it proves this send (src/features/dispatch/reconcile.ts).
            request_key_id = CASE WHEN ${first.chooseKeyIds} THEN '3EB0' || upper(substr(md5(gen_random_uuid()::text), 1, 18)) END
        FROM next, contact ct, campaign_message m
        WHERE r.id = next.id AND ct.id = r.contact_id AND m.id = next.message_id
        RETURNING r.id, r.seq, r.request_key_id, r.contact_id, r.phone, r.attempts, r.message_id, r.timezone AS window_zone, ct.name, ct.custom_fields, ct.timezone,
                  ct.referred_by, m.text, m.media_type, m.media_url, m.media_mimetype, m.media_file_name, next.g::int AS group_no,
                  m.template_name, m.template_language, m.template_params, (SELECT business FROM i) AND m.template_name IS NOT NULL AS send_template,
                  (SELECT cap_n FROM c) AS cap_n, (SELECT cap_hours FROM c) AS cap_hours
      ), skipped AS (
        UPDATE recipient r
        SET status = 'SKIPPED', skipped_at = now(), skip_reason = j.skip::"SkipReason", not_before = NULL, updated_at = now(),
            error = (SELECT u.text FROM unnest(${SKIP_KEYS}::text[], ${SKIP_VALUES}::text[]) AS u(k, text) WHERE u.k = j.skip)
        FROM judged j WHERE r.id = j.id AND j.skip IS NOT NULL
        RETURNING r.id, r.contact_id, r.phone, r.error, j.skip
      ), deferred AS (
        UPDATE recipient r SET not_before = j.defer_until, updated_at = now()
        FROM judged j WHERE r.id = j.id AND j.skip IS NULL AND j.defer_until IS NOT NULL
        RETURNING r.id, r.contact_id, r.phone, j.defer_until
      ), skip_logs AS (
        INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, contact_id, recipient_id, details, actor)
        SELECT (SELECT tenant_id FROM c), ${campaignId}::uuid, 'RECIPIENT_SKIPPED', 'INFO', 'recipient ' || s.phone || ' skipped at send: ' || s.error,
          s.contact_id, s.id, jsonb_build_object('reason', s.skip), 'worker'
        FROM skipped s
        RETURNING id
      ), defer_logs AS (
        INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, contact_id, recipient_id, details, actor)
        SELECT (SELECT tenant_id FROM c), ${campaignId}::uuid, 'RECIPIENT_DEFERRED', 'INFO',
          'recipient ' || d.phone || ' deferred: the contact reached the frequency cap', d.contact_id, d.id,
          jsonb_build_object('reason', 'FREQUENCY_CAP', 'until', d.defer_until), 'worker'
        FROM deferred d
        RETURNING id
      ), camp AS (
        UPDATE campaign SET skipped_count = skipped_count + (SELECT count(*) FROM skipped),
          remaining_count = remaining_count - (SELECT count(*) FROM skipped), version = version + 1, updated_at = now()
        WHERE id = ${campaignId}::uuid AND EXISTS (SELECT 1 FROM skipped)
        RETURNING ${PROGRESS_COLUMNS}
      )
      SELECT (SELECT json_agg(sent) FROM sent) AS claimed,
        (SELECT to_jsonb(camp) || jsonb_build_object('log_ids', (SELECT json_agg(id::text) FROM skip_logs)) FROM camp) AS progress,
        (SELECT json_agg(id::text) FROM defer_logs) AS deferred_log_ids`);
    const rows = result?.claimed ?? [];
    rows.sort((a, b) => a.seq - b.seq);
    if (result?.progress || result?.deferred_log_ids?.length) await publishJudged(campaignId, result.progress, result.deferred_log_ids);
    const perGroup = groups.map((): ClaimedRow[] => []);
    for (const { group_no, ...row } of rows) perGroup[group_no - 1]?.push(row);
    return perGroup.map((value) => ({ ok: true, value }));
  } catch (error) {
    return groups.map(() => ({ ok: false, error }));
  }
}

/**
 * The progress and log events of recipients the claim skipped or deferred (committed with it). Never
 * throws: the claim is committed, and its claimed recipients must reach their calls.
 */
async function publishJudged(campaignId: string, progress: ClaimResult['progress'], deferredLogIds: string[] | null) {
  try {
    const after = new AfterCommit();
    if (progress) {
      const { log_ids, ...json } = progress;
      // Through JSON, the row's times are strings.
      const at = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
      const row = { ...json, resumes_at: at(json.resumes_at), stalled_since: at(json.stalled_since), started_at: at(json.started_at), completed_at: at(json.completed_at) };
      after.publish('campaign:progress', toProgressEvent(row));
      if (log_ids?.length) after.publish('campaign:log', { tenantId: row.tenant_id, campaignId, logIds: log_ids, severity: 'INFO', type: 'RECIPIENT_SKIPPED' });
    }
    if (deferredLogIds?.length) {
      const [c] = await sqlRows<{ tenant_id: string }>(Prisma.sql`SELECT tenant_id FROM campaign WHERE id = ${campaignId}::uuid`);
      if (c) after.publish('campaign:log', { tenantId: c.tenant_id, campaignId, logIds: deferredLogIds, severity: 'INFO', type: 'RECIPIENT_DEFERRED' });
    }
    await after.flush();
  } catch {
    // Live subscribers miss these events; the database has them (and the next progress event carries the counters).
  }
}

/**
 * Claimed recipients whose contact reached its frequency cap while they were claimed (another
 * campaign's send to the same phone was recorded between this claim's snapshot and its phone lock),
 * judged again under the phone locks: only recorded sends count here, as no other send to these
 * phones can be in flight. Returns their ids; callers put them back to be judged by the next claim.
 */
export async function overFrequencyCap(claimed: readonly ClaimedRow[]): Promise<string[]> {
  const capped = claimed.filter((r) => r.cap_n !== null && r.cap_hours !== null);
  if (capped.length === 0) return [];
  const now = clock.now();
  const rows = await sqlRows<{ id: string }>(Prisma.sql`
    SELECT v.id FROM unnest(${capped.map((r) => r.id)}::uuid[], ${capped.map((r) => r.contact_id)}::uuid[], ${capped.map((r) => r.cap_n)}::int[],
      ${capped.map((r) => r.cap_hours)}::int[]) AS v(id, contact_id, cap_n, cap_hours)
    WHERE (SELECT count(*) FROM recipient o WHERE o.contact_id = v.contact_id AND o.id <> v.id
             AND (o.sent_at > ${now}::timestamptz - make_interval(hours => v.cap_hours)
               OR (o.status = 'UNKNOWN' AND o.sending_at > ${now}::timestamptz - make_interval(hours => v.cap_hours)))) >= v.cap_n`);
  return rows.map((r) => r.id);
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
