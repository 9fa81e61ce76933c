import type { z } from 'zod';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { parseProviderStatus, receiptErrorDetail } from '../../domain/receipts.js';
import { integrationOf } from '../senders/integration.js';
import { phoneCandidates } from '../../domain/replies.js';
import { jidUser } from '../../infra/evolution/wire.js';
import type { ConnectionState } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/lib/logger.js';
import { publish } from '../../infra/realtime/pubsub.js';
import { confirmSentByWebhook } from '../recipients/outcomes.js';
import { applyDeliveryReceipt } from '../recipients/receipt-batch.js';
import { findRecipientByKey, lockProviderMessage } from '../recipients/receipts.js';
import { processIncomingMessage } from '../replies/process.js';
import { CONNECTION_STATE, markConnected, markDisconnected, recordConnectionState } from '../senders/connection.js';
import type { connectionUpdateSchema, HandledEventData, messageRawSchema, messagesUpdateSchema, qrcodeUpdatedSchema } from './schemas.js';

/** One event to apply, its data parsed by its event's schema (see parseEventData). */
export type WebhookJob = {
  tenantId: string;
  instanceId: string;
  receivedAt: string;
} & HandledEventData;

export interface WebhookEffects {
  /** Campaigns to pump again (an instance came back). */
  pump(tenantId: string, campaignId: string): Promise<void>;
  log: Logger;
}

/** Applies one Evolution event. Idempotent: replaying a job changes nothing the first run did not. */
export async function processWebhook(job: WebhookJob, fx: WebhookEffects): Promise<string> {
  switch (job.event) {
    case 'messages.update':
      return messagesUpdate(job, job.data);
    case 'send.message':
      return sendMessage(job, job.data);
    case 'connection.update':
      return connectionUpdate(job, job.data, fx);
    case 'qrcode.updated':
      return qrcodeUpdated(job, job.data, fx);
    case 'messages.upsert':
      return processIncomingMessage(job, job.data);
    default: {
      const unhandled: never = job;
      throw new Error(`unexpected webhook event ${(unhandled as { event: string }).event}`);
    }
  }
}

/**
 * A delivery receipt. Matched on the key id only (receipts may carry a @lid instead of the phone, and
 * WHATSAPP-BUSINESS receipts sometimes name another recipient's number). `fromMe` is no evidence of
 * direction: WHATSAPP-BUSINESS receipts of our own sends say `fromMe: false` (evolution-api.md §12), so
 * a receipt applies to whichever of our sends holds its key id. If none holds it yet, the send's HTTP
 * response has not been stored: the receipt is parked and applied when it is
 * (src/features/recipients/record-sent.ts), under the same advisory lock — except a `fromMe: false`
 * receipt on a Baileys instance, where Baileys' flag is reliable: that one is the receipt of an
 * incoming message and is not kept. Receipts are applied in batches (src/features/recipients/receipt-batch.ts).
 */
async function messagesUpdate(job: WebhookJob, d: z.infer<typeof messagesUpdateSchema>): Promise<string> {
  const keyId = (d.keyId ?? d.id) as string;
  const status = parseProviderStatus(d.status);
  if (!status || status === 'PENDING') return `ignored status ${String(d.status)}`;
  const park = d.fromMe !== false || (await integrationOf(job.instanceId)) === 'WHATSAPP_BUSINESS';
  return applyDeliveryReceipt({
    tenantId: job.tenantId,
    instanceId: job.instanceId,
    keyId,
    status,
    word: typeof d.status === 'string' ? d.status.trim().toUpperCase() : String(d.status),
    detail: status === 'ERROR' ? receiptErrorDetail(d.errors, d.error) : null,
    park,
    at: new Date(job.receivedAt),
  });
}

/**
 * `send.message` repeats the send response. Usually the recipient already holds its key id. When a
 * send timed out or its worker died, the recipient is UNKNOWN: this event proves the message left,
 * so it is reconciled to SENT (matched by instance and phone, the only link left), and receipts that
 * were parked for its key id meanwhile are applied.
 */
async function sendMessage(job: WebhookJob, d: z.infer<typeof messageRawSchema>): Promise<string> {
  if (!d.key.fromMe) return 'ignored: not our message';
  const keyId = d.key.id;
  // Evolution may answer with the JID WhatsApp knows (a Brazilian number without its ninth digit).
  const phones = phoneCandidates(jidUser(d.key.remoteJid));
  return inTransaction(async (tx, after) => {
    await lockProviderMessage(tx, keyId);
    if (await findRecipientByKey(tx, job.tenantId, keyId)) return 'confirmed';
    if (!d.key.remoteJid.endsWith('@s.whatsapp.net')) return 'not matched';
    return confirmSentByWebhook(tx, after, { tenantId: job.tenantId, instanceId: job.instanceId, keyId, phones });
  });
}

/**
 * The instance's connection (src/features/senders/connection.ts owns what it means). `close` (Evolution
 * will not reconnect) or `refused` marks it disconnected: the claims refuse it and each running
 * campaign that uses it gets one INSTANCE_PAUSED entry. Only `open` re-admits it: campaigns paused by
 * it get INSTANCE_RESUMED, and every running campaign that uses it is pumped. `connecting`, which
 * Evolution posts about twice a second while it retries without network, is recorded and nothing more.
 */
async function connectionUpdate(job: WebhookJob, d: z.infer<typeof connectionUpdateSchema>, fx: WebhookEffects): Promise<string> {
  const state = CONNECTION_STATE[d.state] as ConnectionState;
  const at = new Date(job.receivedAt);
  if (d.wuid || d.profileName) {
    await prisma.$executeRaw`
      UPDATE whatsapp_instance SET phone = COALESCE(${d.wuid ? `+${jidUser(d.wuid)}` : null}, phone),
        profile_name = COALESCE(${d.profileName ?? null}, profile_name), updated_at = now()
      WHERE id = ${job.instanceId}::uuid AND tenant_id = ${job.tenantId}::uuid`;
  }
  if (state === 'OPEN') {
    const r = await markConnected({ tenantId: job.tenantId, instanceId: job.instanceId, actor: 'webhook', how: 'connection.update open', at });
    for (const c of r.campaigns) await fx.pump(job.tenantId, c);
    return r.readmitted ? 'state OPEN: re-admitted' : 'state OPEN';
  }
  if (state === 'CLOSE' || state === 'REFUSED') {
    const r = await markDisconnected({
      tenantId: job.tenantId,
      instanceId: job.instanceId,
      state,
      reason: `Evolution reported ${d.state}, reason ${d.statusReason ?? 'unknown'}`,
      statusReason: d.statusReason ?? null,
      actor: 'webhook',
      at,
    });
    for (const c of r.campaigns) await fx.pump(job.tenantId, c);
    return `state ${state}`;
  }
  if (await recordConnectionState(job.tenantId, job.instanceId, state, at)) {
    await publish('instance:health', { tenantId: job.tenantId, instanceId: job.instanceId }).catch((err) => fx.log.warn({ err }, 'publish failed'));
  }
  return `state ${state}`;
}

/** A QR code to scan for the instance's connection flow; `{message}` alone means the attempts ran out. */
async function qrcodeUpdated(job: WebhookJob, d: z.infer<typeof qrcodeUpdatedSchema>, fx: WebhookEffects): Promise<string> {
  const qr = d.qrcode ? (d.qrcode.base64 ?? d.qrcode.code ?? null) : null;
  const changed = await prisma.whatsAppInstance.updateMany({
    where: { id: job.instanceId, tenantId: job.tenantId },
    data: d.qrcode ? { qrCode: qr, qrCodeAt: new Date(job.receivedAt), connectionState: 'CONNECTING' } : { qrCode: null, qrCodeAt: new Date(job.receivedAt) },
  });
  if (changed.count) await publish('instance:health', { tenantId: job.tenantId, instanceId: job.instanceId }).catch((err) => fx.log.warn({ err }, 'publish failed'));
  return d.qrcode ? 'qr stored' : `qr attempts ended: ${d.message ?? 'no message'}`;
}
