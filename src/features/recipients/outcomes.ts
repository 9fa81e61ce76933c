import type { LogEntry } from '../campaigns/logs.js';
import type { Tx } from '../../infra/db/client.js';
import { sqlRows } from '../../infra/db/sql.js';
import { type AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import { FAILED_SEND_HEALTH, type SendDecision } from '../../domain/send-outcome.js';
import { Prisma } from '../../generated/prisma/client.js';
import { recordEffects } from './effects.js';
import { applyParkedReceipts, justSent, lockProviderMessage } from './receipts.js';

// The outcomes of a send that Evolution did not simply accept (those: src/features/recipients/record-sent.ts),
// each recorded in one transaction with its effects (src/features/recipients/effects.ts).

/** What every log entry of one send shares. */
export interface SendLogBase {
  tenantId: string;
  campaignId: string;
  instanceId: string | null;
  contactId: string;
  recipientId: string;
  actor: string;
  durationMs?: number;
  request?: Prisma.InputJsonValue;
  httpStatus?: number | null;
}

type LogOf = Omit<LogEntry, keyof SendLogBase | 'campaignId' | 'instanceId' | 'contactId' | 'recipientId'>;

function logEntry(base: SendLogBase, entry: LogOf): LogEntry {
  return { ...base, ...entry };
}

/** Consecutive-error bump of the campaign (its error threshold pauses it). */
const CAMPAIGN_ERROR = Prisma.sql`consecutive_errors = consecutive_errors + 1`;

/**
 * A send that certainly did not leave and is not tried again by itself: FAILED, the contact flagged
 * when WhatsApp does not know the number, the instance blamed when the fault was its own. False when
 * the recipient had already left SENDING.
 */
export async function failSend(base: SendLogBase, text: string, d: Extract<SendDecision, { kind: 'fail' }>): Promise<boolean> {
  return inTransaction(async (tx, after) => {
    const n = await tx.$executeRaw`
      UPDATE recipient SET status = 'FAILED', error_code = ${d.code}, error = ${d.message},
        rendered_text = COALESCE(${text}, rendered_text), failed_at = now(), claim_token = NULL, updated_at = now()
      WHERE id = ${base.recipientId}::uuid AND status = 'SENDING'`;
    if (!n) return false;
    if (d.suppressContact) await tx.$executeRaw`UPDATE contact SET not_on_whatsapp = true, updated_at = now() WHERE id = ${base.contactId}::uuid`;
    await recordEffects(tx, after, {
      tenantId: base.tenantId,
      instanceId: base.instanceId,
      instance: d.instanceError ? { failed: 1, errors: true, health: FAILED_SEND_HEALTH } : undefined,
      healthChanged: d.instanceError,
      logs: [logEntry(base, { type: 'MESSAGE_FAILED', severity: d.instanceError ? 'ERROR' : 'WARNING', message: d.logMessage, response: { message: d.response } })],
      campaignId: base.campaignId,
      counters: { failed: 1, remaining: -1 },
      campaignSets: d.instanceError ? [CAMPAIGN_ERROR] : [],
    });
    return true;
  });
}

/** A send Evolution could not take (certainly not sent): queued again after its backoff, using an attempt. */
export async function requeueForRetry(base: SendLogBase, d: Extract<SendDecision, { kind: 'retry' }>, maxAttempts: number): Promise<boolean> {
  const at = new Date(d.atMs);
  return inTransaction(async (tx, after) => {
    const n = await tx.$executeRaw`
      UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, not_before = ${at},
        error_code = ${d.code}, error = ${d.message}, updated_at = now()
      WHERE id = ${base.recipientId}::uuid AND status = 'SENDING'`;
    if (!n) return false;
    await recordEffects(tx, after, {
      tenantId: base.tenantId,
      instanceId: base.instanceId,
      instance: { errors: true },
      logs: [
        logEntry(base, {
          type: 'ERROR',
          severity: 'WARNING',
          message: `send not delivered to Evolution (${d.message}); attempt ${d.attempt} of ${maxAttempts}, retrying at ${at.toISOString()}`,
          response: { message: d.message },
          details: { retryAt: at.toISOString(), attempt: d.attempt },
        }),
      ],
      campaignId: base.campaignId,
      campaignSets: [CAMPAIGN_ERROR],
    });
    return true;
  });
}

/**
 * A send that may have left (timeout, broken connection): SENT when a `send.message` already proved
 * it, else UNKNOWN, to be resolved against Evolution's message store. An outage's unknown outcomes
 * (no answer at all) are not the instance's or the campaign's errors: the error threshold is for sends
 * WhatsApp or Evolution refused, not for a server that went away.
 */
export async function recordUnknownSend(base: SendLogBase, text: string, d: Extract<SendDecision, { kind: 'unknown' }>): Promise<void> {
  await inTransaction(async (tx, after) => {
    if ((await settleUnknownOutcome(tx, after, base, d.reason, text)) !== 'unknown') return;
    await recordEffects(tx, after, {
      tenantId: base.tenantId,
      instanceId: base.instanceId,
      instance: { errors: !d.transport },
      logs: [
        logEntry(base, {
          type: 'OUTCOME_UNKNOWN',
          severity: 'ERROR',
          message: `the send may or may not have reached WhatsApp (${d.reason}); it is not sent again, but checked against Evolution's message store`,
          response: { message: d.reason },
        }),
      ],
      campaignId: base.campaignId,
      counters: { unknown: 1, remaining: -1 },
      campaignSets: d.transport ? [] : [CAMPAIGN_ERROR],
    });
  });
}

/** The first look in Evolution's message store, a few seconds after a send's outcome was lost. */
const FIRST_LOOKUP_MS = 5000;

/**
 * A send whose outcome is unknown (timeout, broken connection, crash). If a `send.message` webhook
 * already proved it left, it is SENT (settleConfirmedSend). Otherwise it becomes UNKNOWN and is resolved
 * against Evolution's message store (src/features/dispatch/reconcile.ts): never sent again blindly.
 *
 * The UNKNOWN update applies only while no proof is on the row: a `send.message` handler that writes
 * one (under the row lock) while this waits for that lock makes it match nothing, and the loop then
 * settles the proof. (Reading the proof first and writing UNKNOWN after, without that condition, left a
 * delivered message UNKNOWN with its receipts parked.) A proof naming a key id another recipient holds
 * proves nothing and does not stop it.
 */
async function settleUnknownOutcome(
  tx: Tx,
  after: AfterCommit,
  base: SendLogBase,
  reason: string,
  text: string | null,
): Promise<'sent' | 'unknown' | 'gone'> {
  for (let round = 0; round < 3; round++) {
    if (await settleConfirmedSend(tx, after, base, reason, text)) return 'sent';
    const n = await tx.$executeRaw`
      UPDATE recipient r SET status = 'UNKNOWN', error_code = 'OUTCOME_UNKNOWN', error = ${reason},
        rendered_text = COALESCE(${text}, r.rendered_text), claim_token = NULL, updated_at = now(),
        reconcile_at = now() + make_interval(secs => ${FIRST_LOOKUP_MS / 1000}), reconcile_attempts = 0,
        evidence = jsonb_build_object('reason', ${reason}::text, 'sendingAt', r.sending_at, 'abandonedAt', now(), 'requestKeyId', r.request_key_id,
          'lookups', '[]'::jsonb)
      WHERE r.id = ${base.recipientId}::uuid AND r.status = 'SENDING'
        AND (r.confirmed_key_id IS NULL OR EXISTS (SELECT 1 FROM recipient o WHERE o.provider_message_id = r.confirmed_key_id))`;
    if (n > 0) return 'unknown';
    const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text FROM recipient WHERE id = ${base.recipientId}::uuid`;
    if (row?.status !== 'SENDING') return 'gone';
  }
  return 'gone';
}


/**
 * A send whose own outcome was lost (timeout, crash) but whose `send.message` webhook already proved
 * it left (the proof is kept on the recipient while it is SENDING): it is SENT, not UNKNOWN, and any
 * receipt that arrived meanwhile is applied. The key's advisory lock is taken before the row's, as on
 * the webhook path. Returns false when there is no such proof.
 */
async function settleConfirmedSend(
  tx: Tx,
  after: AfterCommit,
  base: SendLogBase,
  reason: string,
  text: string | null,
): Promise<boolean> {
  // The proof: a send.message for it, or, for a send made under a key id we chose (Evolution 2.4.0+),
  // any receipt that names that key id (parked, since no recipient held it yet).
  const [proof] = await tx.$queryRaw<Array<{ key: string | null; by: string }>>`
    SELECT COALESCE(r.confirmed_key_id, p.key_id) AS key, CASE WHEN r.confirmed_key_id IS NOT NULL THEN 'send.message' ELSE 'a delivery receipt' END AS by
    FROM recipient r
    LEFT JOIN LATERAL (
      SELECT key_id FROM pending_receipt WHERE r.request_key_id IS NOT NULL AND key_id = r.request_key_id AND instance_id = r.instance_id LIMIT 1
    ) p ON true
    WHERE r.id = ${base.recipientId}::uuid AND r.status = 'SENDING'`;
  if (!proof?.key) return false;
  await lockProviderMessage(tx, proof.key);
  const rows = await tx.$queryRaw<Array<{ sent_at: Date; instance_id: string | null }>>`
    UPDATE recipient SET status = 'SENT', provider_message_id = ${proof.key}, sent_at = COALESCE(sending_at, now()),
      rendered_text = COALESCE(${text}, rendered_text), claim_token = NULL, error = NULL, error_code = NULL, updated_at = now()
    WHERE id = ${base.recipientId}::uuid AND status = 'SENDING' AND (confirmed_key_id = ${proof.key} OR request_key_id = ${proof.key})
      -- A proof naming a key id another message already holds proves nothing about this one.
      AND NOT EXISTS (SELECT 1 FROM recipient o WHERE o.provider_message_id = ${proof.key})
    RETURNING sent_at, instance_id`;
  const row = rows[0];
  if (!row) return false;
  const instanceId = row.instance_id ?? base.instanceId;
  await recordEffects(tx, after, {
    tenantId: base.tenantId,
    instanceId,
    instance: { sent: 1 },
    logs: [
      logEntry(
        { ...base, instanceId },
        {
          type: 'MESSAGE_SENT',
          severity: 'WARNING',
          message: `the send's own answer was lost (${reason}), but Evolution confirmed it left (${proof.by})`,
          details: { keyId: proof.key, confirmedBy: proof.by },
        },
      ),
    ],
    campaignId: base.campaignId,
    counters: { sent: 1, remaining: -1 },
  });
  if (instanceId) {
    const recipient = justSent({ id: base.recipientId, tenantId: base.tenantId, campaignId: base.campaignId, instanceId, contactId: base.contactId }, row.sent_at);
    await applyParkedReceipts(tx, after, recipient, instanceId, proof.key);
  }
  return true;
}

/** Recipients claimed by a job run that died: their send may have happened, so they become UNKNOWN. */
export async function markCrashedClaims(token: string): Promise<number> {
  const rows = await sqlRows<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>(Prisma.sql`
    SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient WHERE claim_token = ${token} AND status = 'SENDING'`);
  await markAllUnknown(rows, 'the worker sending this message stopped mid-send');
  return rows.length;
}

/**
 * `markUnknown` for each row; a row that fails does not stop the others (a sweep that always failed
 * on its first row would never reach the rest). Throws the first error once all were tried.
 */
export async function markAllUnknown(
  rows: ReadonlyArray<Parameters<typeof markUnknown>[0]>,
  reason: string,
): Promise<void> {
  let first: unknown = null;
  for (const r of rows) {
    try {
      await markUnknown(r, reason);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

export async function markUnknown(
  r: { id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string },
  reason: string,
) {
  await inTransaction(async (tx, after) => {
    const base = { tenantId: r.tenant_id, campaignId: r.campaign_id, instanceId: r.instance_id, contactId: r.contact_id, recipientId: r.id, actor: 'worker' };
    if ((await settleUnknownOutcome(tx, after, base, reason, null)) !== 'unknown') return;
    await recordEffects(tx, after, {
      tenantId: r.tenant_id,
      logs: [logEntry(base, { type: 'OUTCOME_UNKNOWN', severity: 'ERROR', message: `${reason}; outcome unknown: not sent again, but checked against Evolution's message store` })],
      campaignId: r.campaign_id,
      counters: { unknown: 1, remaining: -1 },
    });
  });
}

/**
 * A `send.message` webhook for a message of ours that no recipient holds yet (the caller holds the
 * key's advisory lock). Usually the send's HTTP response is still on its way: the proof is kept on the
 * recipient, so that if that send then ends unknown (timeout, crash) it is known to have left. When
 * the send already ended UNKNOWN, it is SENT now (matched by instance and phone, the only link left)
 * and receipts parked for its key id meanwhile are applied.
 */
export async function confirmSentByWebhook(
  tx: Tx,
  after: AfterCommit,
  m: { tenantId: string; instanceId: string; keyId: string; phones: string[] },
): Promise<string> {
  const inFlight = await tx.$executeRaw`
    UPDATE recipient SET confirmed_key_id = ${m.keyId}
    WHERE id = (
      SELECT id FROM recipient
      WHERE instance_id = ${m.instanceId}::uuid AND phone = ANY(${m.phones}::text[]) AND tenant_id = ${m.tenantId}::uuid
        AND status = 'SENDING' AND provider_message_id IS NULL
        -- a send made under a key id we chose is proven by that key id only
        AND (request_key_id IS NULL OR request_key_id = ${m.keyId})
      ORDER BY sending_at DESC LIMIT 1 FOR UPDATE)`;
  if (inFlight > 0) return 'proof kept for a send in flight';
  const rows = await tx.$queryRaw<Array<{ id: string; campaign_id: string; contact_id: string; sent_at: Date }>>`
    WITH found AS (
      SELECT id FROM recipient
      WHERE instance_id = ${m.instanceId}::uuid AND phone = ANY(${m.phones}::text[]) AND tenant_id = ${m.tenantId}::uuid
        AND status = 'UNKNOWN' AND provider_message_id IS NULL AND (request_key_id IS NULL OR request_key_id = ${m.keyId})
      ORDER BY sending_at DESC LIMIT 1 FOR UPDATE)
    UPDATE recipient r SET status = 'SENT', provider_message_id = ${m.keyId}, sent_at = COALESCE(r.sending_at, now()),
      error = NULL, error_code = NULL, updated_at = now(), reconcile_at = NULL,
      evidence = COALESCE(r.evidence, '{}'::jsonb) || jsonb_build_object('decision', 'SENT', 'confirmedBy', 'send.message', 'keyId', ${m.keyId}::text)
    FROM found WHERE r.id = found.id
    RETURNING r.id, r.campaign_id, r.contact_id, r.sent_at`;
  const r = rows[0];
  if (!r) return 'not matched';
  await recordEffects(tx, after, {
    tenantId: m.tenantId,
    instanceId: m.instanceId,
    instance: { sent: 1 },
    logs: [
      {
        tenantId: m.tenantId,
        campaignId: r.campaign_id,
        instanceId: m.instanceId,
        contactId: r.contact_id,
        recipientId: r.id,
        type: 'MESSAGE_SENT',
        severity: 'WARNING',
        message: 'outcome was unknown; Evolution confirmed the send (send.message)',
        details: { keyId: m.keyId },
        actor: 'webhook',
      },
    ],
    campaignId: r.campaign_id,
    counters: { unknown: -1, sent: 1 },
  });
  const recipient = justSent({ id: r.id, tenantId: m.tenantId, campaignId: r.campaign_id, instanceId: m.instanceId, contactId: r.contact_id }, r.sent_at);
  const applied = await applyParkedReceipts(tx, after, recipient, m.instanceId, m.keyId);
  return applied ? `reconciled unknown send, ${applied} parked receipt(s) applied` : 'reconciled unknown send';
}
