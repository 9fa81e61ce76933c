import type { LogEntry } from '../campaigns/logs.js';
import { sqlRows } from '../../infra/db/sql.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { Prisma } from '../../generated/prisma/client.js';
import { recordEffects } from './effects.js';
import { applyParkedReceipts, justSent, lockProviderMessage } from './receipts.js';

// The recipient side of reconciling unknown outcomes (the lookups and decisions: src/features/dispatch/reconcile.ts).

/** An unknown outcome due for a lookup, leased by one reconcile pass. */
export interface DueRow {
  id: string;
  tenant_id: string;
  campaign_id: string;
  contact_id: string;
  instance_id: string | null;
  phone: string;
  sending_at: Date | null;
  rendered_text: string | null;
  request_key_id: string | null;
  reconcile_attempts: number;
  evidence: Evidence | null;
  updated_at: Date;
}

/** What a recipient's unknown outcome was decided on (`recipient.evidence`). */
export interface Evidence {
  reason?: string;
  sendingAt?: string | null;
  /** When the call was given up (its timeout): Evolution may still handle it until the grace time after. */
  abandonedAt?: string | null;
  requestKeyId?: string | null;
  lookups?: Array<Record<string, unknown>>;
  decision?: string;
  [k: string]: unknown;
}

/** The OUTCOME_RECONCILED log entry of a decision, with the evidence it rests on. */
function reconciledLog(row: DueRow, instanceId: string | null, severity: 'WARNING' | 'ERROR', message: string, details: Record<string, unknown>): LogEntry {
  return {
    tenantId: row.tenant_id,
    campaignId: row.campaign_id,
    instanceId,
    contactId: row.contact_id,
    recipientId: row.id,
    type: 'OUTCOME_RECONCILED',
    severity,
    message,
    details: details as unknown as Prisma.InputJsonValue,
    actor: 'worker',
  };
}

/** Takes up to `limit` due unknown outcomes under a lease, so two passes (two workers) never look up the same rows at once. */
export async function takeDueUnknowns(limit: number, leaseMs: number): Promise<DueRow[]> {
  return sqlRows<DueRow>(Prisma.sql`
    UPDATE recipient r SET reconcile_at = now() + make_interval(secs => ${leaseMs / 1000})
    FROM (SELECT id FROM recipient WHERE reconcile_at <= now() AND status = 'UNKNOWN' ORDER BY reconcile_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) d
    WHERE r.id = d.id
    RETURNING r.id, r.tenant_id, r.campaign_id, r.contact_id, r.instance_id, r.phone, r.sending_at, r.rendered_text, r.request_key_id,
              r.reconcile_attempts, r.evidence, r.updated_at`);
}

/** A lookup that could not be made: tried again later. */
export async function postponeLookup(recipientId: string, delayMs: number): Promise<void> {
  await sqlRows(Prisma.sql`
    UPDATE recipient SET reconcile_at = now() + make_interval(secs => ${delayMs / 1000})
    WHERE id = ${recipientId}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`);
}

/** An inconclusive lookup: recorded in the evidence, and the next one scheduled. */
export async function awaitNextLookup(recipientId: string, attempts: number, evidence: Evidence, delayMs: number): Promise<void> {
  await sqlRows(Prisma.sql`
    UPDATE recipient SET reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb,
      reconcile_at = now() + make_interval(secs => ${delayMs / 1000})
    WHERE id = ${recipientId}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`);
}

/**
 * Found in Evolution's store under `keyId`: SENT, with the receipts parked for that key id. Resolves
 * with the instance it was sent from (null when unknown), or false when the recipient was settled
 * otherwise meanwhile, or another recipient already holds that key id.
 */
export async function settleFoundSend(row: DueRow, keyId: string, evidence: Evidence, attempts: number): Promise<string | null | false> {
  return inTransaction(async (tx, after) => {
    await lockProviderMessage(tx, keyId);
    const rows = await tx.$queryRaw<Array<{ sent_at: Date; instance_id: string | null }>>`
      UPDATE recipient r SET status = 'SENT', provider_message_id = ${keyId}, sent_at = COALESCE(r.sending_at, now()),
        reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb,
        error = NULL, error_code = NULL, claim_token = NULL, updated_at = now()
      WHERE r.id = ${row.id}::uuid AND r.status = 'UNKNOWN' AND r.reconcile_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM recipient o WHERE o.provider_message_id = ${keyId})
      RETURNING r.sent_at, r.instance_id`;
    const r = rows[0];
    if (!r) return false;
    await recordEffects(tx, after, {
      tenantId: row.tenant_id,
      instanceId: r.instance_id,
      instance: { sent: 1 },
      logs: [
        reconciledLog(row, r.instance_id, 'WARNING', `the send's outcome was unknown (${evidence.reason ?? 'answer lost'}); Evolution's message store shows it was sent`, { decision: 'SENT', keyId, evidence }),
      ],
      campaignId: row.campaign_id,
      counters: { unknown: -1, sent: 1 },
    });
    if (r.instance_id) {
      const recipient = justSent({ id: row.id, tenantId: row.tenant_id, campaignId: row.campaign_id, instanceId: r.instance_id, contactId: row.contact_id }, r.sent_at);
      await applyParkedReceipts(tx, after, recipient, r.instance_id, keyId);
    }
    return r.instance_id;
  });
}

/** Proven not sent: queued again (skipped when its campaign was cancelled meanwhile); a completed campaign runs again. */
export async function requeueNotSent(row: DueRow, evidence: Evidence, attempts: number): Promise<string> {
  const done = await inTransaction(async (tx, after) => {
    const [campaign] = await tx.$queryRaw<Array<{ status: string }>>`
      SELECT status::text FROM campaign WHERE id = ${row.campaign_id}::uuid FOR NO KEY UPDATE`;
    if (!campaign) return null;
    // A cancelled campaign sends nothing more: proven not sent, the recipient is skipped like the others.
    const cancelled = campaign.status === 'CANCELLED';
    const n = await tx.$executeRaw`
      UPDATE recipient SET status = ${cancelled ? 'SKIPPED' : 'QUEUED'}::"RecipientStatus",
        skipped_at = CASE WHEN ${cancelled} THEN now() ELSE skipped_at END,
        error = CASE WHEN ${cancelled} THEN 'campaign cancelled' ELSE NULL END, error_code = NULL,
        skip_reason = CASE WHEN ${cancelled} THEN 'CAMPAIGN_CANCELLED'::"SkipReason" END,
        reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb,
        sending_at = NULL, claim_token = NULL, instance_id = NULL, request_key_id = NULL, confirmed_key_id = NULL,
        not_before = NULL, queued_at = now(), updated_at = now()
      WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`;
    if (n === 0) return null;
    await recordEffects(tx, after, {
      tenantId: row.tenant_id,
      logs: [
        reconciledLog(row, row.instance_id, 'WARNING', cancelled
            ? "the send's outcome was unknown; Evolution's message store shows it was not sent (the campaign is cancelled: skipped)"
            : "the send's outcome was unknown; Evolution's message store shows it was not sent: queued again", { decision: 'NOT_SENT', evidence }),
      ],
      campaignId: row.campaign_id,
      counters: cancelled ? { unknown: -1, skipped: 1 } : { unknown: -1, remaining: 1 },
      campaignSets: campaign.status === 'COMPLETED' ? [Prisma.sql`status = 'RUNNING'`, Prisma.sql`completed_at = NULL`] : [],
    });
    return campaign.status;
  });
  return done === null ? 'GONE' : 'NOT_SENT';
}

/** Still undecided at the deadline: stays UNKNOWN with its evidence, for `resendUnknown`. */
export async function markUndecidable(row: DueRow, evidence: Evidence, attempts: number, why: (e: Evidence) => string): Promise<string> {
  const changed = await inTransaction(async (tx, after) => {
    const n = await tx.$executeRaw`
      UPDATE recipient SET reconcile_at = NULL, reconcile_attempts = ${attempts}, evidence = ${JSON.stringify(evidence)}::jsonb, updated_at = now()
      WHERE id = ${row.id}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL`;
    if (n === 0) return false;
    // Nothing counted changes, but the campaign may now be complete.
    await recordEffects(tx, after, {
      tenantId: row.tenant_id,
      logs: [
        reconciledLog(row, row.instance_id, 'ERROR', `the send's outcome stays unknown: Evolution could not show whether it was sent (${why(evidence)}); resendUnknown sends it again knowingly`, { decision: 'UNDECIDABLE', evidence }),
      ],
      campaignId: row.campaign_id,
      touchCampaign: true,
    });
    return true;
  });
  return changed ? 'UNDECIDABLE' : 'GONE';
}
