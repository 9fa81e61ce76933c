/**
 * Follow-ups: step K of a campaign's rules goes to a recipient who has not replied K-th message
 * after the previous one (the campaign message for step 1) plus the rule's days.
 *
 * A pass (hourly, and whenever asked) creates the follow-ups that fell due, in one set-based INSERT,
 * and schedules the due ones through the same pacing as campaign sends: a rate-limit slot on the
 * instance (the one that sent the campaign message when it can still send), the phone lock, and the
 * campaign's sending window. A follow-up goes PENDING → SCHEDULED (it holds a slot: claim_token
 * is the slot) → SENDING (claimed by one conditional UPDATE while its campaign is running or
 * completed: claim_token is the send job) → SENT, FAILED or UNKNOWN. Like a send, one whose outcome
 * is unknown (timeout, crash) is never sent again. A reply or an opt-out cancels PENDING and
 * SCHEDULED follow-ups; one already SENDING is recorded as what it became.
 */
import type { Queue } from 'bullmq';
import { appendLog } from '../campaigns/logs.js';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { effectiveLimits, LIMIT_SETTINGS_SELECT, unusableReason } from '../../domain/instances.js';
import { renderTemplate } from '../../domain/template.js';
import { isOpen, zoneOr } from '../../domain/window.js';
import type { SendOutcome } from '../../infra/evolution/client.js';
import { markThrottled } from '../dispatch/throttle.js';
import { CONNECTION_STATE, markDisconnected } from '../senders/connection.js';
import type { SendMediaBody, SendTextBody } from '../../infra/evolution/wire.js';
import { Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import { localDay } from '../../infra/lib/local-time.js';
import { jobId } from '../../infra/queues/definitions.js';
import { sendCampaign, sendInstance } from '../dispatch/context.js';
import { giveBackPhones, type PhoneHold, takePhones } from '../dispatch/phone-locks.js';
import { GATE_MAX_WAIT_MS, passedGate, waitAtGate } from '../dispatch/pace.js';
import { config } from '../../infra/config/index.js';
import { type DispatchDeps, paceFor } from '../dispatch/send.js';
import { requestFor, requestSummary } from '../../infra/evolution/requests.js';
import { applyInstanceDeltas, noInstanceDeltas } from '../recipients/effects.js';
import { countDeferral, sendsTotal } from '../../infra/metrics/registry.js';
import { insideServiceWindow } from '../recipients/claim.js';

const HORIZON_MS = 5000;
const BATCH = 500;
/** A scheduled follow-up whose job never ran (lost with its worker) is scheduled again after this. */
const SCHEDULED_STALE_MS = 10 * 60_000;
/** An unknown outcome is looked up in Evolution's message store (src/features/dispatch/reconcile.ts), first this soon. */
const UNKNOWN_RECONCILE = (reason: string) => Prisma.sql`
  reconcile_at = now() + interval '5 seconds', reconcile_attempts = 0,
  evidence = jsonb_build_object('reason', ${reason}::text, 'sendingAt', claimed_at, 'abandonedAt', now(), 'lookups', '[]'::jsonb)`;
/** A certainly-not-sent failure (Evolution 5xx, unreachable) is tried again this much later. */
const RETRY_LATER_MS = 3_600_000;

export interface FollowUpDeps extends DispatchDeps {
  sendQueue: Queue;
  /** Asks for another follow-up pass soon (deduplicated). */
  requestFollowUps(delayMs?: number): Promise<void>;
}

export interface FollowUpJob {
  id: string;
  attemptsStarted: number;
  data: { tenantId: string; followUpId: string; instanceId: string; slot: string; day: string };
}

/** Creates the follow-ups that are due at `now` (set-based, every tenant, each row within its tenant). */
export async function createDueFollowUps(now: Date): Promise<number> {
  return prisma.$executeRaw`
    INSERT INTO follow_up (tenant_id, campaign_id, rule_id, recipient_id, contact_id, status, due_at)
    SELECT r.tenant_id, r.campaign_id, fr.id, r.id, r.contact_id, 'PENDING', prev.at + make_interval(days => fr.after_days)
    FROM follow_up_rule fr
    JOIN campaign c ON c.id = fr.campaign_id AND c.tenant_id = fr.tenant_id AND c.status IN ('RUNNING', 'COMPLETED')
    JOIN recipient r ON r.campaign_id = fr.campaign_id AND r.tenant_id = fr.tenant_id
      AND r.status IN ('SENT', 'DELIVERED', 'READ') AND r.replied_at IS NULL
    JOIN contact ct ON ct.id = r.contact_id AND NOT ct.opted_out AND NOT ct.blocked AND NOT ct.not_on_whatsapp
    JOIN tenant t ON t.id = r.tenant_id AND (ct.opted_in_at IS NOT NULL OR NOT t.require_opt_in)
    CROSS JOIN LATERAL (
      SELECT CASE WHEN fr.step = 1 THEN r.sent_at ELSE (
        SELECT p.sent_at FROM follow_up p JOIN follow_up_rule pr ON pr.id = p.rule_id
        WHERE p.recipient_id = r.id AND pr.step = fr.step - 1 AND p.status = 'SENT'
      ) END AS at
    ) prev
    WHERE prev.at IS NOT NULL AND prev.at + make_interval(days => fr.after_days) <= ${now}
      AND NOT EXISTS (SELECT 1 FROM reply rp WHERE rp.contact_id = r.contact_id AND rp.received_at > prev.at)
    ON CONFLICT (recipient_id, rule_id) DO NOTHING`;
}

/** Slots whose job was lost become schedulable again; claims whose worker died end as unknown. */
async function reclaimStale(now: Date, sendingStaleMs: number) {
  await prisma.$executeRaw`
    UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL
    WHERE status = 'SCHEDULED' AND claimed_at < ${new Date(now.getTime() - SCHEDULED_STALE_MS)}`;
  const stale = await prisma.$queryRaw<Array<{ id: string; claim_token: string }>>`
    SELECT id, claim_token FROM follow_up WHERE status = 'SENDING' AND claimed_at < ${new Date(now.getTime() - sendingStaleMs)}`;
  for (const f of stale) await markFollowUpUnknown(f.id, f.claim_token, null, 'the worker sending this follow-up stopped mid-send');
}

interface DueRow {
  id: string;
  tenant_id: string;
  campaign_id: string;
  instance_id: string | null;
  zone: string | null;
}

/**
 * Schedules due follow-ups on rate-limit slots (within the next few seconds) and asks for another
 * pass while some are left that could be sent now. Returns how many were scheduled.
 */
export async function pumpFollowUps(deps: FollowUpDeps, now: Date = clock.now()): Promise<{ scheduled: number; waiting: number }> {
  await reclaimStale(now, deps.phoneLockMs + 120_000);
  const due = await prisma.$queryRaw<DueRow[]>`
    SELECT f.id, f.tenant_id, f.campaign_id, r.instance_id, r.timezone AS zone
    FROM follow_up f
    JOIN recipient r ON r.id = f.recipient_id
    JOIN campaign c ON c.id = f.campaign_id AND c.status IN ('RUNNING', 'COMPLETED')
    WHERE f.status = 'PENDING' AND f.due_at <= ${now}
    ORDER BY f.due_at
    LIMIT ${BATCH}`;
  if (due.length === 0) return { scheduled: 0, waiting: 0 };

  // Which instance sends each one: the campaign's, in its window.
  const byInstance = new Map<string, DueRow[]>();
  const campaignInstances = new Map<string, string[]>();
  let waiting = 0;
  for (const f of due) {
    const campaign = await sendCampaign(f.tenant_id, f.campaign_id);
    if (!campaign || !isOpen(campaign.window, now, zoneOr(f.zone, campaign.timezone))) {
      waiting++;
      continue;
    }
    let usable = campaignInstances.get(f.campaign_id);
    if (!usable) {
      const rows = await prisma.whatsAppInstance.findMany({
        where: { tenantId: f.tenant_id, campaigns: { some: { campaignId: f.campaign_id } } },
        select: { id: true, manuallyPaused: true, pausedReason: true, autoPausedAt: true, connectionState: true, disconnectedSince: true },
        orderBy: { id: 'asc' },
      });
      usable = rows.filter((i) => unusableReason(i) === null).map((i) => i.id);
      campaignInstances.set(f.campaign_id, usable);
    }
    const instanceId = f.instance_id && usable.includes(f.instance_id) ? f.instance_id : usable[0];
    if (!instanceId) {
      waiting++;
      continue;
    }
    byInstance.set(instanceId, [...(byInstance.get(instanceId) ?? []), f]);
  }

  let scheduled = 0;
  let left = waiting;
  for (const [instanceId, list] of byInstance) {
    const instance = await prisma.whatsAppInstance.findUnique({
      where: { id: instanceId },
      select: {
        tenantId: true,
        ...LIMIT_SETTINGS_SELECT,
        tenant: { select: { timezone: true } },
      },
    });
    if (!instance) continue;
    const day = localDay(now, instance.tenant.timezone);
    const r = await deps.limiter.reserve(instance.tenantId, instanceId, effectiveLimits(instance, now), list.length, { now: now.getTime(), horizonMs: HORIZON_MS, localDay: day });
    left += list.length - r.slots.length;
    for (const [k, slot] of r.slots.entries()) {
      const f = list[k] as DueRow;
      const marked = await prisma.$executeRaw`
        UPDATE follow_up SET status = 'SCHEDULED', claim_token = ${slot.id}, claimed_at = ${now}, instance_id = ${instanceId}::uuid
        WHERE id = ${f.id}::uuid AND status = 'PENDING'`;
      if (!marked) {
        await deps.limiter.release(instance.tenantId, instanceId, slot.id, day);
        continue;
      }
      await deps.sendQueue.add(
        'dispatch:follow-up',
        { tenantId: f.tenant_id, followUpId: f.id, instanceId, slot: slot.id, day },
        { jobId: jobId('follow-up', slot.id), delay: Math.max(0, slot.at - now.getTime()) },
      );
      scheduled++;
    }
  }
  // More can go as soon as slots free up (those outside their window wait for the next pass).
  if (left > waiting || due.length === BATCH) await deps.requestFollowUps(HORIZON_MS / 2);
  return { scheduled, waiting: left };
}

interface ClaimedFollowUp {
  id: string;
  campaign_id: string;
  recipient_id: string;
  contact_id: string;
  step: number;
  phone: string;
  name: string | null;
  custom_fields: Record<string, unknown>;
  contact_zone: string | null;
  referred_by: string | null;
  text: string;
  media_type: 'IMAGE' | 'VIDEO' | 'AUDIO' | 'DOCUMENT' | null;
  media_url: string | null;
  media_mimetype: string | null;
  media_file_name: string | null;
}

/** One follow-up send: claim, render, call Evolution, record. Never sends a follow-up twice. */
export async function processFollowUp(deps: DispatchDeps, job: FollowUpJob): Promise<string> {
  const result = await sendFollowUp(deps, job);
  // The job's answer says why it did not send now: rate-wait, window-closed, phone-busy, throttled, …
  countDeferral('follow_up', result);
  return result;
}

async function sendFollowUp(deps: DispatchDeps, job: FollowUpJob): Promise<string> {
  const { tenantId, followUpId, instanceId, slot, day } = job.data;
  let sending = false;
  try {
    if (job.attemptsStarted > 1) {
      // A previous run died: whatever it claimed may have been sent.
      const marked = await markFollowUpUnknown(followUpId, job.id, instanceId, 'the worker sending this follow-up stopped mid-send');
      return marked ? 'crashed-claim-marked-unknown' : 'rerun-nothing-claimed';
    }
    const [instance, due] = await Promise.all([
      sendInstance(tenantId, instanceId),
      prisma.followUp.findFirst({ where: { id: followUpId, tenantId }, select: { campaignId: true, recipient: { select: { timezone: true, phone: true } } } }),
    ]);
    const campaign = due ? await sendCampaign(tenantId, due.campaignId) : null;
    if (!instance || !due || !campaign) return 'gone';
    if (!isOpen(campaign.window, clock.now(), zoneOr(due.recipient.timezone, campaign.timezone))) return 'window-closed';
    if (!(await deps.limiter.confirm(tenantId, instanceId, slot, effectiveLimits(instance.limits, clock.now()), clock.ms()))) return 'rate-wait';

    const hold: PhoneHold = { tenantId, phone: due.recipient.phone, holder: followUpId };
    if (!(await takePhones(deps.redis, [hold], deps.phoneLockMs + GATE_MAX_WAIT_MS + campaign.typingDelayMs))[0]) return 'phone-busy';
    try {
      if (await cancelOutsideServiceWindow(followUpId, instanceId, slot)) return 'outside-service-window';
      const claimed = await claimFollowUp(followUpId, instanceId, job.id, slot);
      if (!claimed) return 'not-claimed';
      const text = renderTemplate(
        claimed.text,
        {
          name: claimed.name,
          phone: claimed.phone,
          referredBy: claimed.referred_by,
          customFields: claimed.custom_fields ?? {},
          timezone: zoneOr(claimed.contact_zone, campaign.timezone),
        },
        clock.now(),
      );
      const { endpoint, body } = requestFor(claimed, text, null, campaign.typingDelayMs);
      // The same pace gate as the campaign's sends on this instance; a paused or cancelled campaign
      // stops its follow-ups here too.
      const gate = await waitAtGate(deps.redis, tenantId, instanceId, campaign.id, paceFor(instance, campaign, clock.now()), 1, config.evolutionTimeoutMs + campaign.typingDelayMs).catch(async (err) => {
        await unclaimFollowUp(followUpId, job.id).catch(() => undefined);
        throw err;
      });
      if (gate.kind !== 'granted') {
        await unclaimFollowUp(followUpId, job.id);
        return gate.kind === 'stopped' ? 'stopped' : 'pace-timeout';
      }
      sending = true;
      const outcome = await (endpoint === 'sendText' ? instance.client.sendText(instance.name, body as SendTextBody) : instance.client.sendMedia(instance.name, body as SendMediaBody)).finally(() =>
        passedGate(deps.redis, gate.ticket).catch(() => undefined),
      );
      sendsTotal.inc({ source: 'follow_up', outcome: outcome.kind, integration: instance.integration });
      // Throttled: the instance waits (no claim until then), the follow-up is tried again later.
      if (outcome.kind === 'throttled') await markThrottled(instanceId, outcome.retryAfterMs);
      // Not connected: the instance is paused until it connects again, the follow-up waits (not failed).
      if (outcome.kind === 'disconnected') {
        const r = await markDisconnected({
          tenantId,
          instanceId,
          state: outcome.state ? (CONNECTION_STATE[outcome.state] ?? null) : null,
          reason: `not connected (${outcome.httpStatus}): ${outcome.message}`,
          actor: 'worker',
        });
        for (const c of r.campaigns) await deps.requestPump(tenantId, c);
      }
      await recordFollowUp(tenantId, instanceId, instance.name, job.id, claimed, text, requestSummary(endpoint, body), outcome);
      return outcome.kind;
    } finally {
      await giveBackPhones(deps.redis, [hold]).catch(() => undefined);
    }
  } finally {
    if (!sending) {
      await deps.limiter.release(tenantId, instanceId, slot, day).catch(() => undefined);
      // Not sent: schedulable again by a later pass.
      await prisma.$executeRaw`
        UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL
        WHERE id = ${followUpId}::uuid AND status = 'SCHEDULED' AND claim_token = ${slot}`;
    }
  }
}

/**
 * A follow-up is free text: from a WHATSAPP_BUSINESS number Meta refuses it outside the contact's
 * 24-hour service window (the contact wrote nothing to that number in the last 24 hours), so it is
 * cancelled rather than sent to fail. Returns whether it was.
 */
async function cancelOutsideServiceWindow(followUpId: string, instanceId: string, slot: string): Promise<boolean> {
  const n = await prisma.$executeRaw`
    UPDATE follow_up fu SET status = 'CANCELLED', cancelled_at = now(), claim_token = NULL,
      error = 'outside the 24-hour service window of a WhatsApp Business number: a follow-up is free text, which Meta refuses there'
    WHERE fu.id = ${followUpId}::uuid AND fu.status = 'SCHEDULED' AND fu.claim_token = ${slot}
      AND (SELECT integration FROM whatsapp_instance WHERE id = ${instanceId}::uuid) = 'WHATSAPP-BUSINESS'
      AND NOT ${insideServiceWindow(Prisma.sql`fu.contact_id`, instanceId, clock.now())}`;
  return n > 0;
}

/** SENDING → PENDING for a follow-up that was claimed and not called (stopped at the pace gate). */
async function unclaimFollowUp(followUpId: string, token: string) {
  await prisma.$executeRaw`
    UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL
    WHERE id = ${followUpId}::uuid AND status = 'SENDING' AND claim_token = ${token}`;
}

/**
 * SCHEDULED → SENDING, only while the follow-up is pending, its campaign RUNNING or COMPLETED (FOR
 * KEY SHARE: a pause waits for this claim or this claim sees the pause), its contact reachable and
 * its instance able to send.
 */
async function claimFollowUp(followUpId: string, instanceId: string, token: string, slot: string): Promise<ClaimedFollowUp | null> {
  const rows = await prisma.$queryRaw<ClaimedFollowUp[]>`
    WITH f AS (
      SELECT id, campaign_id FROM follow_up WHERE id = ${followUpId}::uuid AND status = 'SCHEDULED' AND claim_token = ${slot} FOR UPDATE
    ), c AS (
      SELECT id FROM campaign WHERE id = (SELECT campaign_id FROM f) AND status IN ('RUNNING', 'COMPLETED') FOR KEY SHARE
    ), i AS (
      SELECT id FROM whatsapp_instance
      WHERE id = ${instanceId}::uuid AND NOT manually_paused AND auto_paused_at IS NULL AND connection_state NOT IN ('CLOSE', 'REFUSED') AND disconnected_since IS NULL
        AND (throttled_until IS NULL OR throttled_until <= now())
    )
    UPDATE follow_up fu
    SET status = 'SENDING', claim_token = ${token}, claimed_at = ${clock.now()}, instance_id = ${instanceId}::uuid
    FROM f, c, i, follow_up_rule fr, recipient r, contact ct
    WHERE fu.id = f.id AND fr.id = fu.rule_id AND r.id = fu.recipient_id AND ct.id = fu.contact_id
      AND NOT ct.opted_out AND NOT ct.blocked AND NOT ct.not_on_whatsapp
      AND (ct.opted_in_at IS NOT NULL OR NOT (SELECT require_opt_in FROM tenant WHERE id = fu.tenant_id))
    RETURNING fu.id, fu.campaign_id, fu.recipient_id, fu.contact_id, fr.step, r.phone, ct.name, ct.custom_fields,
              ct.timezone AS contact_zone, ct.referred_by, fr.text, fr.media_type, fr.media_url, fr.media_mimetype, fr.media_file_name`;
  return rows[0] ?? null;
}

async function recordFollowUp(
  tenantId: string,
  instanceId: string,
  instanceName: string,
  token: string,
  f: ClaimedFollowUp,
  text: string,
  request: ReturnType<typeof requestSummary>,
  outcome: SendOutcome,
) {
  const mine = Prisma.sql`id = ${f.id}::uuid AND status = 'SENDING' AND claim_token = ${token}`;
  const base = {
    tenantId,
    campaignId: f.campaign_id,
    instanceId,
    contactId: f.contact_id,
    recipientId: f.recipient_id,
    durationMs: outcome.durationMs,
    request,
    httpStatus: outcome.httpStatus,
    actor: 'worker',
  };
  await inTransaction(async (tx, after) => {
    switch (outcome.kind) {
      case 'sent': {
        const n = await tx.$executeRaw`
          UPDATE follow_up SET status = 'SENT', provider_message_id = ${outcome.keyId}, sent_at = now(), rendered_text = ${text}, error = NULL,
            claim_token = NULL
          WHERE ${mine}`;
        if (!n) return;
        await applyInstanceDeltas(tx, instanceId, { ...noInstanceDeltas(), sent: 1, succeeded: true });
        await appendLog(tx, after, {
          ...base,
          type: 'FOLLOW_UP_SENT',
          message: `follow-up ${f.step} sent to ${f.phone}`,
          details: { followUpId: f.id, step: f.step },
          response: { keyId: outcome.keyId },
        });
        after.publish('instance:health', { tenantId, instanceId });
        return;
      }
      case 'unavailable':
      case 'throttled':
      case 'disconnected':
        // Certainly not sent: a later pass tries again.
        await tx.$executeRaw`
          UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL, error = ${`not sent: ${outcome.message}`},
            due_at = ${new Date(clock.ms() + RETRY_LATER_MS)}
          WHERE ${mine}`;
        return;
      case 'unauthorized':
      case 'instance_not_found': {
        await tx.$executeRaw`UPDATE follow_up SET status = 'PENDING', claim_token = NULL, claimed_at = NULL WHERE ${mine}`;
        const reason = outcome.kind === 'unauthorized' ? 'Evolution refused the API key (401): check the server key' : `Evolution does not know instance "${instanceName}" (404)`;
        const paused = await tx.$executeRaw`
          UPDATE whatsapp_instance SET manually_paused = true, paused_reason = ${reason}, paused_at = now(), updated_at = now()
          WHERE id = ${instanceId}::uuid AND NOT manually_paused`;
        if (paused) {
          await appendLog(tx, after, { ...base, type: 'INSTANCE_PAUSED', severity: 'ERROR', message: `instance ${instanceName} paused: ${reason}` });
          after.publish('instance:health', { tenantId, instanceId });
        }
        return;
      }
      case 'not_on_whatsapp':
      case 'rejected': {
        const n = await tx.$executeRaw`
          UPDATE follow_up SET status = 'FAILED', error = ${outcome.message}, rendered_text = ${text}, claim_token = NULL WHERE ${mine}`;
        if (!n) return;
        if (outcome.kind === 'not_on_whatsapp') {
          await tx.$executeRaw`UPDATE contact SET not_on_whatsapp = true, updated_at = now() WHERE id = ${f.contact_id}::uuid`;
        }
        await appendLog(tx, after, { ...base, type: 'MESSAGE_FAILED', severity: 'WARNING', message: `follow-up ${f.step} to ${f.phone} failed: ${outcome.message}`, details: { followUpId: f.id, step: f.step } });
        return;
      }
      case 'unknown': {
        const n = await tx.$executeRaw`
          UPDATE follow_up SET status = 'UNKNOWN', error = ${outcome.message}, rendered_text = ${text}, claim_token = NULL, ${UNKNOWN_RECONCILE(outcome.message)}
          WHERE ${mine}`;
        if (!n) return;
        await appendLog(tx, after, {
          ...base,
          type: 'OUTCOME_UNKNOWN',
          severity: 'ERROR',
          message: `follow-up ${f.step} to ${f.phone} may or may not have reached WhatsApp (${outcome.message}); it is not sent again, but checked against Evolution's message store`,
          details: { followUpId: f.id, step: f.step },
        });
        return;
      }
    }
  });
}

/** A follow-up claimed by `token` whose send may have happened: UNKNOWN, never sent again. */
async function markFollowUpUnknown(id: string, token: string, instanceId: string | null, reason: string): Promise<boolean> {
  return inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ tenant_id: string; campaign_id: string; recipient_id: string; contact_id: string; instance_id: string | null }>>`
      UPDATE follow_up SET status = 'UNKNOWN', error = ${reason}, claim_token = NULL, ${UNKNOWN_RECONCILE(reason)}
      WHERE id = ${id}::uuid AND status = 'SENDING' AND claim_token = ${token}
      RETURNING tenant_id, campaign_id, recipient_id, contact_id, instance_id`;
    const r = rows[0];
    if (!r) return false;
    await appendLog(tx, after, {
      tenantId: r.tenant_id,
      campaignId: r.campaign_id,
      recipientId: r.recipient_id,
      contactId: r.contact_id,
      instanceId: instanceId ?? r.instance_id,
      type: 'OUTCOME_UNKNOWN',
      severity: 'ERROR',
      message: `${reason}; the follow-up's outcome is unknown: not sent again, but checked against Evolution's message store`,
      details: { followUpId: id },
      actor: 'worker',
    });
    return true;
  });
}

/** The pass the scheduler runs: create what fell due, then schedule it. */
export async function runFollowUps(deps: FollowUpDeps, now: Date = clock.now()) {
  const created = await createDueFollowUps(now);
  const { scheduled, waiting } = await pumpFollowUps(deps, now);
  return { created, scheduled, waiting };
}
