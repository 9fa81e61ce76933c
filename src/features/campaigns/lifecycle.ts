import type { DbOrTx, Tx } from '../../infra/db/client.js';
import { prisma } from '../../infra/db/client.js';
import { type AfterCommit, inTransaction } from '../../infra/db/transaction.js';
import { allowedFrom, type CampaignAction, type CampaignStatus, nextStatus } from '../../domain/campaign-state.js';
import { usableForStart } from '../../domain/instances.js';
import { nextOccurrence } from '../../domain/recurrence.js';
import { CampaignNotReadyError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { clock } from '../../infra/lib/clock.js';
import { Prisma } from '../../generated/prisma/client.js';
import { config } from '../../infra/config/index.js';
import { enqueue } from '../../infra/queues/index.js';
import { requestCampaignPump } from '../../infra/queues/pump.js';
import { jobId } from '../../infra/queues/definitions.js';
import { parseStoredRules } from '../../domain/segment-rules.js';
import { freezeAudience, skipWaiting } from '../recipients/audience.js';
import { type Audience, audienceSql } from './audience.js';
import { appendLog } from './logs.js';
import { COPY_INCLUDE, campaignCopy } from './service.js';
import { bumpCampaign } from './progress.js';
import { stopSends } from '../dispatch/pace.js';
import { publisherConnection } from '../../infra/realtime/pubsub.js';

interface LockedCampaign {
  id: string;
  tenant_id: string;
  status: CampaignStatus;
  audience_type: 'ALL' | 'SEGMENT' | 'RULES' | 'CONTACTS';
  audience_rules: unknown;
  audience_contact_ids: string[];
  audience_segment_id: string | null;
}

/**
 * Locks the campaign row (FOR UPDATE) and checks that `action` is allowed from its status.
 *
 * FOR UPDATE also conflicts with the FOR KEY SHARE lock that a send's claim takes on the campaign
 * row: a status change waits for claims in progress, and a claim that comes after sees the new
 * status. That is what makes "once pause returns, no further send starts" hold.
 */
export async function lockForTransition(tx: Tx, tenantId: string, campaignId: string, action: CampaignAction) {
  const rows = await tx.$queryRaw<LockedCampaign[]>`
    SELECT id, tenant_id, status, audience_type, audience_rules, audience_contact_ids, audience_segment_id
    FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
  const campaign = rows[0];
  if (!campaign) throw new NotFoundError('Campaign', campaignId);
  const to = nextStatus(campaign.status, action);
  if (!to) throw new InvalidTransitionError('campaign', campaign.status, action, allowedFrom(action));
  return { campaign, to };
}

/** The audience a campaign stores, as SQL-ready rules (a segment is read now). */
export async function storedAudience(tx: DbOrTx, c: Pick<LockedCampaign, 'tenant_id' | 'audience_type' | 'audience_rules' | 'audience_contact_ids' | 'audience_segment_id'>): Promise<Audience> {
  switch (c.audience_type) {
    case 'ALL':
      return { type: 'ALL' };
    case 'CONTACTS':
      return { type: 'CONTACTS', contactIds: c.audience_contact_ids };
    case 'RULES':
      return { type: 'RULES', rules: parseStoredRules(c.audience_rules) };
    case 'SEGMENT': {
      const segment = c.audience_segment_id
        ? await tx.segment.findFirst({ where: { id: c.audience_segment_id, tenantId: c.tenant_id }, select: { rules: true } })
        : null;
      // A deleted segment targets nobody (the start then refuses an empty audience).
      return segment ? { type: 'RULES', rules: parseStoredRules(segment.rules) } : { type: 'CONTACTS', contactIds: [] };
    }
  }
}

export function schedulePump(after: AfterCommit, tenantId: string, campaignId: string) {
  after.defer(() => requestCampaignPump(tenantId, campaignId));
}

/**
 * Starts a campaign: freezes its audience into recipients with one INSERT … SELECT (no per-row loop),
 * with the time zone its window is evaluated in, deals the variations (in rotation, or the A/B split:
 * see domain/ab-split.ts, whose hold-out waits as PENDING without a variation), creates the next
 * occurrence of a recurring campaign, and hands pacing to the workers.
 */
export async function startCampaign(tenantId: string, campaignId: string, actor: string) {
  return inTransaction(
    async (tx, after) => {
      const { campaign } = await lockForTransition(tx, tenantId, campaignId, 'start');
      const settings = await tx.campaign.findUniqueOrThrow({
        where: { id: campaignId },
        select: { timezoneMode: true, abEnabled: true, abTestShare: true, recurrence: true, tenant: { select: { timezone: true } } },
      });
      const messages = await tx.campaignMessage.findMany({
        where: { campaignId, tenantId },
        orderBy: [{ order: 'asc' }, { createdAt: 'asc' }],
        select: { id: true, abVariant: true, abWeight: true },
      });
      if (messages.length === 0) throw new CampaignNotReadyError('NO_VARIATION', 'the campaign has no message variation');

      const links = await tx.campaignInstance.findMany({
        where: { campaignId, tenantId },
        select: { instance: { select: { id: true, manuallyPaused: true, autoPausedAt: true, connectionState: true, disconnectedSince: true } } },
      });
      if (!links.some((l) => usableForStart(l.instance))) {
        throw new CampaignNotReadyError(
          'NO_USABLE_INSTANCE',
          links.length === 0
            ? 'the campaign has no sender instance'
            : 'none of the campaign instances can send (all paused or disconnected)',
        );
      }

      const audience = await storedAudience(tx, campaign);
      const ab = settings.abEnabled && messages.length > 1;
      const messageIds = messages.map((m) => m.id);
      const { frozen, heldOut } = await freezeAudience(tx, {
        tenantId,
        campaignId,
        audience: audienceSql(audience),
        messages,
        contactZones: settings.timezoneMode === 'CONTACT',
        tenantZone: settings.tenant.timezone,
        abTestShare: ab ? settings.abTestShare : null,
      });
      if (frozen === 0) throw new CampaignNotReadyError('EMPTY_AUDIENCE', 'the audience has no contact that can receive messages');
      const held = { n: heldOut };

      const progress = await bumpCampaign(tx, after, campaignId, { targeted: frozen, remaining: frozen }, [
        Prisma.sql`status = 'RUNNING'`,
        Prisma.sql`started_at = now()`,
        // Against the dispatch clock, like every time the claim compares (src/infra/lib/clock.ts).
        Prisma.sql`expires_at = ${clock.now()}::timestamptz + make_interval(mins => expire_after_minutes)`,
        Prisma.sql`paused_at = NULL`,
        Prisma.sql`pause_reason = NULL`,
        Prisma.sql`resumes_at = NULL`,
        Prisma.sql`rotation_snapshot = NULL`,
        Prisma.sql`consecutive_errors = 0`,
      ]);
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'STARTED',
        message: ab
          ? `campaign started with ${frozen} recipients; A/B test on ${frozen - (held?.n ?? 0)}${held?.n ? `, ${held.n} wait for the winner` : ''}`
          : `campaign started with ${frozen} recipients`,
        details: { recipients: frozen, variations: messageIds.length, audience: audience.type, ...(ab ? { abTest: frozen - (held?.n ?? 0), abHoldOut: held?.n ?? 0 } : {}) },
        progress: progress ? { ...progress } : undefined,
        actor,
      });
      if (settings.recurrence !== 'NONE') await scheduleNextOccurrence(tx, after, tenantId, campaignId);
      schedulePump(after, tenantId, campaignId);
      return frozen;
    },
    { timeout: 120_000 },
  );
}

/**
 * Creates the next occurrence of a recurring campaign (a SCHEDULED copy of its settings, variations,
 * instances and follow-ups) and its delayed start job, unless the series has ended.
 */
async function scheduleNextOccurrence(tx: Tx, after: AfterCommit, tenantId: string, campaignId: string) {
  const source = await tx.campaign.findUniqueOrThrow({
    where: { id: campaignId },
    include: {
      ...COPY_INCLUDE,
      parent: { select: { scheduledAt: true, startedAt: true } },
      tenant: { select: { timezone: true } },
    },
  });
  const rootId = source.parentCampaignId ?? source.id;
  const firstStart = source.parent?.scheduledAt ?? source.parent?.startedAt ?? source.scheduledAt ?? source.startedAt ?? clock.now();
  const next = nextOccurrence(
    { recurrence: source.recurrence, interval: source.recurrenceInterval, endAfter: source.recurrenceEndAfter, endAt: source.recurrenceEndAt },
    firstStart,
    source.occurrence,
    clock.now(),
    source.tenant.timezone,
  );
  if (!next) {
    await appendLog(tx, after, { tenantId, campaignId, type: 'UPDATED', message: 'last occurrence of the series: no next one is scheduled', actor: 'scheduler' });
    return null;
  }
  const copy = await tx.campaign.create({
    data: campaignCopy(source, {
      status: 'SCHEDULED',
      scheduledAt: next.startAt,
      occurrence: source.occurrence + 1,
      parentCampaignId: rootId,
      createdBy: 'scheduler',
    }),
    select: { id: true },
  });
  await appendLog(tx, after, {
    tenantId,
    campaignId: copy.id,
    type: 'SCHEDULED',
    message: `occurrence ${source.occurrence + 1} of a recurring campaign, scheduled for ${next.startAt.toISOString()}`,
    details: { startAt: next.startAt.toISOString(), previousOccurrence: campaignId, series: rootId },
    actor: 'scheduler',
  });
  await appendLog(tx, after, {
    tenantId,
    campaignId,
    type: 'UPDATED',
    message: `next occurrence scheduled for ${next.startAt.toISOString()}`,
    details: { nextCampaignId: copy.id, startAt: next.startAt.toISOString() },
    actor: 'scheduler',
  });
  after.defer(() => enqueueScheduledStart(tenantId, copy.id, next.startAt));
  return copy.id;
}

/** The job that starts a scheduled campaign at `at` (its id makes a second request for it a no-op). */
export function enqueueScheduledStart(tenantId: string, campaignId: string, at: Date) {
  return enqueue(
    'campaigns',
    'campaign:start-scheduled',
    { tenantId, campaignId, scheduledAt: at.toISOString() },
    { jobId: jobId('start', campaignId, at.getTime()), delay: Math.max(0, at.getTime() - clock.ms()) },
  );
}

/** A send of the campaign still with Evolution when pause or cancel returned (see stopAndWait). */
export interface SendInCall {
  recipientId: string;
  phone: string;
  /** Set when the send is a follow-up of the recipient. */
  followUpId: string | null;
}

/**
 * After pause or cancel committed: deletes the campaign's go mark, so that no sender that has not
 * passed the pace gate calls Evolution (it puts its recipient back instead, dispatch/pace.ts), then
 * waits for the campaign's SENDING recipients and follow-ups: the calls already granted, and the
 * senders on their way to the gate. Returns those still SENDING after as long as a call can last
 * (the Evolution timeout, the typing presence, 5 s to record), and those whose call was given up
 * without an answer meanwhile (UNKNOWN: the request may still be acted on): an empty list means no
 * send of the campaign can still reach Evolution.
 */
async function stopAndWait(tenantId: string, campaignId: string): Promise<SendInCall[]> {
  const began = Date.now();
  // Should Redis not answer, a sender cannot pass the gate either; the wait below still covers the
  // calls in flight.
  await stopSends(publisherConnection(), tenantId, campaignId).catch(() => undefined);
  const campaign = await prisma.campaign.findUnique({ where: { id: campaignId }, select: { typingDelayMs: true } });
  const callMs = config.evolutionTimeoutMs + (campaign?.typingDelayMs ?? 0);
  const deadline = Date.now() + callMs + 5000;
  for (;;) {
    const rows = await prisma.$queryRaw<SendInCall[]>`
      SELECT id::text AS "recipientId", phone, NULL AS "followUpId" FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'SENDING'
      UNION ALL
      SELECT f.recipient_id::text, r.phone, f.id::text FROM follow_up f JOIN recipient r ON r.id = f.recipient_id
      WHERE f.campaign_id = ${campaignId}::uuid AND f.status = 'SENDING'`;
    if (rows.length === 0 || Date.now() >= deadline) return [...rows, ...(await abandonedCalls(campaignId, new Date(began - callMs)))];
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sends of the campaign whose call was given up without an answer (UNKNOWN) since `since`: the request
 * was on its way, and a slow Evolution may still act on it after the pause returned (the outcome is
 * then settled by send.message or the reconciler, never by a second send).
 */
async function abandonedCalls(campaignId: string, since: Date): Promise<SendInCall[]> {
  return prisma.$queryRaw<SendInCall[]>`
    SELECT id::text AS "recipientId", phone, NULL AS "followUpId" FROM recipient
    WHERE campaign_id = ${campaignId}::uuid AND status = 'UNKNOWN' AND updated_at >= ${since}
    UNION ALL
    SELECT f.recipient_id::text, r.phone, f.id::text FROM follow_up f JOIN recipient r ON r.id = f.recipient_id
    WHERE f.campaign_id = ${campaignId}::uuid AND f.status = 'UNKNOWN' AND f.claimed_at >= ${since}`;
}

/** The campaign row's assignments for PAUSED, by an operator or automatically. */
function pausedSets(reason: string | null) {
  return [Prisma.sql`status = 'PAUSED'`, Prisma.sql`paused_at = now()`, Prisma.sql`pause_reason = ${reason}`, Prisma.sql`resumes_at = NULL`];
}

/**
 * Pauses a running campaign. Returns once no send of it can still call Evolution, with the sends that
 * were still in a call after as long as one can last (normally none): see stopAndWait.
 */
export async function pauseCampaign(tenantId: string, campaignId: string, actor: string, reason: string | null = null): Promise<SendInCall[]> {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'pause');
    const progress = await bumpCampaign(tx, after, campaignId, {}, pausedSets(reason));
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'PAUSED',
      message: reason ? `campaign paused: ${reason}` : 'campaign paused',
      details: reason ? { reason } : undefined,
      progress: progress ? { ...progress } : undefined,
      actor,
    });
  });
  return stopAndWait(tenantId, campaignId);
}

export async function resumeCampaign(tenantId: string, campaignId: string, actor: string) {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'resume');
    const progress = await bumpCampaign(tx, after, campaignId, {}, [
      Prisma.sql`status = 'RUNNING'`,
      Prisma.sql`paused_at = NULL`,
      Prisma.sql`pause_reason = NULL`,
      Prisma.sql`consecutive_errors = 0`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'RESUMED',
      message: 'campaign resumed',
      progress: progress ? { ...progress } : undefined,
      actor,
    });
    schedulePump(after, tenantId, campaignId);
  });
}

/** Cancels: recipients not yet sent are skipped (set-based), and nothing else is sent (as pauseCampaign returns). */
export async function cancelCampaign(tenantId: string, campaignId: string, actor: string): Promise<SendInCall[]> {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'cancel');
    const skipped = await skipWaiting(tx, campaignId, 'CAMPAIGN_CANCELLED', 'campaign cancelled');
    const progress = await bumpCampaign(tx, after, campaignId, { skipped, remaining: -skipped }, [
      Prisma.sql`status = 'CANCELLED'`,
      Prisma.sql`cancelled_at = now()`,
      Prisma.sql`resumes_at = NULL`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'CANCELLED',
      message: `campaign cancelled; ${skipped} recipients skipped`,
      details: { skipped },
      progress: progress ? { ...progress } : undefined,
      actor,
    });
  });
  return stopAndWait(tenantId, campaignId);
}

/**
 * A RUNNING campaign past its expiry (`expireAfterMinutes` after its start): recipients not yet sent
 * are skipped (EXPIRED) rather than sent late, set-based; sends in flight finish. With `sendableFrom`
 * (when the sending window opens next), the same already before the expiry if that is after it.
 * Returns how many were skipped (0 when the campaign is not running or not expired).
 */
export async function expireCampaign(tenantId: string, campaignId: string, sendableFrom: Date = clock.now()): Promise<number> {
  return inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ expires_at: Date }>>`
      SELECT expires_at FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid AND status = 'RUNNING'
        AND expires_at <= ${sendableFrom} FOR UPDATE`;
    const row = rows[0];
    if (!row) return 0;
    const skipped = await skipWaiting(tx, campaignId, 'EXPIRED', 'the campaign expired before this recipient could be sent');
    if (skipped === 0) return 0;
    const progress = await bumpCampaign(tx, after, campaignId, { skipped, remaining: -skipped });
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'RECIPIENT_SKIPPED',
      severity: 'WARNING',
      message:
        row.expires_at <= clock.now()
          ? `campaign expired at ${row.expires_at.toISOString()}: ${skipped} recipients not yet sent are skipped`
          : `campaign expires at ${row.expires_at.toISOString()}, before its sending window opens again (${sendableFrom.toISOString()}): ${skipped} recipients not yet sent are skipped`,
      details: { reason: 'EXPIRED', skipped, expiresAt: row.expires_at.toISOString() },
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
    return skipped;
  });
}

/**
 * Completes a RUNNING campaign when no recipient is left to send (deliveries may still arrive), and
 * no unknown outcome is still being resolved against Evolution (one proven not sent is sent yet).
 * Safe to call from anywhere at any time: it only acts when the condition holds.
 */
export async function completeIfDone(tenantId: string, campaignId: string): Promise<boolean> {
  return inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid AND status = 'RUNNING'
        AND NOT EXISTS (SELECT 1 FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status IN ('PENDING', 'QUEUED', 'SENDING'))
        AND NOT EXISTS (SELECT 1 FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'UNKNOWN' AND reconcile_at IS NOT NULL)
      FOR UPDATE`;
    if (rows.length === 0) return false;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [
      Prisma.sql`status = 'COMPLETED'`,
      Prisma.sql`completed_at = now()`,
      Prisma.sql`resumes_at = NULL`,
    ]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'COMPLETED',
      message: progress
        ? `campaign completed: ${progress.sent} sent, ${progress.delivered} delivered, ${progress.read} read, ${progress.failed} failed, ${progress.skipped} skipped, ${progress.unknown} unknown`
        : 'campaign completed',
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
    return true;
  });
}

/** Pauses a campaign on the system's behalf (no usable instance, error threshold); no-op unless RUNNING. */
export async function autoPauseCampaign(tenantId: string, campaignId: string, reason: string, details: Prisma.InputJsonValue = {}) {
  const paused = await inTransaction(async (tx, after) => {
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid AND status = 'RUNNING' FOR UPDATE`;
    if (rows.length === 0) return false;
    const progress = await bumpCampaign(tx, after, campaignId, {}, pausedSets(reason));
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'PAUSED',
      severity: 'WARNING',
      message: `campaign paused automatically: ${reason}`,
      details,
      progress: progress ? { ...progress } : undefined,
      actor: 'system',
    });
    return true;
  });
  // The campaign's other senders stop at the pace gate (not waited for: this runs inside a send).
  if (paused) await stopSends(publisherConnection(), tenantId, campaignId).catch(() => undefined);
  return paused;
}

/**
 * DRAFT → SCHEDULED: the start is a delayed BullMQ job (it survives restarts; no process-local timer).
 * The job carries the planned time, so a rescheduled campaign ignores its older job.
 */
export async function scheduleCampaign(tenantId: string, campaignId: string, actor: string, startAt: Date | null) {
  return inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'schedule');
    const current = await tx.campaign.findUniqueOrThrow({ where: { id: campaignId }, select: { scheduledAt: true } });
    const at = startAt ?? current.scheduledAt;
    if (!at) throw ValidationError.field(['startAt'], 'give the start time (or set schedule.startAt on the campaign)');
    if (at.getTime() < clock.ms() - 1000) throw ValidationError.field(['startAt'], 'the start time is in the past');
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`status = 'SCHEDULED'`, Prisma.sql`scheduled_at = ${at}`]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'SCHEDULED',
      message: `campaign scheduled for ${at.toISOString()}`,
      details: { startAt: at.toISOString() },
      progress: progress ? { ...progress } : undefined,
      actor,
    });
    after.defer(() => enqueueScheduledStart(tenantId, campaignId, at));
    return at;
  });
}

export async function unscheduleCampaign(tenantId: string, campaignId: string, actor: string) {
  await inTransaction(async (tx, after) => {
    await lockForTransition(tx, tenantId, campaignId, 'unschedule');
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`status = 'DRAFT'`]);
    await appendLog(tx, after, { tenantId, campaignId, type: 'UPDATED', message: 'schedule cancelled; back to draft', progress: progress ? { ...progress } : undefined, actor });
  });
}

/** The scheduled start, run by the worker: only if still SCHEDULED for that very time. */
export async function startScheduled(tenantId: string, campaignId: string, scheduledAt: string): Promise<string> {
  const row = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: { status: true, scheduledAt: true } });
  if (!row || row.status !== 'SCHEDULED' || row.scheduledAt?.toISOString() !== scheduledAt) return 'stale schedule';
  try {
    await startCampaign(tenantId, campaignId, 'scheduler');
    return 'started';
  } catch (err) {
    if (!(err instanceof CampaignNotReadyError)) throw err;
    await inTransaction(async (tx, after) => {
      const still = await tx.$queryRaw<Array<{ id: string; recurrence: string }>>`
        SELECT id, recurrence::text FROM campaign WHERE id = ${campaignId}::uuid AND status = 'SCHEDULED' FOR UPDATE`;
      if (!still.length) return;
      const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`status = 'DRAFT'`, Prisma.sql`pause_reason = ${err.message}`]);
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'ERROR',
        severity: 'ERROR',
        message: `scheduled start failed: ${err.message}; the campaign is back in draft`,
        details: { reason: err.reason },
        progress: progress ? { ...progress } : undefined,
        actor: 'scheduler',
      });
      // One occurrence that could not start does not end the series.
      if (still[0]?.recurrence !== 'NONE') await scheduleNextOccurrence(tx, after, tenantId, campaignId);
    });
    return `not started: ${err.reason}`;
  }
}
