import { appendLog } from '../campaigns/logs.js';
import { prisma } from '../../infra/db/client.js';
import { requestFor, requestSummary } from '../../infra/evolution/requests.js';
import type { SendTextBody } from '../../infra/evolution/wire.js';
import { jobId } from '../../infra/queues/definitions.js';
import { enqueue } from '../../infra/queues/index.js';
import { sendInstance } from '../dispatch/context.js';
import { sendsTotal } from '../../infra/metrics/registry.js';
import { CONNECTION_STATE, disconnectCheckDelayMs, markDisconnected } from '../senders/connection.js';

export interface ConsentReplyJob {
  tenantId: string;
  instanceId: string;
  contactId: string;
  kind: 'OPT_IN' | 'OPT_OUT';
  replyId: string;
  /** How many times it waited already for its disconnected instance. */
  waits?: number;
}

/** A confirmation waits this many times (5 s doubling to 5 min each, about 80 minutes) for its disconnected instance, then is dropped. */
const MAX_WAITS = 20;

/** The confirmation again later under a new job id (the job itself runs once), or false when it waited enough. */
async function waitForInstance(job: ConsentReplyJob): Promise<boolean> {
  const waits = (job.waits ?? 0) + 1;
  if (waits > MAX_WAITS) return false;
  const delay = disconnectCheckDelayMs(5000 * 2 ** Math.min(10, waits - 1));
  await enqueue('sends', 'consent:reply', { ...job, waits }, { jobId: jobId('consent-reply', job.replyId, `w${waits}`), attempts: 1, delay });
  return true;
}

/**
 * Sends the tenant's confirmation of a keyword opt-in or opt-out back through the instance that
 * received the keyword, once (the job runs once: a timeout is not retried, as the message may have
 * left). Nothing is sent when the tenant removed its text meanwhile, or when the contact's consent
 * changed again since (an opt-in confirmation to a contact who opted out after).
 */
export async function sendConsentReply(job: ConsentReplyJob): Promise<string> {
  const [tenant, contact, instance] = await Promise.all([
    prisma.tenant.findUnique({ where: { id: job.tenantId }, select: { optInReply: true, optOutReply: true } }),
    prisma.contact.findFirst({ where: { id: job.contactId, tenantId: job.tenantId }, select: { phone: true, optedOut: true } }),
    sendInstance(job.tenantId, job.instanceId),
  ]);
  const text = job.kind === 'OPT_IN' ? tenant?.optInReply : tenant?.optOutReply;
  if (!text) return 'no confirmation text';
  if (!contact || !instance) return 'contact or instance gone';
  if (contact.optedOut !== (job.kind === 'OPT_OUT')) return 'consent changed since';
  const { body } = requestFor({ phone: contact.phone, media_type: null, media_url: null, media_mimetype: null, media_file_name: null }, text);
  // A number that is not connected cannot send it: it waits for the number instead of being lost.
  const down = await prisma.whatsAppInstance.findUnique({ where: { id: job.instanceId }, select: { disconnectedSince: true } });
  if (down?.disconnectedSince && (await waitForInstance(job))) return 'waiting for the instance to reconnect';
  const outcome = await instance.client.sendText(instance.name, body as SendTextBody);
  sendsTotal.inc({ source: 'consent_reply', outcome: outcome.kind, integration: instance.integration });
  if (outcome.kind === 'disconnected') {
    await markDisconnected({
      tenantId: job.tenantId,
      instanceId: job.instanceId,
      state: outcome.state ? (CONNECTION_STATE[outcome.state] ?? null) : null,
      reason: `not connected (${outcome.httpStatus}): ${outcome.message}`,
      actor: 'worker',
    });
    if (await waitForInstance(job)) return 'waiting for the instance to reconnect';
  }
  const sent = outcome.kind === 'sent';
  await appendLog(prisma, null, {
    tenantId: job.tenantId,
    type: job.kind,
    severity: sent ? 'INFO' : 'WARNING',
    message: `${job.kind === 'OPT_IN' ? 'opt-in' : 'opt-out'} confirmation to ${contact.phone}: ${sent ? 'sent' : `not sent (${outcome.kind})`}`,
    details: { replyId: job.replyId, outcome: outcome.kind },
    request: requestSummary('sendText', body),
    instanceId: job.instanceId,
    contactId: job.contactId,
    actor: 'worker',
  });
  return `confirmation ${outcome.kind}`;
}
