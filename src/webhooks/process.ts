import type { z } from 'zod';
import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma } from '../db/client.js';
import { inTransaction } from '../db/transaction.js';
import { parseProviderStatus } from '../domain/receipts.js';
import { jidUser } from '../evolution/wire.js';
import type { ConnectionState } from '../generated/prisma/client.js';
import type { Logger } from '../lib/logger.js';
import { applyReceiptToRecipient, findRecipientByKey, lockProviderMessage } from '../receipts/apply.js';
import type { connectionUpdateSchema, messageRawSchema, messagesUpdateSchema, qrcodeUpdatedSchema } from './schemas.js';

export interface WebhookJob {
  tenantId: string;
  instanceId: string;
  receivedAt: string;
  event: string;
  data: unknown;
}

export interface WebhookEffects {
  /** Campaigns to pump again (an instance came back). */
  pump(tenantId: string, campaignId: string): Promise<void>;
  log: Logger;
}

/** Applies one Evolution event. Idempotent: replaying a job changes nothing the first run did not. */
export async function processWebhook(job: WebhookJob, fx: WebhookEffects): Promise<string> {
  switch (job.event) {
    case 'messages.update':
      return messagesUpdate(job, job.data as z.infer<typeof messagesUpdateSchema>);
    case 'send.message':
      return sendMessage(job, job.data as z.infer<typeof messageRawSchema>);
    case 'connection.update':
      return connectionUpdate(job, job.data as z.infer<typeof connectionUpdateSchema>, fx);
    case 'qrcode.updated':
      return qrcodeUpdated(job, job.data as z.infer<typeof qrcodeUpdatedSchema>);
    case 'messages.upsert':
      return 'ignored: incoming messages are handled by the replies pipeline';
    default:
      throw new Error(`unexpected webhook event ${job.event}`);
  }
}

/**
 * A delivery receipt. Matched on the key id only (receipts may carry a @lid instead of the phone).
 * If no recipient holds that key id yet, the send's HTTP response has not been stored: the receipt
 * is parked and applied when it is (see recordSent), under the same advisory lock.
 */
async function messagesUpdate(job: WebhookJob, d: z.infer<typeof messagesUpdateSchema>): Promise<string> {
  const keyId = (d.keyId ?? d.id) as string;
  const status = parseProviderStatus(d.status);
  if (!status || status === 'PENDING') return `ignored status ${String(d.status)}`;
  const at = new Date(job.receivedAt);
  return inTransaction(async (tx, after) => {
    await lockProviderMessage(tx, keyId);
    const recipient = await findRecipientByKey(tx, job.tenantId, keyId);
    if (!recipient) {
      await tx.$executeRaw`
        INSERT INTO pending_receipt (tenant_id, instance_id, key_id, status, received_at)
        VALUES (${job.tenantId}::uuid, ${job.instanceId}::uuid, ${keyId}, ${status}, ${at})
        ON CONFLICT (instance_id, key_id, status) DO NOTHING`;
      return 'parked';
    }
    const applied = await applyReceiptToRecipient(tx, after, recipient, status, keyId, at, 'webhook');
    return applied ? `applied ${status}` : `unchanged by ${status}`;
  });
}

/**
 * `send.message` repeats the send response. Usually the recipient already holds its key id. When a
 * send timed out or its worker died, the recipient is UNKNOWN: this event proves the message left,
 * so it is reconciled to SENT (matched by instance and phone, the only link left).
 */
async function sendMessage(job: WebhookJob, d: z.infer<typeof messageRawSchema>): Promise<string> {
  if (!d.key.fromMe) return 'ignored: not our message';
  const keyId = d.key.id;
  const phone = jidUser(d.key.remoteJid);
  return inTransaction(async (tx, after) => {
    await lockProviderMessage(tx, keyId);
    if (await findRecipientByKey(tx, job.tenantId, keyId)) return 'confirmed';
    if (!d.key.remoteJid.endsWith('@s.whatsapp.net')) return 'not matched';
    const rows = await tx.$queryRaw<Array<{ id: string; campaign_id: string; contact_id: string }>>`
      SELECT id, campaign_id, contact_id FROM recipient
      WHERE tenant_id = ${job.tenantId}::uuid AND instance_id = ${job.instanceId}::uuid AND status = 'UNKNOWN'
        AND provider_message_id IS NULL AND regexp_replace(phone, '\\D', '', 'g') = ${phone}
      ORDER BY sending_at DESC LIMIT 1 FOR UPDATE`;
    const r = rows[0];
    if (!r) return 'not matched';
    await tx.$executeRaw`
      UPDATE recipient SET status = 'SENT', provider_message_id = ${keyId}, sent_at = COALESCE(sending_at, now()),
        error = NULL, error_code = NULL, updated_at = now()
      WHERE id = ${r.id}::uuid`;
    await appendLog(tx, after, {
      tenantId: job.tenantId,
      campaignId: r.campaign_id,
      instanceId: job.instanceId,
      contactId: r.contact_id,
      recipientId: r.id,
      type: 'MESSAGE_SENT',
      severity: 'WARNING',
      message: 'outcome was unknown; Evolution confirmed the send (send.message)',
      details: { keyId },
      actor: 'webhook',
    });
    await tx.$executeRaw`
      UPDATE whatsapp_instance SET sent_today = sent_today + 1, total_sent = total_sent + 1, updated_at = now()
      WHERE id = ${job.instanceId}::uuid`;
    await bumpCampaign(tx, after, r.campaign_id, { unknown: -1, sent: 1 });
    return 'reconciled unknown send';
  });
}

const STATE: Record<string, ConnectionState> = { open: 'OPEN', connecting: 'CONNECTING', close: 'CLOSE', refused: 'REFUSED' };

/**
 * The instance's connection. `close` (Evolution will not reconnect) stops its sends: the claim
 * refuses disconnected instances, and each running campaign that uses it gets a log entry. `open`
 * re-admits it and wakes those campaigns.
 */
async function connectionUpdate(job: WebhookJob, d: z.infer<typeof connectionUpdateSchema>, fx: WebhookEffects): Promise<string> {
  const state = STATE[d.state] as ConnectionState;
  const campaigns = await inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ previous: ConnectionState; name: string }>>`
      WITH old AS (SELECT id, connection_state FROM whatsapp_instance WHERE id = ${job.instanceId}::uuid FOR UPDATE)
      UPDATE whatsapp_instance i SET connection_state = ${state}::"ConnectionState", connection_state_at = ${new Date(job.receivedAt)},
        phone = COALESCE(${d.wuid ? `+${jidUser(d.wuid)}` : null}, i.phone),
        profile_name = COALESCE(${d.profileName ?? null}, i.profile_name), updated_at = now()
      FROM old WHERE i.id = old.id
      RETURNING old.connection_state AS previous, i.name`;
    const row = rows[0];
    if (!row || row.previous === state) return [];
    after.publish('instance:health', { tenantId: job.tenantId, instanceId: job.instanceId });
    const running = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT c.id FROM campaign c JOIN campaign_instance ci ON ci.campaign_id = c.id
      WHERE ci.instance_id = ${job.instanceId}::uuid AND c.status = 'RUNNING'`;
    const closed = state === 'CLOSE' || state === 'REFUSED';
    const reopened = state === 'OPEN' && (row.previous === 'CLOSE' || row.previous === 'REFUSED');
    if (closed || reopened) {
      for (const c of running) {
        await appendLog(tx, after, {
          tenantId: job.tenantId,
          campaignId: c.id,
          instanceId: job.instanceId,
          type: closed ? 'INSTANCE_PAUSED' : 'INSTANCE_RESUMED',
          severity: closed ? 'WARNING' : 'INFO',
          message: closed
            ? `instance ${row.name} disconnected (${d.state}, reason ${d.statusReason ?? 'unknown'}): its share moves to the other instances`
            : `instance ${row.name} connected again: it sends again`,
          details: { state: d.state, statusReason: d.statusReason ?? null },
          actor: 'webhook',
        });
      }
    }
    return reopened ? running : [];
  });
  for (const c of campaigns) await fx.pump(job.tenantId, c.id);
  return `state ${state}`;
}

async function qrcodeUpdated(job: WebhookJob, d: z.infer<typeof qrcodeUpdatedSchema>): Promise<string> {
  const qr = d.qrcode.base64 ?? d.qrcode.code ?? null;
  await prisma.whatsAppInstance.updateMany({
    where: { id: job.instanceId, tenantId: job.tenantId },
    data: { qrCode: qr, qrCodeAt: new Date(job.receivedAt), connectionState: 'CONNECTING' },
  });
  return 'qr stored';
}
