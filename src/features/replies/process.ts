import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { withdrawContacts } from '../recipients/audience.js';
import { markReplied } from '../recipients/engagement.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { jobId } from '../../infra/queues/definitions.js';
import { enqueue } from '../../infra/queues/index.js';
import { changeConsent } from '../contacts/consent.js';
import { excerpt, incomingSender, incomingText, isKeyword, messageTime, phoneCandidates } from '../../domain/replies.js';

export interface IncomingMessage {
  key: { remoteJid: string; fromMe: boolean; id: string; remoteJidAlt?: string | null };
  message?: Record<string, unknown> | null;
  messageType?: string | null;
  messageTimestamp?: unknown;
}

export interface IncomingJob {
  tenantId: string;
  instanceId: string;
  receivedAt: string;
}

/** The tenant's confirmation of a keyword opt-in or opt-out, sent back through the instance that received it (once per reply). */
function enqueueConsentReply(job: IncomingJob, contactId: string, kind: 'OPT_IN' | 'OPT_OUT', replyId: string) {
  return enqueue('sends', 'consent:reply', { tenantId: job.tenantId, instanceId: job.instanceId, contactId, kind, replyId }, { jobId: jobId('consent-reply', replyId), attempts: 1 });
}

/** How far WhatsApp's clock may run ahead of ours, and how old a message may be, before its own time is distrusted. */
const CLOCK_AHEAD_MS = 5 * 60_000;
const OLDEST_MS = 7 * 24 * 3600_000;
/** A send recorded slightly after the reply's timestamp (clock skew) still counts as the message replied to. */
const SEND_SKEW = '10 minutes';

/**
 * An incoming message (`messages.upsert`, fromMe false) stored as a reply, once per instance and key
 * id. From a known contact it updates the last interaction and cancels the contact's pending
 * follow-ups; within the tenant's reply window it is attributed to the latest recipient sent to that
 * contact (preferring the instance that received it): replied_at and the campaign's replied counter
 * are set once per recipient, and every attributed reply is logged. A message that is exactly an
 * opt-out keyword opts the contact out and withdraws it from every waiting campaign; one that is
 * exactly an opt-in keyword opts it in. Both are recorded as consent (source KEYWORD) and, when the
 * tenant set one, answered with its confirmation.
 * Everything happens in one transaction, so a retried job either did all of it or nothing.
 */
export async function processIncomingMessage(job: IncomingJob, d: IncomingMessage): Promise<string> {
  const sender = incomingSender(d.key);
  if (sender.kind === 'ignored') return `ignored: ${sender.reason}`;
  const received = new Date(job.receivedAt);
  const own = messageTime(d.messageTimestamp);
  const at =
    own && own.getTime() <= received.getTime() + CLOCK_AHEAD_MS && own.getTime() >= received.getTime() - OLDEST_MS ? own : received;
  const text = incomingText(d.message);
  const candidates = phoneCandidates(sender.digits);

  return inTransaction(async (tx, after) => {
    const [tenant] = await tx.$queryRaw<
      Array<{ reply_window_hours: number; opt_out_keywords: string[]; opt_in_keywords: string[]; opt_in_reply: string | null; opt_out_reply: string | null }>
    >`
      SELECT reply_window_hours, opt_out_keywords, opt_in_keywords, opt_in_reply, opt_out_reply FROM tenant WHERE id = ${job.tenantId}::uuid`;
    if (!tenant) return 'ignored: tenant not found';
    const [contact] = await tx.$queryRaw<Array<{ id: string; phone: string }>>`
      SELECT id, phone FROM contact
      WHERE tenant_id = ${job.tenantId}::uuid AND phone = ANY(${candidates}::text[])
      ORDER BY array_position(${candidates}::text[], phone) LIMIT 1 FOR UPDATE`;
    const [recipient] = contact
      ? await tx.$queryRaw<Array<{ id: string; campaign_id: string; message_id: string | null; instance_id: string | null }>>`
          SELECT id, campaign_id, message_id, instance_id FROM recipient
          WHERE tenant_id = ${job.tenantId}::uuid AND contact_id = ${contact.id}::uuid AND sent_at IS NOT NULL
            AND sent_at > ${at}::timestamptz - make_interval(hours => ${tenant.reply_window_hours})
            AND sent_at <= ${at}::timestamptz + ${SEND_SKEW}::interval
          ORDER BY (instance_id IS NOT DISTINCT FROM ${job.instanceId}::uuid) DESC, sent_at DESC
          LIMIT 1 FOR UPDATE`
      : [];
    const optOut = isKeyword(text, tenant.opt_out_keywords);
    const optIn = !optOut && isKeyword(text, tenant.opt_in_keywords ?? []);

    const inserted = await tx.$queryRaw<Array<{ id: string }>>`
      INSERT INTO reply (tenant_id, instance_id, contact_id, campaign_id, recipient_id, provider_message_id, phone, text, message_type, is_opt_out, received_at)
      VALUES (${job.tenantId}::uuid, ${job.instanceId}::uuid, ${contact?.id ?? null}::uuid, ${recipient?.campaign_id ?? null}::uuid,
        ${recipient?.id ?? null}::uuid, ${d.key.id}, ${contact?.phone ?? candidates[0]}, ${text}, ${d.messageType ?? null}, ${optOut}, ${at})
      ON CONFLICT (instance_id, provider_message_id) DO NOTHING
      RETURNING id`;
    const reply = inserted[0];
    if (!reply) return 'duplicate';
    if (!contact) return optOut ? 'stored: opt-out keyword from an unknown number' : 'stored: unknown number';

    await tx.$executeRaw`
      UPDATE contact SET last_interaction_at = GREATEST(COALESCE(last_interaction_at, ${at}), ${at}), updated_at = now()
      WHERE id = ${contact.id}::uuid`;
    await tx.$executeRaw`
      UPDATE follow_up SET status = 'CANCELLED', cancelled_at = now()
      WHERE tenant_id = ${job.tenantId}::uuid AND contact_id = ${contact.id}::uuid AND status IN ('PENDING', 'SCHEDULED')`;

    const firstReply = recipient ? await markReplied(tx, recipient.id, at) : false;

    const outcome: string[] = [];
    const keyword = { keyword: excerpt(text, 40), replyId: reply.id, keyId: d.key.id };
    if (optOut && (await changeConsent(tx, job.tenantId, [contact.id], 'OPT_OUT', 'KEYWORD', keyword, at)).length > 0) {
      const skipped = await withdrawContacts(tx, after, job.tenantId, [contact.id], 'OPTED_OUT', `contact opted out by replying "${excerpt(text, 40)}"`, 'webhook');
      await appendLog(tx, after, {
        tenantId: job.tenantId,
        campaignId: recipient?.campaign_id ?? null,
        type: 'OPT_OUT',
        severity: 'WARNING',
        message: `${contact.phone} opted out by replying "${excerpt(text, 40)}"; ${skipped} waiting message(s) skipped`,
        details: { replyId: reply.id, keyId: d.key.id, keyword: text, skippedRecipients: skipped },
        instanceId: recipient?.instance_id ?? job.instanceId,
        contactId: contact.id,
        recipientId: recipient?.id ?? null,
        actor: 'webhook',
      });
      if (tenant.opt_out_reply) after.defer(() => enqueueConsentReply(job, contact.id, 'OPT_OUT', reply.id));
      outcome.push('opted out');
    }
    if (optIn && (await changeConsent(tx, job.tenantId, [contact.id], 'OPT_IN', 'KEYWORD', keyword, at)).length > 0) {
      await appendLog(tx, after, {
        tenantId: job.tenantId,
        campaignId: recipient?.campaign_id ?? null,
        type: 'OPT_IN',
        message: `${contact.phone} opted in by sending "${excerpt(text, 40)}"`,
        details: { replyId: reply.id, keyId: d.key.id, keyword: text },
        instanceId: recipient?.instance_id ?? job.instanceId,
        contactId: contact.id,
        recipientId: recipient?.id ?? null,
        actor: 'webhook',
      });
      if (tenant.opt_in_reply) after.defer(() => enqueueConsentReply(job, contact.id, 'OPT_IN', reply.id));
      outcome.push('opted in');
    }
    if (recipient) {
      await appendLog(tx, after, {
        tenantId: job.tenantId,
        campaignId: recipient.campaign_id,
        type: 'MESSAGE_REPLIED',
        message: `${contact.phone} replied${firstReply ? '' : ' again'}`,
        details: {
          replyId: reply.id,
          keyId: d.key.id,
          text: excerpt(text),
          messageType: d.messageType ?? null,
          messageId: recipient.message_id,
          receivedBy: job.instanceId,
          firstReply,
        },
        instanceId: recipient.instance_id,
        contactId: contact.id,
        recipientId: recipient.id,
        actor: 'webhook',
      });
      // The campaign row last: it is the hottest row of the transaction.
      if (firstReply) await bumpCampaign(tx, after, recipient.campaign_id, { replied: 1 });
      outcome.unshift(firstReply ? 'reply attributed' : 'further reply attributed');
    } else {
      outcome.unshift('stored: no campaign message in the reply window');
    }
    return outcome.join(', ');
  });
}
