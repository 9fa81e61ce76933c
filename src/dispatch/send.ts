import type { Redis } from 'ioredis';
import { completeIfDone, autoPauseCampaign } from '../campaigns/lifecycle.js';
import { appendLog, appendLogs } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma, type Tx } from '../db/client.js';
import { type AfterCommit, inTransaction } from '../db/transaction.js';
import { checkInstanceHealth } from '../health/service.js';
import { applyReceipt, parseProviderStatus, PROVIDER_STATUSES, type ReceiptChange, type ReceiptState } from '../domain/receipts.js';
import { effectiveLimits } from '../domain/instances.js';
import { renderTemplate } from '../domain/template.js';
import { withTrackedLinks } from '../links/track.js';
import type { SendOutcome } from '../evolution/client.js';
import type { EvolutionMediaType, SendMediaBody, SendTextBody } from '../evolution/wire.js';
import { Prisma } from '../generated/prisma/client.js';
import { clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { redisKey } from '../redis.js';
import {
  addChangeDeltas,
  applyInstanceDeltas,
  applyParkedReceipts,
  changeLogs,
  emptyDeltas,
  lockProviderMessage,
  updateRecipientForChange,
} from '../receipts/apply.js';
import { inOpenZones, openZones, type SendCampaign, type SendInstance, sendCampaign, sendInstance } from './context.js';
import type { InstanceLimiter } from './limiter.js';

export interface SendJob {
  id: string;
  attemptsStarted: number;
  data: { tenantId: string; campaignId: string; instanceId: string; slot: string; slotAt: number; day: string };
}

export interface DispatchDeps {
  redis: Redis;
  limiter: InstanceLimiter;
  log: Logger;
  /** Asks for a pump of the campaign soon (deduplicated). */
  requestPump(tenantId: string, campaignId: string, delayMs?: number): Promise<void>;
  /** How many send jobs a campaign keeps ahead of the workers. */
  lookahead: number;
  /** How many send jobs all campaigns of one tenant together keep ahead of the workers (fair share). */
  tenantLookahead: number;
  phoneLockMs: number;
}

interface ClaimedRow {
  id: string;
  contact_id: string;
  phone: string;
  attempts: number;
  message_id: string;
  name: string | null;
  custom_fields: Record<string, unknown>;
  timezone: string | null;
  referred_by: string | null;
  text: string;
  media_type: 'IMAGE' | 'VIDEO' | 'AUDIO' | 'DOCUMENT' | null;
  media_url: string | null;
  media_mimetype: string | null;
  media_file_name: string | null;
}

/** What every log entry of one send shares. */
interface LogBase {
  tenantId: string;
  campaignId: string;
  instanceId: string;
  contactId: string;
  recipientId: string;
  durationMs: number;
  request: ReturnType<typeof requestSummary>;
  httpStatus: number | null;
  actor: string;
}

/** Send jobs of a campaign scheduled and not yet run (slot ids scored by slot time). */
export function outstandingKey(campaignId: string) {
  return redisKey('scheduled', campaignId);
}

/** The same across all campaigns of a tenant: bounded so that no tenant fills the queue ahead of others. */
export function tenantOutstandingKey(tenantId: string) {
  return redisKey('scheduled-tenant', tenantId);
}

/**
 * Claims the next recipient of the campaign for this instance: only a QUEUED recipient, only while
 * the campaign is RUNNING and the instance may send. FOR KEY SHARE on the campaign row makes a
 * concurrent pause or cancel (FOR UPDATE) wait for this claim, or this claim see its result.
 */
async function claimNext(campaignId: string, instanceId: string, token: string, now: Date, zones: Prisma.Sql): Promise<ClaimedRow | null> {
  const rows = await prisma.$queryRaw<ClaimedRow[]>`
    WITH c AS (
      SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND status = 'RUNNING' FOR KEY SHARE
    ), i AS (
      SELECT id FROM whatsapp_instance
      WHERE id = ${instanceId}::uuid AND NOT manually_paused AND auto_paused_at IS NULL
        AND connection_state NOT IN ('CLOSE', 'REFUSED')
    ), next AS (
      SELECT r.id FROM recipient r
      WHERE r.campaign_id = (SELECT id FROM c) AND EXISTS (SELECT 1 FROM i)
        AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= ${now}) AND ${zones}
      ORDER BY r.seq
      LIMIT 1
      FOR UPDATE OF r SKIP LOCKED
    )
    UPDATE recipient r
    SET status = 'SENDING', instance_id = ${instanceId}::uuid, sending_at = now(), attempts = r.attempts + 1,
        claim_token = ${token}, updated_at = now()
    FROM next, contact ct, campaign_message m
    WHERE r.id = next.id AND ct.id = r.contact_id AND m.id = r.message_id
    RETURNING r.id, r.contact_id, r.phone, r.attempts, r.message_id, ct.name, ct.custom_fields, ct.timezone,
              ct.referred_by, m.text, m.media_type, m.media_url, m.media_mimetype, m.media_file_name`;
  return rows[0] ?? null;
}

/** Puts a claimed recipient back in the queue, as if it had never been claimed. */
async function unclaim(recipientId: string, notBefore: Date | null) {
  await prisma.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, attempts = GREATEST(0, attempts - 1),
      not_before = ${notBefore}, updated_at = now()
    WHERE id = ${recipientId}::uuid AND status = 'SENDING'`;
}

export const RELEASE_PHONE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

function phoneDigits(e164: string) {
  return e164.replace(/\D/g, '');
}

export type MediaColumns = Pick<ClaimedRow, 'phone' | 'media_type' | 'media_url' | 'media_mimetype' | 'media_file_name'>;

export function requestFor(claimed: MediaColumns, text: string): { endpoint: 'sendText' | 'sendMedia'; body: SendTextBody | SendMediaBody } {
  const number = phoneDigits(claimed.phone);
  if (claimed.media_type && claimed.media_url) {
    return {
      endpoint: 'sendMedia',
      body: {
        number,
        mediatype: claimed.media_type.toLowerCase() as EvolutionMediaType,
        media: claimed.media_url,
        ...(claimed.media_mimetype ? { mimetype: claimed.media_mimetype } : {}),
        ...(claimed.media_file_name ? { fileName: claimed.media_file_name } : {}),
        ...(text && claimed.media_type !== 'AUDIO' ? { caption: text } : {}),
      },
    };
  }
  return { endpoint: 'sendText', body: { number, text } };
}

export function requestSummary(endpoint: string, body: SendTextBody | SendMediaBody) {
  return 'text' in body
    ? { endpoint, number: body.number, textLength: body.text.length }
    : { endpoint, number: body.number, mediatype: body.mediatype, media: body.media.slice(0, 200), fileName: body.fileName ?? null };
}

export function backoffMs(attempt: number) {
  return Math.min(300_000, 2000 * 2 ** Math.max(0, attempt - 1));
}

/**
 * One send: claim, render, call Evolution, record the outcome. Never sends a recipient twice: the
 * claim is conditional, and an outcome that may have reached WhatsApp is never retried.
 */
export async function processSend(deps: DispatchDeps, job: SendJob): Promise<string> {
  const { tenantId, campaignId, instanceId, slot, day } = job.data;
  let claimedAny = false;
  try {
    if (job.attemptsStarted > 1) {
      // A previous run of this job died (worker crash): whatever it claimed may have been sent.
      const n = await markCrashedClaims(job.id);
      return n > 0 ? 'crashed-claim-marked-unknown' : 'rerun-nothing-claimed';
    }
    const [campaign, instance] = await Promise.all([sendCampaign(tenantId, campaignId), sendInstance(tenantId, instanceId)]);
    if (!campaign || !instance) return 'gone';

    // The slot is used only if the sends actually made leave room now (a late job must not crowd the next minute).
    if (!(await deps.limiter.confirm(instanceId, slot, effectiveLimits(instance.limits, clock.now()), clock.ms()))) return 'rate-wait';

    // Only recipients whose sending window is open now; a send scheduled just before it closed waits.
    const open = await openZones(campaign, clock.now());
    if (open !== null && open.length === 0) return 'window-closed';
    const zones = inOpenZones(open, campaign.timezone);

    // A phone may not receive two messages at once (across campaigns): skip a locked one for later.
    for (let tries = 0; tries < 3; tries++) {
      const claimed = await claimNext(campaignId, instanceId, job.id, clock.now(), zones);
      if (!claimed) break;
      const phoneKey = redisKey('phone', tenantId, claimed.phone);
      const locked = await deps.redis.set(phoneKey, claimed.id, 'PX', deps.phoneLockMs, 'NX');
      if (!locked) {
        await unclaim(claimed.id, new Date(clock.ms() + 2000));
        continue;
      }
      claimedAny = true;
      try {
        return await sendClaimed(deps, campaign, instance, claimed);
      } finally {
        await deps.redis.eval(RELEASE_PHONE, 1, phoneKey, claimed.id).catch(() => undefined);
      }
    }
    return 'nothing-to-send';
  } finally {
    if (!claimedAny) await deps.limiter.release(instanceId, slot, day).catch(() => undefined);
    const key = outstandingKey(campaignId);
    const [, left] = (await deps.redis.multi().zrem(key, slot).zcard(key).zrem(tenantOutstandingKey(tenantId), slot).exec()) ?? [];
    const outstanding = Number(left?.[1] ?? 0);
    if (outstanding <= deps.lookahead / 2) await deps.requestPump(tenantId, campaignId);
    if (!claimedAny) await completeIfDone(tenantId, campaignId);
  }
}

async function sendClaimed(deps: DispatchDeps, campaign: SendCampaign, instance: SendInstance, claimed: ClaimedRow): Promise<string> {
  const rendered = renderTemplate(
    claimed.text,
    {
      name: claimed.name,
      phone: claimed.phone,
      referredBy: claimed.referred_by,
      customFields: claimed.custom_fields ?? {},
      timezone: claimed.timezone ?? campaign.timezone,
    },
    clock.now(),
  );
  const text = await withTrackedLinks(campaign.tenantId, campaign.id, claimed.id, claimed.message_id, rendered);
  const { endpoint, body } = requestFor(claimed, text);
  const outcome =
    endpoint === 'sendText'
      ? await instance.client.sendText(instance.name, body as SendTextBody)
      : await instance.client.sendMedia(instance.name, body as SendMediaBody);
  const request = requestSummary(endpoint, body);
  await recordOutcome(deps, campaign, instance, claimed, text, request, outcome);
  return outcome.kind;
}

async function recordOutcome(
  deps: DispatchDeps,
  campaign: SendCampaign,
  instance: SendInstance,
  claimed: ClaimedRow,
  text: string,
  request: ReturnType<typeof requestSummary>,
  outcome: SendOutcome,
) {
  const base: LogBase = {
    tenantId: campaign.tenantId,
    campaignId: campaign.id,
    instanceId: instance.id,
    contactId: claimed.contact_id,
    recipientId: claimed.id,
    durationMs: outcome.durationMs,
    request,
    httpStatus: outcome.httpStatus,
    actor: 'worker',
  };
  switch (outcome.kind) {
    case 'sent':
      return inTransaction((tx, after) => recordSent(tx, after, base, claimed, text, outcome));

    case 'not_on_whatsapp':
      return inTransaction(async (tx, after) => {
        if (!(await finish(tx, claimed.id, 'FAILED', 'NOT_ON_WHATSAPP', outcome.message, text))) return;
        await tx.$executeRaw`UPDATE contact SET not_on_whatsapp = true, updated_at = now() WHERE id = ${claimed.contact_id}::uuid`;
        await appendLog(tx, after, {
          ...base,
          type: 'MESSAGE_FAILED',
          severity: 'WARNING',
          message: `${claimed.phone} is not on WhatsApp; the contact is flagged and will be skipped from now on`,
          response: { message: outcome.message },
        });
        await bumpCampaign(tx, after, campaign.id, { failed: 1, remaining: -1 });
      });

    case 'unauthorized':
    case 'instance_not_found': {
      const reason =
        outcome.kind === 'unauthorized'
          ? 'Evolution refused the API key (401): check the server key'
          : `Evolution does not know instance "${instance.name}" (404)`;
      await unclaim(claimed.id, null);
      await inTransaction(async (tx, after) => {
        const paused = await tx.$executeRaw`
          UPDATE whatsapp_instance SET manually_paused = true, paused_reason = ${reason}, paused_at = now(), updated_at = now()
          WHERE id = ${instance.id}::uuid AND NOT manually_paused`;
        if (paused) {
          await appendLog(tx, after, {
            ...base,
            type: 'INSTANCE_PAUSED',
            severity: 'ERROR',
            message: `instance ${instance.name} paused: ${reason}; the recipient goes back to the queue`,
            response: { message: outcome.message },
          });
          after.publish('instance:health', { tenantId: campaign.tenantId, instanceId: instance.id });
        }
      });
      await deps.requestPump(campaign.tenantId, campaign.id);
      return;
    }

    case 'unavailable': {
      if (claimed.attempts < campaign.maxAttempts) {
        const at = new Date(clock.ms() + backoffMs(claimed.attempts));
        await unclaimForRetry(claimed.id, at, outcome.message);
        await inTransaction(async (tx, after) => {
          await appendLog(tx, after, {
            ...base,
            type: 'ERROR',
            severity: 'WARNING',
            message: `send not delivered to Evolution (${outcome.message}); attempt ${claimed.attempts} of ${campaign.maxAttempts}, retrying at ${at.toISOString()}`,
            response: { message: outcome.message },
            details: { retryAt: at.toISOString(), attempt: claimed.attempts },
          });
          await applyInstanceDeltas(tx, instance.id, { ...emptyDeltas().instance, errors: true });
          await bumpCampaign(tx, after, campaign.id, {}, [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
        });
        await deps.requestPump(campaign.tenantId, campaign.id, at.getTime() - clock.ms());
      } else {
        await failed(deps, base, claimed, text, 'UNAVAILABLE', `gave up after ${claimed.attempts} attempts: ${outcome.message}`);
      }
      return checkErrorThreshold(campaign);
    }

    case 'rejected':
      await failed(deps, base, claimed, text, 'REJECTED', `Evolution refused the message (${outcome.httpStatus}): ${outcome.message}`);
      return checkErrorThreshold(campaign);

    case 'unknown':
      await inTransaction(async (tx, after) => {
        if (await settleConfirmedSend(tx, after, { ...base, campaignId: campaign.id }, `${outcome.message}`, text)) return;
        if (!(await finish(tx, claimed.id, 'UNKNOWN', 'OUTCOME_UNKNOWN', outcome.message, text))) return;
        await appendLog(tx, after, {
          ...base,
          type: 'OUTCOME_UNKNOWN',
          severity: 'ERROR',
          message: `the send may or may not have reached WhatsApp (${outcome.message}); it will not be retried automatically`,
          response: { message: outcome.message },
        });
        await applyInstanceDeltas(tx, instance.id, { ...emptyDeltas().instance, errors: true });
        await bumpCampaign(tx, after, campaign.id, { unknown: 1, remaining: -1 }, [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
      });
      return checkErrorThreshold(campaign);
  }
}

async function unclaimForRetry(recipientId: string, at: Date, error: string) {
  await prisma.$executeRaw`
    UPDATE recipient SET status = 'QUEUED', sending_at = NULL, claim_token = NULL, not_before = ${at},
      error_code = 'UNAVAILABLE', error = ${error}, updated_at = now()
    WHERE id = ${recipientId}::uuid AND status = 'SENDING'`;
}

/** Moves a SENDING recipient to a final state; false when it had already left SENDING. */
async function finish(tx: Tx, recipientId: string, status: 'FAILED' | 'UNKNOWN', code: string, error: string, text: string | null) {
  const n = await tx.$executeRaw`
    UPDATE recipient SET status = ${status}::"RecipientStatus", error_code = ${code}, error = ${error},
      rendered_text = COALESCE(${text}, rendered_text),
      failed_at = CASE WHEN ${status} = 'FAILED' THEN now() ELSE failed_at END, claim_token = NULL, updated_at = now()
    WHERE id = ${recipientId}::uuid AND status = 'SENDING'`;
  return n > 0;
}

async function failed(
  deps: DispatchDeps,
  base: LogBase,
  claimed: ClaimedRow,
  text: string,
  code: string,
  message: string,
) {
  await inTransaction(async (tx, after) => {
    if (!(await finish(tx, claimed.id, 'FAILED', code, message, text))) return;
    await appendLog(tx, after, { ...base, type: 'MESSAGE_FAILED', severity: 'ERROR', message });
    await applyInstanceDeltas(tx, base.instanceId, { ...emptyDeltas().instance, failed: 1, errors: true, health: -10 });
    after.publish('instance:health', { tenantId: base.tenantId, instanceId: base.instanceId });
    await bumpCampaign(tx, after, base.campaignId, { failed: 1, remaining: -1 }, [Prisma.sql`consecutive_errors = consecutive_errors + 1`]);
  });
  // The score just dropped: apply the threshold now rather than when the queued check runs.
  await checkInstanceHealth(base.instanceId, (t, c) => deps.requestPump(t, c));
}

async function checkErrorThreshold(campaign: SendCampaign) {
  const [row] = await prisma.$queryRaw<Array<{ over: boolean; n: number }>>`
    SELECT consecutive_errors >= error_threshold AS over, consecutive_errors AS n FROM campaign WHERE id = ${campaign.id}::uuid`;
  if (row?.over) {
    await autoPauseCampaign(campaign.tenantId, campaign.id, `${row.n} consecutive send errors (threshold ${campaign.errorThreshold})`, {
      consecutiveErrors: row.n,
      threshold: campaign.errorThreshold,
    });
  }
}

/**
 * Records a send Evolution accepted: the key id, SENT and its timestamps, then any receipt that
 * overtook the response (parked in pending_receipt), all in one transaction that holds the key's
 * advisory lock so the webhook path cannot slip between.
 */
async function recordSent(
  tx: Tx,
  after: AfterCommit,
  base: LogBase,
  claimed: ClaimedRow,
  text: string,
  outcome: Extract<SendOutcome, { kind: 'sent' }>,
) {
  await lockProviderMessage(tx, outcome.keyId);
  const rows = await tx.$queryRaw<Array<{ was: string; sent_at: Date }>>`
    WITH old AS (SELECT id, status FROM recipient WHERE id = ${claimed.id}::uuid AND status IN ('SENDING', 'UNKNOWN') FOR UPDATE)
    UPDATE recipient r SET status = 'SENT', provider_message_id = ${outcome.keyId}, sent_at = now(),
      send_duration_ms = ${outcome.durationMs}, rendered_text = ${text}, claim_token = NULL, error = NULL, error_code = NULL,
      updated_at = now()
    FROM old WHERE r.id = old.id
    RETURNING old.status AS was, r.sent_at`;
  const row = rows[0];
  if (!row) return;

  const deltas = emptyDeltas();
  deltas.campaign.sent = 1;
  if (row.was === 'SENDING') deltas.campaign.remaining = -1;
  else deltas.campaign.unknown = -1;
  deltas.instance.sent = 1;

  await appendLog(tx, after, {
    ...base,
    type: 'MESSAGE_SENT',
    message: `message sent to ${claimed.phone}`,
    response: { keyId: outcome.keyId, status: outcome.response.status ?? null, messageType: outcome.response.messageType ?? null },
  });

  // Receipts that arrived before this response: apply them now, in rank order.
  const parked = await tx.$queryRaw<Array<{ status: string; received_at: Date }>>`
    DELETE FROM pending_receipt WHERE instance_id = ${base.instanceId}::uuid AND key_id = ${outcome.keyId}
    RETURNING status, received_at`;
  if (parked.length > 0) {
    const order = (s: string) => PROVIDER_STATUSES.indexOf(parseProviderStatus(s) ?? 'PENDING');
    let state: ReceiptState = { status: 'SENT', sentAt: row.sent_at, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
    const recipient = { id: claimed.id, tenantId: base.tenantId, campaignId: base.campaignId, instanceId: base.instanceId, contactId: claimed.contact_id };
    let combined = null as ReceiptChange | null;
    for (const p of parked.sort((a, b) => order(a.status) - order(b.status))) {
      const status = parseProviderStatus(p.status);
      if (!status) continue;
      const change = applyReceipt(state, status, p.received_at);
      if (!change) continue;
      addChangeDeltas(deltas, change);
      await appendLogs(tx, after, changeLogs({ ...recipient, ...state }, change, status, outcome.keyId, 'webhook'));
      state = { ...state, ...change.set, status: change.status };
      combined = { status: change.status, set: { ...(combined?.set ?? {}), ...change.set }, events: [...(combined?.events ?? []), ...change.events] };
    }
    if (combined) await updateRecipientForChange(tx, claimed.id, combined);
  }

  await applyInstanceDeltas(tx, base.instanceId, deltas.instance, [
    Prisma.sql`consecutive_errors = 0`,
    Prisma.sql`last_success_at = now()`,
  ]);
  after.publish('instance:health', { tenantId: base.tenantId, instanceId: base.instanceId });
  await bumpCampaign(tx, after, base.campaignId, deltas.campaign, [Prisma.sql`consecutive_errors = 0`]);
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
  base: { tenantId: string; campaignId: string; instanceId: string | null; contactId: string; recipientId: string; actor: string },
  reason: string,
  text: string | null,
): Promise<boolean> {
  const [proof] = await tx.$queryRaw<Array<{ key: string | null }>>`
    SELECT confirmed_key_id AS key FROM recipient WHERE id = ${base.recipientId}::uuid AND status = 'SENDING'`;
  if (!proof?.key) return false;
  await lockProviderMessage(tx, proof.key);
  const rows = await tx.$queryRaw<Array<{ sent_at: Date; instance_id: string | null }>>`
    UPDATE recipient SET status = 'SENT', provider_message_id = confirmed_key_id, sent_at = COALESCE(sending_at, now()),
      rendered_text = COALESCE(${text}, rendered_text), claim_token = NULL, error = NULL, error_code = NULL, updated_at = now()
    WHERE id = ${base.recipientId}::uuid AND status = 'SENDING' AND confirmed_key_id = ${proof.key}
    RETURNING sent_at, instance_id`;
  const row = rows[0];
  if (!row) return false;
  const instanceId = row.instance_id ?? base.instanceId;
  await appendLog(tx, after, {
    ...base,
    instanceId,
    type: 'MESSAGE_SENT',
    severity: 'WARNING',
    message: `the send's own answer was lost (${reason}), but Evolution confirmed it left (send.message)`,
    details: { keyId: proof.key, confirmedBy: 'send.message' },
  });
  await applyInstanceDeltas(tx, instanceId, { ...emptyDeltas().instance, sent: 1 });
  await bumpCampaign(tx, after, base.campaignId, { sent: 1, remaining: -1 });
  if (instanceId) {
    const recipient = { id: base.recipientId, tenantId: base.tenantId, campaignId: base.campaignId, instanceId, contactId: base.contactId, status: 'SENT', sentAt: row.sent_at, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
    await applyParkedReceipts(tx, after, recipient, instanceId, proof.key);
  }
  return true;
}

/** Recipients claimed by a job run that died: their send may have happened, so they become UNKNOWN. */
export async function markCrashedClaims(token: string): Promise<number> {
  const rows = await prisma.$queryRaw<Array<{ id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string }>>`
    SELECT id, tenant_id, campaign_id, instance_id, contact_id FROM recipient WHERE claim_token = ${token} AND status = 'SENDING'`;
  for (const r of rows) await markUnknown(r, 'the worker sending this message stopped mid-send');
  return rows.length;
}

export async function markUnknown(
  r: { id: string; tenant_id: string; campaign_id: string; instance_id: string | null; contact_id: string },
  reason: string,
) {
  await inTransaction(async (tx, after) => {
    const base = { tenantId: r.tenant_id, campaignId: r.campaign_id, instanceId: r.instance_id, contactId: r.contact_id, recipientId: r.id, actor: 'worker' };
    if (await settleConfirmedSend(tx, after, base, reason, null)) return;
    if (!(await finish(tx, r.id, 'UNKNOWN', 'OUTCOME_UNKNOWN', reason, null))) return;
    await appendLog(tx, after, {
      tenantId: r.tenant_id,
      campaignId: r.campaign_id,
      instanceId: r.instance_id,
      contactId: r.contact_id,
      recipientId: r.id,
      type: 'OUTCOME_UNKNOWN',
      severity: 'ERROR',
      message: `${reason}; outcome unknown, not retried automatically`,
      actor: 'worker',
    });
    await bumpCampaign(tx, after, r.campaign_id, { unknown: 1, remaining: -1 });
  });
}
