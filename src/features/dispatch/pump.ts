import type { Queue } from 'bullmq';
import { autoPauseCampaign, completeIfDone, expireCampaign } from '../campaigns/lifecycle.js';
import { sqlExecute, sqlRows } from '../../infra/db/sql.js';
import { effectiveLimits, unusableReason, waitsForReconnect } from '../../domain/instances.js';
import { campaignCaps, campaignLimits, countPicks, MAX_PRIORITY, nextPumpDelayMs, sendsToSchedule, shortfallShare } from '../../domain/pacing.js';
import { planRotation, type RotationMode } from '../../domain/rotation.js';
import { nextOpening, zoneOr } from '../../domain/window.js';
import { Prisma } from '../../generated/prisma/client.js';
import { inOpenZones } from '../recipients/claim.js';
import { clock } from '../../infra/lib/clock.js';
import { randomToken } from '../../infra/lib/crypto.js';
import { localDay } from '../../infra/lib/local-time.js';
import { jobId } from '../../infra/queues/definitions.js';
import { redisKey } from '../../infra/redis.js';
import { noteCampaignDailyCap, noteDailyLimits, noteRotation, type PumpInstance, reconnectWaitEnded, reconnectWaitStarted, windowClosed, windowOpened } from './pump-notes.js';
import { batchSlots, type ReservedSlot } from './batches.js';
import { openZones, type SendCampaign, sendCampaign } from './context.js';
import { type DispatchDeps, outstandingKey, tenantOutstandingKey } from './send.js';

/** How far ahead slots are reserved and send jobs scheduled. */
export const HORIZON_MS = 5000;
/**
 * A scheduled send this long past its slot is considered lost (its job went with a Redis restart or its
 * worker died) and no longer counted against the lookahead. Send jobs run within moments of their slot;
 * counting lost ones for 120 s held a campaign's last recipients that long after a Redis restart with
 * AOF. Counting a slow job as lost only lets the pump schedule ahead again, within the limiter's slots.
 */
const OUTSTANDING_STALE_MS = 30_000;
/** A waiting campaign (window closed, retries pending) is pumped at least this often anyway. */
const MAX_IDLE_WAIT_MS = 60_000;
/** Only the A/B hold-out is left: its release pumps the campaign, this is a safety net. */
const HOLD_OUT_WAIT_MS = 30_000;

/** The pump lease: a pump normally takes milliseconds; a crashed one blocks its campaign this long at most. */
const PUMP_LEASE_MS = 15_000;

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface PumpDeps extends DispatchDeps {
  sendQueue: Queue;
  /** At most this many slots of one instance due at the same instant go into one send job. */
  slotsPerJob: number;
}

export type PumpResult =
  | 'busy'
  | 'not-running'
  | 'completed'
  | 'waiting'
  | 'window-closed'
  | 'no-usable-instance'
  | 'waiting-for-reconnect'
  | 'limits-reached'
  | { scheduled: number };

/**
 * Keeps a running campaign fed: reserves rate-limit slots on its usable instances (in the order the
 * rotation mode gives) and schedules one send job per slot, at most `lookahead` ahead of the
 * workers and within the tenant's fair share. Only recipients whose sending window is open count;
 * when none is, the campaign records when it resumes and waits. One pump per campaign at a time (a
 * Redis lease); every pump schedules the next one.
 */
export async function pumpCampaign(deps: PumpDeps, tenantId: string, campaignId: string): Promise<PumpResult> {
  const lockKey = redisKey('pump-lock', campaignId);
  const againKey = redisKey('pump-again', campaignId);
  const token = randomToken(9);
  if (!(await deps.redis.set(lockKey, token, 'PX', PUMP_LEASE_MS, 'NX'))) {
    // Another pump runs: it pumps once more when done, so this request is not lost.
    await deps.redis.set(againKey, '1', 'PX', PUMP_LEASE_MS);
    return 'busy';
  }
  let result: PumpResult | null = null;
  try {
    result = await pumpLocked(deps, tenantId, campaignId);
    return result;
  } finally {
    await deps.redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
    const again = await deps.redis.getdel(againKey).catch(() => null);
    if (again && typeof result === 'object' && result !== null) await deps.requestPump(tenantId, campaignId).catch(() => undefined);
  }
}


/** The campaign's pacing settings, one row per instance of it (instance columns NULL when it has none). */
type PumpRow = {
  status: string;
  rotationMode: string;
  rotationCursor: number;
  rotationSnapshot: unknown;
  resumesAt: Date | null;
  expiresAt: Date | null;
  campaignMinDelayMs: number | null;
  campaignMaxDelayMs: number | null;
  priority: number;
  campaignPerMinute: number | null;
  campaignPerHour: number | null;
  campaignPerDay: number | null;
  campaignTypingDelayMs: number;
  reconnectWaitSince: Date | null;
} & (PumpInstance | { [K in keyof PumpInstance]: null });

/**
 * What a pump reads of the campaign and its instances, in one statement on pg (src/infra/db/sql.ts): pumps
 * run for every few hundred sends of a busy campaign and every 10 s for each running one, and the same
 * read through Prisma cost about a millisecond of CPU per statement.
 */
async function loadForPump(tenantId: string, campaignId: string) {
  const rows = await sqlRows<PumpRow>(Prisma.sql`
    SELECT c.status::text AS status, c.rotation_mode::text AS "rotationMode", c.rotation_cursor AS "rotationCursor",
      c.rotation_snapshot AS "rotationSnapshot", c.resumes_at AS "resumesAt", c.expires_at AS "expiresAt", c.min_delay_ms AS "campaignMinDelayMs",
      c.max_delay_ms AS "campaignMaxDelayMs", c.priority, c.limit_per_minute AS "campaignPerMinute", c.limit_per_hour AS "campaignPerHour",
      c.limit_per_day AS "campaignPerDay", c.typing_delay_ms AS "campaignTypingDelayMs", c.reconnect_wait_since AS "reconnectWaitSince",
      i.throttled_until AS "throttledUntil", i.disconnected_since AS "disconnectedSince",
      i.id, i.name, i.manually_paused AS "manuallyPaused", i.paused_reason AS "pausedReason", i.auto_paused_at AS "autoPausedAt",
      i.connection_state::text AS "connectionState", i.health_score AS "healthScore", i.sent_today AS "sentToday",
      i.delivered_today AS "deliveredToday", i.limit_per_minute AS "limitPerMinute", i.limit_per_hour AS "limitPerHour",
      i.limit_per_day AS "limitPerDay", i.min_delay_ms AS "minDelayMs", i.max_delay_ms AS "maxDelayMs",
      i.warmup_enabled AS "warmupEnabled", i.warmup_start_per_day AS "warmupStartPerDay",
      i.warmup_increment_per_day AS "warmupIncrementPerDay", i.warmup_started_at AS "warmupStartedAt", i.readmitted_at AS "readmittedAt"
    FROM campaign c
    LEFT JOIN campaign_instance ci ON ci.campaign_id = c.id
    LEFT JOIN whatsapp_instance i ON i.id = ci.instance_id
    WHERE c.id = ${campaignId}::uuid AND c.tenant_id = ${tenantId}::uuid
    ORDER BY i.id`);
  const first = rows[0];
  if (!first) return null;
  const instances = rows.flatMap((r): PumpInstance[] => (r.id === null ? [] : [r as PumpInstance]));
  return {
    status: first.status,
    rotationMode: first.rotationMode,
    rotationCursor: first.rotationCursor,
    rotationSnapshot: first.rotationSnapshot,
    resumesAt: first.resumesAt,
    expiresAt: first.expiresAt,
    minDelayMs: first.campaignMinDelayMs,
    maxDelayMs: first.campaignMaxDelayMs,
    priority: first.priority,
    caps: campaignCaps({ id: campaignId, limitPerMinute: first.campaignPerMinute, limitPerHour: first.campaignPerHour, limitPerDay: first.campaignPerDay }),
    typingDelayMs: first.campaignTypingDelayMs,
    reconnectWaitSince: first.reconnectWaitSince,
    instances,
  };
}

async function pumpLocked(deps: PumpDeps, tenantId: string, campaignId: string): Promise<PumpResult> {
  const now = clock.now();
  const nowMs = now.getTime();
  const campaign = await loadForPump(tenantId, campaignId);
  if (!campaign || campaign.status !== 'RUNNING') return 'not-running';
  if (campaign.expiresAt && campaign.expiresAt.getTime() <= nowMs) {
    await expireCampaign(tenantId, campaignId);
    if (await completeIfDone(tenantId, campaignId)) return 'completed';
    await deps.requestPump(tenantId, campaignId, 1000);
    return 'waiting';
  }
  const ctx = await sendCampaign(tenantId, campaignId);
  if (!ctx) return 'not-running';
  const open = await openZones(ctx, now);
  const zones = inOpenZones(open, ctx.timezone);

  const [ready] = await sqlRows<{ n: number }>(Prisma.sql`
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM recipient r
      WHERE r.campaign_id = ${campaignId}::uuid AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= ${now}) AND ${zones}
      LIMIT ${deps.lookahead * 2}
    ) q`);
  const readyCount = ready?.n ?? 0;
  if (readyCount === 0) return idle(deps, ctx, zones, campaign.resumesAt, campaign.expiresAt, now);
  if (campaign.resumesAt) await windowOpened(tenantId, campaignId);

  // Fair share: a tenant's campaigns together keep at most `tenantLookahead` sends queued, split
  // between its running campaigns, so that nobody's large campaign fills the queue ahead of others.
  const outKey = outstandingKey(tenantId, campaignId);
  const tenantKey = tenantOutstandingKey(tenantId);
  const [, outstandingRaw, , tenantOutstandingRaw] =
    (await deps.redis
      .multi()
      .zremrangebyscore(outKey, '-inf', nowMs - OUTSTANDING_STALE_MS)
      .zcard(outKey)
      .zremrangebyscore(tenantKey, '-inf', nowMs - OUTSTANDING_STALE_MS)
      .zcard(tenantKey)
      .exec()) ?? [];
  const outstanding = Number(outstandingRaw?.[1] ?? 0);
  const tenantOutstanding = Number(tenantOutstandingRaw?.[1] ?? 0);
  const [running] = await sqlRows<{ n: number }>(Prisma.sql`
    SELECT count(*)::int AS n FROM campaign WHERE tenant_id = ${tenantId}::uuid AND status = 'RUNNING'`);
  const demand = sendsToSchedule({
    ready: readyCount,
    outstanding,
    tenantOutstanding,
    lookahead: deps.lookahead,
    tenantLookahead: deps.tenantLookahead,
    runningCampaigns: running?.n ?? 1,
  });
  if (demand <= 0) {
    await deps.requestPump(tenantId, campaignId, HORIZON_MS / 2);
    return { scheduled: 0 };
  }

  const all = campaign.instances;
  const usable = all.filter((i) => unusableReason(i) === null);
  if (usable.length === 0) {
    const down = all.filter(waitsForReconnect);
    if (down.length > 0) {
      // Its numbers are disconnected: it waits for one to reconnect (an `open` pumps it), visibly.
      await reconnectWaitStarted(tenantId, campaignId, down);
      await deps.requestPump(tenantId, campaignId, MAX_IDLE_WAIT_MS);
      return 'waiting-for-reconnect';
    }
    await autoPauseCampaign(tenantId, campaignId, 'no instance of the campaign can send', {
      instances: all.map((i) => ({ id: i.id, name: i.name, reason: unusableReason(i) })),
    });
    return 'no-usable-instance';
  }
  if (campaign.reconnectWaitSince) await reconnectWaitEnded(tenantId, campaignId, usable);
  await noteRotation(tenantId, campaignId, campaign.rotationMode as RotationMode, campaign.rotationSnapshot, all, usable);

  // Not now: instances deferred after a throttled send, and those a higher-priority campaign of the
  // tenant is using (it has recipients ready). Neither is a change of the rotation's instances.
  const deferred = usable.filter((i) => i.throttledUntil !== null && i.throttledUntil.getTime() > nowMs);
  const notDeferred = usable.filter((i) => !deferred.includes(i));
  const yielded = (running?.n ?? 1) > 1 ? await instancesTakenByHigherPriority(tenantId, campaignId, campaign.priority, notDeferred.map((i) => i.id)) : new Set<string>();
  const sendable = notDeferred.filter((i) => !yielded.has(i.id));
  if (sendable.length === 0) {
    const until = Math.min(...deferred.map((i) => i.throttledUntil?.getTime() ?? nowMs));
    // Given way: look again soon (the other campaign may run out of ready recipients any moment).
    await deps.requestPump(tenantId, campaignId, yielded.size > 0 ? PRIORITY_RECHECK_MS : Math.max(100, until - nowMs));
    return 'waiting';
  }

  const day = localDay(now, ctx.timezone);
  const { picks, cursor } = planRotation(campaign.rotationMode as RotationMode, sendable, demand, campaign.rotationCursor);
  const wanted = countPicks(picks);

  const jobs: ReservedSlot[] = [];
  let earliestNext = Number.POSITIVE_INFINITY;
  let shortfall = 0;
  const withRoom: string[] = [];
  const dayLimited: Array<{ id: string; name: string; perDay: number }> = [];
  const byId = new Map(sendable.map((i) => [i.id, i]));
  let campaignDayUsed = false;
  const limitsOf = (id: string) => {
    const i = byId.get(id);
    if (!i) throw new Error(`instance ${id} vanished`);
    return campaignLimits(effectiveLimits(i, now), campaign);
  };
  const reserve = async (instanceId: string, count: number) => {
    const limits = limitsOf(instanceId);
    if (campaignDayUsed) return { slots: [], stoppedBy: 'campaign-day' as const, nextAt: null };
    const r = await deps.limiter.reserve(tenantId, instanceId, limits, count, { now: nowMs, horizonMs: HORIZON_MS, localDay: day }, campaign.caps);
    if (r.stoppedBy === 'campaign-day') campaignDayUsed = true;
    for (const s of r.slots) jobs.push({ instanceId, slot: s.id, at: s.at });
    if (r.stoppedBy === 'horizon' && r.nextAt !== null) earliestNext = Math.min(earliestNext, r.nextAt);
    if (r.stoppedBy === 'day') dayLimited.push({ id: instanceId, name: byId.get(instanceId)?.name ?? instanceId, perDay: limits.perDay });
    return r;
  };
  for (const [instanceId, count] of wanted) {
    const r = await reserve(instanceId, count);
    shortfall += count - r.slots.length;
    if (r.stoppedBy === 'none') withRoom.push(instanceId);
  }
  // An instance that hit its limits hands its share to those that still have room.
  for (let k = 0; shortfall > 0 && k < withRoom.length; k++) {
    const instanceId = withRoom[k] as string;
    const r = await reserve(instanceId, shortfallShare(shortfall, k, withRoom.length));
    shortfall -= r.slots.length;
  }

  if (cursor !== campaign.rotationCursor) {
    await sqlExecute(Prisma.sql`UPDATE campaign SET rotation_cursor = ${cursor} WHERE id = ${campaignId}::uuid`);
  }

  if (jobs.length > 0) {
    jobs.sort((a, b) => a.at - b.at);
    const members = jobs.flatMap((j) => [j.at, j.slot]);
    await deps.redis
      .multi()
      .zadd(outKey, ...members)
      .pexpire(outKey, OUTSTANDING_STALE_MS * 2)
      .zadd(tenantKey, ...members)
      .pexpire(tenantKey, OUTSTANDING_STALE_MS * 2)
      .exec();
    await deps.sendQueue.addBulk(
      batchSlots(jobs, deps.slotsPerJob).map((b) => ({
        name: 'dispatch:send',
        data: { tenantId, campaignId, instanceId: b.instanceId, slots: b.slots, slotAt: b.at, day },
        opts: { jobId: jobId('send', b.slots[0] as string), delay: Math.max(0, b.at - nowMs) },
      })),
    );
  }
  if (dayLimited.length > 0) await noteDailyLimits(deps, tenantId, campaignId, day, dayLimited, dayLimited.length >= sendable.length);
  if (campaignDayUsed && campaign.caps?.perDay != null) await noteCampaignDailyCap(deps, tenantId, campaignId, day, campaign.caps.perDay);

  if (jobs.length === 0 && !Number.isFinite(earliestNext)) {
    // Every usable instance (or the campaign) used up its day: wait for the next local day.
    await deps.requestPump(tenantId, campaignId, MAX_IDLE_WAIT_MS);
    return 'limits-reached';
  }
  await deps.requestPump(tenantId, campaignId, nextPumpDelayMs(Number.isFinite(earliestNext) ? earliestNext : null, nowMs, HORIZON_MS));
  return { scheduled: jobs.length };
}

/** A campaign that gave way to a higher-priority one looks again this often. */
const PRIORITY_RECHECK_MS = 1000;

/**
 * Of `instanceIds`, those a higher-priority RUNNING campaign of the tenant also uses while it has
 * recipients ready to send (queued, due, and its window open: no `resumes_at`). Campaigns sharing an
 * instance fill its slots highest priority first; instances belong to one tenant, so this never
 * moves sends between tenants (their fair share is sendsToSchedule's).
 */
async function instancesTakenByHigherPriority(tenantId: string, campaignId: string, priority: number, instanceIds: string[]): Promise<Set<string>> {
  if (instanceIds.length === 0 || priority >= MAX_PRIORITY) return new Set();
  const rows = await sqlRows<{ id: string }>(Prisma.sql`
    SELECT DISTINCT ci.instance_id AS id FROM campaign_instance ci JOIN campaign c ON c.id = ci.campaign_id
    WHERE ci.instance_id = ANY(${instanceIds}::uuid[]) AND c.tenant_id = ${tenantId}::uuid AND c.id <> ${campaignId}::uuid
      AND c.status = 'RUNNING' AND c.priority > ${priority} AND c.resumes_at IS NULL
      AND EXISTS (SELECT 1 FROM recipient r WHERE r.campaign_id = c.id AND r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= now()))`);
  return new Set(rows.map((r) => r.id));
}

/**
 * Nothing can be sent right now. Either the campaign is done, or its queued recipients wait for a
 * retry time, or every one of them is outside its sending window (the campaign then shows when it
 * resumes), or only sends in flight and the A/B hold-out are left.
 */
async function idle(deps: PumpDeps, ctx: SendCampaign, zones: Prisma.Sql, resumesAt: Date | null, expiresAt: Date | null, now: Date): Promise<PumpResult> {
  const { tenantId, id: campaignId } = ctx;
  if (await completeIfDone(tenantId, campaignId)) return 'completed';
  const [left] = await sqlRows<{ queued_open: number; next_retry: Date | null; queued: number; sending: number }>(Prisma.sql`
    SELECT count(*) FILTER (WHERE r.status = 'QUEUED' AND ${zones})::int AS queued_open,
           min(r.not_before) FILTER (WHERE r.status = 'QUEUED' AND ${zones}) AS next_retry,
           count(*) FILTER (WHERE r.status = 'QUEUED')::int AS queued,
           count(*) FILTER (WHERE r.status = 'SENDING')::int AS sending
    FROM recipient r WHERE r.campaign_id = ${campaignId}::uuid AND r.status IN ('QUEUED', 'SENDING')`);
  // Waits end at the expiry at the latest, which then skips what is left.
  const untilExpiry = expiresAt ? expiresAt.getTime() - now.getTime() : Number.POSITIVE_INFINITY;
  const waitFor = (ms: number) => deps.requestPump(tenantId, campaignId, Math.min(MAX_IDLE_WAIT_MS, Math.max(200, Math.min(ms, untilExpiry))));

  if ((left?.queued_open ?? 0) > 0) {
    if (resumesAt) await windowOpened(tenantId, campaignId);
    await waitFor(left?.next_retry ? left.next_retry.getTime() - now.getTime() : 1000);
    return 'waiting';
  }
  if ((left?.queued ?? 0) > 0) {
    const waiting = await sqlRows<{ zone: string }>(Prisma.sql`
      SELECT DISTINCT COALESCE(timezone, ${ctx.timezone}) AS zone FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'QUEUED'`);
    let next: Date | null = null;
    for (const { zone } of waiting) {
      const at = nextOpening(ctx.window, now, zoneOr(zone, ctx.timezone));
      if (at && (!next || at < next)) next = at;
    }
    if (!next) {
      await autoPauseCampaign(tenantId, campaignId, 'the sending window does not open in the next 400 days', { zones: waiting.map((w) => w.zone) });
      return 'window-closed';
    }
    if (expiresAt && next >= expiresAt) {
      // No window opens before the campaign expires: what is left would arrive late, so it ends now.
      await expireCampaign(tenantId, campaignId, next);
      if (await completeIfDone(tenantId, campaignId)) return 'completed';
      await waitFor(1000);
      return 'waiting';
    }
    await windowClosed(tenantId, campaignId, next, waiting.map((w) => w.zone));
    await waitFor(next.getTime() - now.getTime());
    return 'window-closed';
  }
  await waitFor((left?.sending ?? 0) > 0 ? 1000 : HOLD_OUT_WAIT_MS);
  return 'waiting';
}
