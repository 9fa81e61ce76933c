import type { LogEntry } from '../campaigns/logs.js';
import type { CounterDeltas } from '../campaigns/progress.js';
import type { Tx } from '../../infra/db/client.js';
import type { AfterCommit } from '../../infra/db/transaction.js';
import { healthDelta } from '../../domain/health.js';
import {
  applyReceipt,
  PROVIDER_STATUSES,
  parseProviderStatus,
  type ProviderStatus,
  type ReceiptChange,
  type ReceiptState,
} from '../../domain/receipts.js';
import { Prisma } from '../../generated/prisma/client.js';
import { type Deltas, emptyDeltas, recordEffects } from './effects.js';

export interface ReceiptRecipient extends ReceiptState {
  id: string;
  tenantId: string;
  campaignId: string;
  instanceId: string | null;
  contactId: string;
}

interface RecipientRow {
  id: string;
  tenant_id: string;
  campaign_id: string;
  instance_id: string | null;
  contact_id: string;
  status: string;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  played_at: Date | null;
  failed_at: Date | null;
}

export const RECEIPT_COLUMNS = Prisma.raw(
  'id, tenant_id, campaign_id, instance_id, contact_id, status, sent_at, delivered_at, read_at, played_at, failed_at',
);

export function toReceiptRecipient(r: RecipientRow): ReceiptRecipient {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    campaignId: r.campaign_id,
    instanceId: r.instance_id,
    contactId: r.contact_id,
    status: r.status,
    sentAt: r.sent_at,
    deliveredAt: r.delivered_at,
    readAt: r.read_at,
    playedAt: r.played_at,
    failedAt: r.failed_at,
  };
}

/** The receipt state of a recipient that was just recorded SENT at `sentAt`. */
export function justSent(r: Omit<ReceiptRecipient, keyof ReceiptState>, sentAt: Date): ReceiptRecipient {
  return { ...r, status: 'SENT', sentAt, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
}

/** Serialises everything that touches one provider message id (its send result and its receipts). */
export async function lockProviderMessage(tx: Tx, keyId: string) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${keyId}, 42))`;
}

export async function findRecipientByKey(tx: Tx, tenantId: string, keyId: string): Promise<ReceiptRecipient | null> {
  const rows = await tx.$queryRaw<RecipientRow[]>`
    SELECT ${RECEIPT_COLUMNS} FROM recipient
    WHERE provider_message_id = ${keyId} AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
  return rows[0] ? toReceiptRecipient(rows[0]) : null;
}

function add(d: CounterDeltas, key: keyof CounterDeltas, n: number) {
  d[key] = (d[key] ?? 0) + n;
}

/** Folds the events of one change into campaign and instance deltas. */
export function addChangeDeltas(deltas: Deltas, change: ReceiptChange) {
  for (const e of change.events) {
    if (e === 'sent') add(deltas.campaign, 'sent', 1);
    if (e === 'delivered') {
      add(deltas.campaign, 'delivered', 1);
      deltas.instance.delivered++;
    }
    if (e === 'read') {
      add(deltas.campaign, 'read', 1);
      deltas.instance.read++;
    }
    if (e === 'failed') {
      add(deltas.campaign, 'failed', 1);
      deltas.instance.failed++;
      deltas.instance.errors = true;
    }
    if (e === 'unfailed') {
      add(deltas.campaign, 'failed', -1);
      deltas.instance.failed--;
    }
  }
  deltas.instance.health += healthDelta(change.events);
}

const LOG_FOR: Record<string, { type: LogEntry['type']; severity: LogEntry['severity']; message: string }> = {
  delivered: { type: 'MESSAGE_DELIVERED', severity: 'INFO', message: 'message delivered' },
  read: { type: 'MESSAGE_READ', severity: 'INFO', message: 'message read' },
  failed: { type: 'MESSAGE_FAILED', severity: 'ERROR', message: 'WhatsApp reported the message as failed (ERROR receipt)' },
};

/** Log entries for a change: one per delivery event it caused. */
export function changeLogs(
  r: ReceiptRecipient,
  change: ReceiptChange,
  status: ProviderStatus,
  keyId: string,
  actor: string,
  /** The status word the webhook carried, when it differs from ours (Meta's DELIVERED, FAILED). */
  word?: string,
  detail?: string | null,
): LogEntry[] {
  return change.events
    .filter((e) => e in LOG_FOR)
    .map((e) => {
      const l = LOG_FOR[e] as (typeof LOG_FOR)[string];
      return {
        tenantId: r.tenantId,
        campaignId: r.campaignId,
        type: l.type,
        severity: l.severity,
        message: e === 'failed' && (word || detail) ? `WhatsApp reported the message as failed (${word ?? status} receipt${detail ? `: ${detail}` : ''})` : l.message,
        details: { receipt: status, ...(word && word !== status ? { status: word } : {}), ...(detail ? { error: detail } : {}), keyId },
        instanceId: r.instanceId,
        contactId: r.contactId,
        recipientId: r.id,
        actor,
      };
    });
}

export async function updateRecipientForChange(tx: Tx, recipientId: string, change: ReceiptChange) {
  const sets: Prisma.Sql[] = [Prisma.sql`status = ${change.status}::"RecipientStatus"`, Prisma.sql`updated_at = now()`];
  if (change.set.sentAt) sets.push(Prisma.sql`sent_at = COALESCE(sent_at, ${change.set.sentAt})`);
  if (change.set.deliveredAt) sets.push(Prisma.sql`delivered_at = COALESCE(delivered_at, ${change.set.deliveredAt})`);
  if (change.set.readAt) sets.push(Prisma.sql`read_at = COALESCE(read_at, ${change.set.readAt})`);
  if (change.set.playedAt) sets.push(Prisma.sql`played_at = COALESCE(played_at, ${change.set.playedAt})`);
  if (change.set.failedAt) sets.push(Prisma.sql`failed_at = ${change.set.failedAt}`, Prisma.sql`error_code = 'PROVIDER_ERROR'`, Prisma.sql`error = 'WhatsApp reported ERROR'`);
  if (change.status !== 'FAILED') sets.push(Prisma.sql`failed_at = NULL`);
  await tx.$executeRaw`UPDATE recipient SET ${Prisma.join(sets, ', ')} WHERE id = ${recipientId}::uuid`;
}

/**
 * Applies one receipt to a locked recipient: recipient, instance health, log and campaign counters
 * change together, in the caller's transaction. Returns the change, or null when the receipt changes
 * nothing. The log is written after the instance row is updated (and so locked): the log's order for
 * an instance is then the order in which its health score moved.
 */
export async function applyReceiptToRecipient(
  tx: Tx,
  after: AfterCommit,
  r: ReceiptRecipient,
  status: ProviderStatus,
  keyId: string,
  at: Date,
  actor: string,
): Promise<ReceiptChange | null> {
  const change = applyReceipt(r, status, at);
  if (!change) return null;
  await updateRecipientForChange(tx, r.id, change);
  const deltas = emptyDeltas();
  addChangeDeltas(deltas, change);
  await recordEffects(tx, after, {
    tenantId: r.tenantId,
    instanceId: r.instanceId,
    instance: deltas.instance,
    logs: changeLogs(r, change, status, keyId, actor),
    campaignId: r.campaignId,
    counters: deltas.campaign,
  });
  return change;
}

/** The recipient's receipt state after `change`. */
export function afterChange<R extends ReceiptState>(r: R, change: ReceiptChange): R {
  return { ...r, ...change.set, status: change.status, failedAt: change.status === 'FAILED' ? (change.set.failedAt ?? r.failedAt) : null };
}

/**
 * Receipts parked for `keyId` because they overtook the send's result, applied (lowest rank first) to
 * the recipient that now holds that key id. The caller holds the key's advisory lock and the recipient's
 * row lock. Returns how many changed something.
 */
export async function applyParkedReceipts(tx: Tx, after: AfterCommit, r: ReceiptRecipient, instanceId: string, keyId: string): Promise<number> {
  const parked = await tx.$queryRaw<Array<{ status: string; received_at: Date }>>`
    DELETE FROM pending_receipt WHERE instance_id = ${instanceId}::uuid AND key_id = ${keyId}
    RETURNING status, received_at`;
  const receipts = parked
    .map((p) => ({ status: parseProviderStatus(p.status), at: p.received_at }))
    .filter((p): p is { status: ProviderStatus; at: Date } => p.status !== null)
    .sort((a, b) => PROVIDER_STATUSES.indexOf(a.status) - PROVIDER_STATUSES.indexOf(b.status));
  let state = r;
  let applied = 0;
  for (const p of receipts) {
    const change = await applyReceiptToRecipient(tx, after, state, p.status, keyId, p.at, 'webhook');
    if (!change) continue;
    state = afterChange(state, change);
    applied++;
  }
  return applied;
}
