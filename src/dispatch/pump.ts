import type { Queue } from 'bullmq';
import { autoPauseCampaign, completeIfDone } from '../campaigns/lifecycle.js';
import { prisma } from '../db/client.js';
import { effectiveLimits, unusableReason } from '../domain/instances.js';
import { planRotation, type RotationMode } from '../domain/rotation.js';
import { clock } from '../lib/clock.js';
import { randomToken } from '../lib/crypto.js';
import { localDay } from '../lib/local-time.js';
import { jobId } from '../queues/definitions.js';
import { redisKey } from '../redis.js';
import { type DispatchDeps, outstandingKey } from './send.js';

/** How far ahead slots are reserved and send jobs scheduled. */
export const HORIZON_MS = 5000;
/** A scheduled send older than this is considered lost (its worker died) and no longer counted. */
const OUTSTANDING_STALE_MS = 120_000;

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface PumpDeps extends DispatchDeps {
  sendQueue: Queue;
}

export type PumpResult =
  | 'busy'
  | 'not-running'
  | 'completed'
  | 'waiting'
  | 'no-usable-instance'
  | 'limits-reached'
  | { scheduled: number };

/**
 * Keeps a running campaign fed: reserves rate-limit slots on its usable instances (in the order the
 * rotation mode gives) and schedules one send job per slot, at most `lookahead` ahead of the
 * workers. One pump per campaign at a time (a Redis lease); every pump schedules the next one.
 */
export async function pumpCampaign(deps: PumpDeps, tenantId: string, campaignId: string): Promise<PumpResult> {
  const lockKey = redisKey('pump-lock', campaignId);
  const token = randomToken(9);
  if (!(await deps.redis.set(lockKey, token, 'PX', 30_000, 'NX'))) return 'busy';
  try {
    return await pumpLocked(deps, tenantId, campaignId);
  } finally {
    await deps.redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
  }
}

async function pumpLocked(deps: PumpDeps, tenantId: string, campaignId: string): Promise<PumpResult> {
  const now = clock.now();
  const nowMs = now.getTime();
  const campaign = await prisma.campaign.findFirst({
    where: { id: campaignId, tenantId },
    select: {
      status: true,
      rotationMode: true,
      rotationCursor: true,
      minDelayMs: true,
      maxDelayMs: true,
      tenant: { select: { timezone: true } },
      instances: {
        select: {
          instance: {
            select: {
              id: true,
              name: true,
              manuallyPaused: true,
              autoPausedAt: true,
              connectionState: true,
              healthScore: true,
              sentToday: true,
              deliveredToday: true,
              limitPerMinute: true,
              limitPerHour: true,
              limitPerDay: true,
              minDelayMs: true,
              maxDelayMs: true,
              warmupEnabled: true,
              warmupStartPerDay: true,
              warmupIncrementPerDay: true,
              warmupStartedAt: true,
              readmittedAt: true,
            },
          },
        },
      },
    },
  });
  if (!campaign || campaign.status !== 'RUNNING') return 'not-running';

  const [ready] = await prisma.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM recipient
      WHERE campaign_id = ${campaignId}::uuid AND status = 'QUEUED' AND (not_before IS NULL OR not_before <= ${now})
      LIMIT ${deps.lookahead * 2}
    ) q`;
  const readyCount = ready?.n ?? 0;

  if (readyCount === 0) {
    if (await completeIfDone(tenantId, campaignId)) return 'completed';
    const [next] = await prisma.$queryRaw<Array<{ at: Date | null }>>`
      SELECT min(not_before) AS at FROM recipient WHERE campaign_id = ${campaignId}::uuid AND status = 'QUEUED'`;
    const wait = next?.at ? Math.max(200, next.at.getTime() - nowMs) : 1000;
    await deps.requestPump(tenantId, campaignId, wait);
    return 'waiting';
  }

  const outKey = outstandingKey(campaignId);
  await deps.redis.zremrangebyscore(outKey, '-inf', nowMs - OUTSTANDING_STALE_MS);
  const outstanding = await deps.redis.zcard(outKey);
  const demand = Math.min(readyCount - outstanding, deps.lookahead - outstanding);
  if (demand <= 0) {
    await deps.requestPump(tenantId, campaignId, HORIZON_MS / 2);
    return { scheduled: 0 };
  }

  const all = campaign.instances.map((l) => l.instance);
  const usable = all.filter((i) => unusableReason(i) === null);
  if (usable.length === 0) {
    await autoPauseCampaign(tenantId, campaignId, 'no instance of the campaign can send', {
      instances: all.map((i) => ({ id: i.id, name: i.name, reason: unusableReason(i) })),
    });
    return 'no-usable-instance';
  }

  const day = localDay(now, campaign.tenant.timezone);
  const { picks, cursor } = planRotation(campaign.rotationMode as RotationMode, usable, demand, campaign.rotationCursor);
  const wanted = new Map<string, number>();
  for (const id of picks) wanted.set(id, (wanted.get(id) ?? 0) + 1);

  const jobs: Array<{ instanceId: string; slot: string; at: number }> = [];
  let earliestNext = Number.POSITIVE_INFINITY;
  let shortfall = 0;
  const withRoom: string[] = [];
  const byId = new Map(usable.map((i) => [i.id, i]));
  const limitsOf = (id: string) => {
    const i = byId.get(id);
    if (!i) throw new Error(`instance ${id} vanished`);
    const l = effectiveLimits(i, now);
    return {
      ...l,
      minDelayMs: Math.max(l.minDelayMs, campaign.minDelayMs ?? 0),
      maxDelayMs: Math.max(l.maxDelayMs, campaign.maxDelayMs ?? 0, campaign.minDelayMs ?? 0),
    };
  };
  for (const [instanceId, count] of wanted) {
    const r = await deps.limiter.reserve(instanceId, limitsOf(instanceId), count, { now: nowMs, horizonMs: HORIZON_MS, localDay: day });
    for (const s of r.slots) jobs.push({ instanceId, slot: s.id, at: s.at });
    shortfall += count - r.slots.length;
    if (r.stoppedBy === 'horizon' && r.nextAt !== null) earliestNext = Math.min(earliestNext, r.nextAt);
    if (r.stoppedBy === 'none') withRoom.push(instanceId);
  }
  // An instance that hit its limits hands its share to those that still have room.
  for (let k = 0; shortfall > 0 && k < withRoom.length; k++) {
    const instanceId = withRoom[k] as string;
    const share = Math.ceil(shortfall / (withRoom.length - k));
    const r = await deps.limiter.reserve(instanceId, limitsOf(instanceId), share, { now: nowMs, horizonMs: HORIZON_MS, localDay: day });
    for (const s of r.slots) jobs.push({ instanceId, slot: s.id, at: s.at });
    shortfall -= r.slots.length;
    if (r.stoppedBy === 'horizon' && r.nextAt !== null) earliestNext = Math.min(earliestNext, r.nextAt);
  }

  if (cursor !== campaign.rotationCursor) {
    await prisma.$executeRaw`UPDATE campaign SET rotation_cursor = ${cursor} WHERE id = ${campaignId}::uuid`;
  }

  if (jobs.length > 0) {
    jobs.sort((a, b) => a.at - b.at);
    await deps.redis.zadd(outKey, ...jobs.flatMap((j) => [j.at, j.slot]));
    await deps.redis.pexpire(outKey, OUTSTANDING_STALE_MS * 2);
    await deps.sendQueue.addBulk(
      jobs.map((j) => ({
        name: 'dispatch:send',
        data: { tenantId, campaignId, instanceId: j.instanceId, slot: j.slot, slotAt: j.at, day },
        opts: { jobId: jobId('send', j.slot), delay: Math.max(0, j.at - nowMs) },
      })),
    );
  }

  if (jobs.length === 0 && !Number.isFinite(earliestNext)) {
    // Every usable instance used up its day: wait for the next local day.
    await deps.requestPump(tenantId, campaignId, 60_000);
    return 'limits-reached';
  }
  const wait = Number.isFinite(earliestNext) ? Math.max(100, earliestNext - nowMs - HORIZON_MS / 2) : HORIZON_MS / 2;
  await deps.requestPump(tenantId, campaignId, Math.min(wait, HORIZON_MS / 2));
  return { scheduled: jobs.length };
}
