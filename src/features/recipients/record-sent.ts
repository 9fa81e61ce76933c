import { appendLogs, type LogEntry } from '../campaigns/logs.js';
import { bumpCampaign, PROGRESS_COLUMNS, toProgressEvent } from '../campaigns/progress.js';
import type { Tx } from '../../infra/db/client.js';
import { ROLLBACK, sqlRows, sqlTransaction } from '../../infra/db/sql.js';
import { AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import { applyReceipt, PROVIDER_STATUSES, parseProviderStatus, type ProviderStatus, type ReceiptChange, type ReceiptState } from '../../domain/receipts.js';
import type { SendOutcome } from '../../infra/evolution/client.js';
import { Prisma } from '../../generated/prisma/client.js';
import { type GroupResult, KeyedBatcher } from '../../infra/lib/keyed-batcher.js';
import type { Logger } from '../../infra/lib/logger.js';
import { applyInstanceDeltas, emptyDeltas } from './effects.js';
import { addChangeDeltas, changeLogs, updateRecipientForChange } from './receipts.js';

/** A send Evolution accepted, waiting to be recorded. */
export interface AcceptedSend {
  recipientId: string;
  contactId: string;
  phone: string;
  text: string;
  request: Prisma.InputJsonValue;
  outcome: Extract<SendOutcome, { kind: 'sent' }>;
}

/** The most sends one record transaction takes (groups are never split). */
export const RECORD_BATCH_MAX = 100;

interface SendGroup {
  tenantId: string;
  campaignId: string;
  instanceId: string;
  sends: readonly AcceptedSend[];
  log: Logger;
}

/**
 * Sends of one campaign and instance are recorded one transaction at a time, per process: the ones
 * accepted while a transaction runs (other send jobs' calls) are recorded together by the next one.
 * They would otherwise wait in PostgreSQL for the same campaign and instance rows, each in its own
 * transaction; in one they cost one round of locks, one update of each hot row and one commit.
 */
const recorder = new KeyedBatcher<SendGroup>((_key, groups) => recordGroups(groups), RECORD_BATCH_MAX);

/**
 * Records sends Evolution accepted, of one campaign and one instance, in one transaction: each
 * recipient SENT with its key id, a `message_sent` entry each, the receipts that overtook the
 * responses (parked in pending_receipt) applied, then one instance update and one campaign update.
 * Resolves once they are committed (with other callers' sends of the same campaign and instance,
 * see `recorder`); rejects when one of these sends could not be recorded, after every other was.
 *
 * The key ids' advisory locks are taken first, in hash order (as the receipt batches take them),
 * so the webhook path cannot park a receipt between our read of pending_receipt and our write;
 * then the recipients by id, the instance, the log, the campaign: the lock order used everywhere.
 * The outcome is the same as recording the sends one by one.
 */
export async function recordAcceptedSends(
  tenantId: string,
  campaignId: string,
  instanceId: string,
  sends: readonly AcceptedSend[],
  log: Logger,
): Promise<void> {
  if (sends.length === 0) return;
  await recorder.add(`${campaignId}:${instanceId}`, { tenantId, campaignId, instanceId, sends, log }, sends.length);
}

/** One transaction for all groups (same campaign and instance); if it fails, each send on its own. */
async function recordGroups(groups: readonly SendGroup[]): Promise<GroupResult[]> {
  const first = groups[0];
  if (!first) return [];
  const { tenantId, campaignId, instanceId, log } = first;
  const all = groups.flatMap((g) => g.sends);
  try {
    await recordOnce(tenantId, campaignId, instanceId, all);
    return groups.map(() => ({ ok: true, value: undefined }));
  } catch (err) {
    if (all.length === 1) return [{ ok: false, error: err }];
    // One bad row (say a key id Evolution gave twice) must not leave the others unrecorded.
    log.warn({ err, size: all.length, campaignId }, 'recording a batch of sends failed; recording them one by one');
    const results: GroupResult[] = [];
    for (const g of groups) {
      let error: unknown = null;
      for (const s of g.sends) {
        try {
          await recordOnce(tenantId, campaignId, instanceId, [s]);
        } catch (e) {
          error ??= e;
        }
      }
      results.push(error === null ? { ok: true, value: undefined } : { ok: false, error });
    }
    return results;
  }
}

/**
 * The common case (no receipt overtook its send) runs on pg directly, four round trips with no
 * Prisma work (src/infra/db/sql.ts). When receipts were parked for these key ids, that transaction is
 * rolled back and the same statements run again through Prisma, where the parked receipts are
 * applied with the receipt path's own functions, in the same transaction.
 */
async function recordOnce(tenantId: string, campaignId: string, instanceId: string, sends: readonly AcceptedSend[]) {
  const row = await sqlTransaction(async (client) => {
    await sqlRows(lockKeysStatement(sends), client);
    const [recorded] = await sqlRows<RecordedRow>(recordStatement(tenantId, campaignId, instanceId, sends), client);
    if (!recorded) throw new Error(`campaign ${campaignId} vanished while recording its sends`);
    return (recorded.parked?.length ?? 0) > 0 ? ROLLBACK : recorded;
  });
  if (row === ROLLBACK) {
    await inTransaction((tx, after) => recordInTx(tx, after, tenantId, campaignId, instanceId, sends));
    return;
  }
  const after = new AfterCommit();
  publishRecorded(after, tenantId, campaignId, instanceId, row);
  after.publish('campaign:progress', toProgressEvent(row));
  await after.flush();
}

type ProgressRow = Parameters<typeof toProgressEvent>[0];

interface RecordedRow extends ProgressRow {
  log_ids: string[] | null;
  sent: Array<{ id: string; was: string; sent_at: string }> | null;
  parked: Array<{ key_id: string; status: string; received_at: string }> | null;
}

/** The key ids' advisory locks, in hash order (as the receipt batches take them). */
function lockKeysStatement(sends: readonly AcceptedSend[]): Prisma.Sql {
  return Prisma.sql`
    SELECT count(pg_advisory_xact_lock(h)) FROM (
      SELECT DISTINCT hashtextextended(k, 42) AS h FROM unnest(${sends.map((s) => s.outcome.keyId)}::text[]) AS k ORDER BY 1 OFFSET 0) s`;
}

/**
 * One statement that writes the recipients, their log entries, the instance and the campaign (in
 * that order: each step reads the one before, which fixes the lock order) and takes the parked
 * receipts. Run after lockKeysStatement, in the same transaction.
 */
function recordStatement(tenantId: string, campaignId: string, instanceId: string, sends: readonly AcceptedSend[]): Prisma.Sql {
  const logs = sends.map((s) =>
    JSON.stringify({
      contact_id: s.contactId,
      message: `message sent to ${s.phone}`,
      request: s.request,
      response: { keyId: s.outcome.keyId, status: s.outcome.response.status ?? null, messageType: s.outcome.response.messageType ?? null },
      http_status: s.outcome.httpStatus,
    }),
  );
  // A recipient that left SENDING meanwhile (a reaper or a re-run marked it UNKNOWN) is still SENT:
  // Evolution accepted it. One that is neither (deleted, or already settled) is left alone.
  return Prisma.sql`
    WITH v AS (
      SELECT * FROM unnest(${sends.map((s) => s.recipientId)}::uuid[], ${sends.map((s) => s.outcome.keyId)}::text[], ${sends.map((s) => s.outcome.durationMs)}::int[],
        ${sends.map((s) => s.text)}::text[], ${logs}::text[]) WITH ORDINALITY AS v(id, key_id, duration_ms, rendered_text, log, ord)
    ), old AS MATERIALIZED (
      SELECT r.id, r.status FROM recipient r
      WHERE r.id IN (SELECT id FROM v) AND r.status IN ('SENDING', 'UNKNOWN')
      ORDER BY r.id FOR UPDATE
    ), upd AS (
      UPDATE recipient r SET status = 'SENT', provider_message_id = v.key_id, sent_at = now(), send_duration_ms = v.duration_ms,
        rendered_text = v.rendered_text, claim_token = NULL, error = NULL, error_code = NULL, updated_at = now()
      FROM old, v WHERE r.id = old.id AND v.id = old.id
      RETURNING r.id, old.status AS was, r.sent_at
    ), logs AS (
      INSERT INTO campaign_log (tenant_id, campaign_id, type, severity, message, instance_id, contact_id, recipient_id, duration_ms,
        request, response, http_status, actor)
      SELECT ${tenantId}::uuid, ${campaignId}::uuid, 'MESSAGE_SENT', 'INFO', l.j->>'message', ${instanceId}::uuid, (l.j->>'contact_id')::uuid,
        v.id, v.duration_ms, l.j->'request', l.j->'response', (l.j->>'http_status')::int, 'worker'
      FROM upd JOIN v ON v.id = upd.id CROSS JOIN LATERAL (SELECT v.log::jsonb AS j) l
      ORDER BY v.ord
      RETURNING id
    ), inst AS (
      UPDATE whatsapp_instance SET consecutive_errors = 0, last_success_at = now(), sent_today = sent_today + (SELECT count(*) FROM upd),
        total_sent = total_sent + (SELECT count(*) FROM upd), updated_at = now()
      WHERE id = ${instanceId}::uuid AND (SELECT count(*) FROM logs) >= 0
      RETURNING id
    ), camp AS (
      UPDATE campaign SET sent_count = sent_count + (SELECT count(*) FROM upd),
        remaining_count = remaining_count - (SELECT count(*) FROM upd WHERE was = 'SENDING'),
        unknown_count = unknown_count - (SELECT count(*) FROM upd WHERE was = 'UNKNOWN'),
        consecutive_errors = 0, version = version + 1, updated_at = now()
      WHERE id = ${campaignId}::uuid AND (SELECT count(*) FROM inst) >= 0
      RETURNING ${PROGRESS_COLUMNS}
    ), parked AS (
      DELETE FROM pending_receipt p USING v WHERE p.instance_id = ${instanceId}::uuid AND p.key_id = v.key_id
      RETURNING p.key_id, p.status, p.received_at
    )
    SELECT camp.*,
      (SELECT json_agg(id::text) FROM logs) AS log_ids,
      (SELECT json_agg(json_build_object('id', id, 'was', was, 'sent_at', sent_at)) FROM upd) AS sent,
      (SELECT json_agg(parked) FROM parked) AS parked
    FROM camp`;
}

function publishRecorded(after: AfterCommit, tenantId: string, campaignId: string, instanceId: string, row: RecordedRow) {
  if (row.log_ids?.length) after.publish('campaign:log', { tenantId, campaignId, logIds: row.log_ids, severity: 'INFO', type: 'MESSAGE_SENT' });
  if ((row.sent?.length ?? 0) > 0) after.publish('instance:health', { tenantId, instanceId });
}

/**
 * The same statements through Prisma, then the parked receipts applied: lowest rank first, as if
 * each had come right after its send was recorded. The hot rows are held from the record statement
 * to the commit only.
 */
async function recordInTx(tx: Tx, after: AfterCommit, tenantId: string, campaignId: string, instanceId: string, sends: readonly AcceptedSend[]) {
  await tx.$queryRaw(lockKeysStatement(sends));
  const [row] = await tx.$queryRaw<RecordedRow[]>(recordStatement(tenantId, campaignId, instanceId, sends));
  if (!row) throw new Error(`campaign ${campaignId} vanished while recording its sends`);
  publishRecorded(after, tenantId, campaignId, instanceId, row);

  const parkedByKey = new Map<string, Array<{ status: ProviderStatus; at: Date }>>();
  for (const p of row.parked ?? []) {
    const status = parseProviderStatus(p.status);
    if (!status) continue;
    const list = parkedByKey.get(p.key_id) ?? [];
    list.push({ status, at: new Date(p.received_at) });
    parkedByKey.set(p.key_id, list);
  }
  if (parkedByKey.size === 0) {
    after.publish('campaign:progress', toProgressEvent(row));
    return;
  }

  // Receipts that arrived before their send's response: applied now, lowest rank first, as if each
  // had come right after its send was recorded.
  const sentAt = new Map((row.sent ?? []).map((r) => [r.id, new Date(r.sent_at)]));
  const deltas = emptyDeltas();
  const receiptLogs: LogEntry[] = [];
  for (const s of sends) {
    const parked = parkedByKey.get(s.outcome.keyId);
    const at = sentAt.get(s.recipientId);
    if (!parked || !at) continue;
    parked.sort((a, b) => PROVIDER_STATUSES.indexOf(a.status) - PROVIDER_STATUSES.indexOf(b.status));
    let state: ReceiptState = { status: 'SENT', sentAt: at, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
    const recipient = { id: s.recipientId, tenantId, campaignId, instanceId, contactId: s.contactId };
    let combined = null as ReceiptChange | null;
    for (const p of parked) {
      const change = applyReceipt(state, p.status, p.at);
      if (!change) continue;
      addChangeDeltas(deltas, change);
      receiptLogs.push(...changeLogs({ ...recipient, ...state }, change, p.status, s.outcome.keyId, 'webhook'));
      state = { ...state, ...change.set, status: change.status };
      combined = { status: change.status, set: { ...(combined?.set ?? {}), ...change.set }, events: [...(combined?.events ?? []), ...change.events] };
    }
    if (combined) await updateRecipientForChange(tx, s.recipientId, combined);
  }
  // The send succeeded: an ERROR receipt among these does not make it a consecutive error.
  await applyInstanceDeltas(tx, instanceId, { ...deltas.instance, succeeded: true });
  if (deltas.instance.health || deltas.instance.failed) after.publish('instance:health', { tenantId, instanceId });
  await appendLogs(tx, after, receiptLogs);
  // The second update's event carries both changes (the first one's is superseded).
  if ((await bumpCampaign(tx, after, campaignId, deltas.campaign)) === null) after.publish('campaign:progress', toProgressEvent(row));
}
