import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { type LimitSettings, unusableReason } from '../../domain/instances.js';
import { parseSnapshot, rotationChange } from '../../domain/pacing.js';
import { intelligentWeight, type RotationMode } from '../../domain/rotation.js';
import { Prisma } from '../../generated/prisma/client.js';
import { type RedisClient, redisKey } from '../../infra/redis.js';

// What the pump tells the campaign log: its window closing and opening, the instances its rotation
// uses, daily limits reached. Each is logged once per change.

/** An instance as the pump reads it (src/features/dispatch/pump.ts). */
export type PumpInstance = LimitSettings & {
  id: string;
  name: string;
  manuallyPaused: boolean;
  pausedReason: string | null;
  autoPausedAt: Date | null;
  connectionState: string;
  healthScore: number;
  sentToday: number;
  deliveredToday: number;
  /** Deferred after a throttled send until then (src/features/dispatch/throttle.ts). */
  throttledUntil: Date | null;
  /** Not connected to WhatsApp since then (src/features/senders/connection.ts). */
  disconnectedSince: Date | null;
};

/** Records that the campaign waits for its window (once per closing) and when it resumes. */
export async function windowClosed(tenantId: string, campaignId: string, resumesAt: Date, zones: string[]) {
  await inTransaction(async (tx, after) => {
    const [row] = await tx.$queryRaw<Array<{ status: string; resumes_at: Date | null }>>`
      SELECT status, resumes_at FROM campaign WHERE id = ${campaignId}::uuid FOR NO KEY UPDATE`;
    if (!row || row.status !== 'RUNNING' || row.resumes_at?.getTime() === resumesAt.getTime()) return;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`resumes_at = ${resumesAt}`]);
    if (row.resumes_at) return;
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'WINDOW_CLOSED',
      message: `outside the sending window: sending resumes at ${resumesAt.toISOString()}`,
      details: { resumesAt: resumesAt.toISOString(), zones },
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
  });
}

export async function windowOpened(tenantId: string, campaignId: string) {
  await inTransaction(async (tx, after) => {
    const [row] = await tx.$queryRaw<Array<{ status: string; resumes_at: Date | null }>>`
      SELECT status, resumes_at FROM campaign WHERE id = ${campaignId}::uuid FOR NO KEY UPDATE`;
    if (!row || row.status !== 'RUNNING' || !row.resumes_at) return;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`resumes_at = NULL`]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'WINDOW_OPENED',
      message: 'the sending window opened: sending resumes',
      details: { plannedAt: row.resumes_at.toISOString() },
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
  });
}

/**
 * Every instance the campaign could send through is disconnected: it waits (RUNNING, recipients
 * queued) and shows it (`reconnect_wait_since` on its row and progress, one STALLED entry, cause
 * 'disconnected', per wait).
 */
export async function reconnectWaitStarted(tenantId: string, campaignId: string, down: PumpInstance[]) {
  await inTransaction(async (tx, after) => {
    const [row] = await tx.$queryRaw<Array<{ status: string; since: Date | null }>>`
      SELECT status, reconnect_wait_since AS since FROM campaign WHERE id = ${campaignId}::uuid FOR NO KEY UPDATE`;
    if (!row || row.status !== 'RUNNING' || row.since) return;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`reconnect_wait_since = now()`]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'STALLED',
      severity: 'WARNING',
      message: `waiting for a disconnected number: ${down.map((i) => i.name).join(', ')} ${down.length === 1 ? 'is' : 'are'} not connected to WhatsApp; the recipients stay queued (none fails) and go out when a number reconnects`,
      details: {
        cause: 'disconnected',
        instances: down.map((i) => ({ id: i.id, name: i.name, disconnectedSince: i.disconnectedSince?.toISOString() ?? null, state: i.connectionState })),
      },
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
  });
}

/** An instance of a campaign that waited for a reconnect can send again: the wait ends (STALL_ENDED, cause 'disconnected'). */
export async function reconnectWaitEnded(tenantId: string, campaignId: string, usable: PumpInstance[]) {
  await inTransaction(async (tx, after) => {
    const [row] = await tx.$queryRaw<Array<{ since: Date | null }>>`
      SELECT reconnect_wait_since AS since FROM campaign WHERE id = ${campaignId}::uuid FOR NO KEY UPDATE`;
    if (!row?.since) return;
    const progress = await bumpCampaign(tx, after, campaignId, {}, [Prisma.sql`reconnect_wait_since = NULL`]);
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'STALL_ENDED',
      severity: 'INFO',
      message: `a number is connected again (${usable.map((i) => i.name).join(', ')}): sending resumes (waited ${Math.round((Date.now() - row.since.getTime()) / 1000)} s)`,
      details: { cause: 'disconnected', waitedSince: row.since.toISOString() },
      progress: progress ? { ...progress } : undefined,
      actor: 'worker',
    });
  });
}

/**
 * Logs which instances the rotation uses: `instance_selected` when one enters it (at the first pump
 * too) and `rotation_changed` when the set or the mode changes after that, with the reason each
 * leaving instance left. The snapshot on the campaign row makes each change logged once.
 */
export async function noteRotation(
  tenantId: string,
  campaignId: string,
  mode: RotationMode,
  stored: unknown,
  all: PumpInstance[],
  usable: PumpInstance[],
) {
  const previous = parseSnapshot(stored);
  const change = rotationChange(previous, mode, usable.map((i) => i.id));
  if (!change) return;
  const { snapshot, removed } = change;
  const ids = snapshot.instances;
  const added = usable.filter((i) => change.added.includes(i.id));
  const byId = new Map(all.map((i) => [i.id, i]));
  const nameOf = (id: string) => byId.get(id)?.name ?? id;
  const weight = (i: PumpInstance) => (mode === 'INTELLIGENT' ? intelligentWeight(i) : null);
  await inTransaction(async (tx, after) => {
    await tx.$executeRaw`UPDATE campaign SET rotation_snapshot = ${JSON.stringify(snapshot)}::jsonb WHERE id = ${campaignId}::uuid`;
    if (previous) {
      const gone = removed.map((id) => ({ id, name: nameOf(id), reason: byId.has(id) ? unusableReason(byId.get(id) as PumpInstance) : 'removed from the campaign' }));
      const parts = [
        ...gone.map((g) => `${g.name} left (${g.reason ?? 'unknown'})`),
        ...added.map((a) => `${a.name} joined`),
        ...(previous.mode !== mode ? [`mode ${previous.mode} → ${mode}`] : []),
      ];
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'ROTATION_CHANGED',
        severity: gone.length ? 'WARNING' : 'INFO',
        message: `rotation changed: ${parts.join('; ')}; ${ids.length} instance(s) send now`,
        details: {
          mode,
          previousMode: previous.mode,
          added: added.map((a) => ({ id: a.id, name: a.name })),
          removed: gone,
          instances: usable.map((i) => ({ id: i.id, name: i.name, weight: weight(i) })),
        },
        actor: 'worker',
      });
    }
    for (const i of added) {
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        instanceId: i.id,
        type: 'INSTANCE_SELECTED',
        message: `instance ${i.name} selected to send (${mode.toLowerCase()} rotation${weight(i) !== null ? `, weight ${weight(i)}` : ''})`,
        details: { mode, weight: weight(i), healthScore: i.healthScore, sentToday: i.sentToday, deliveredToday: i.deliveredToday },
        health: { score: i.healthScore, sentToday: i.sentToday, deliveredToday: i.deliveredToday },
        actor: 'worker',
      });
    }
  });
}

/** One `limit_reached` entry per instance and local day (and one when every instance is out). */
export async function noteDailyLimits(
  deps: { redis: RedisClient },
  tenantId: string,
  campaignId: string,
  day: string,
  limited: Array<{ id: string; name: string; perDay: number }>,
  everyInstance: boolean,
) {
  const fresh: typeof limited = [];
  for (const i of limited) {
    if (await deps.redis.set(redisKey('limit-logged', campaignId, i.id, day), '1', 'PX', 2 * 86_400_000, 'NX')) fresh.push(i);
  }
  const allFresh = everyInstance && (await deps.redis.set(redisKey('limit-logged', campaignId, 'all', day), '1', 'PX', 2 * 86_400_000, 'NX'));
  if (fresh.length === 0 && !allFresh) return;
  await inTransaction(async (tx, after) => {
    for (const i of fresh) {
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        instanceId: i.id,
        type: 'LIMIT_REACHED',
        severity: 'WARNING',
        message: `instance ${i.name} reached its daily limit (${i.perDay}) for ${day}; its share moves to the other instances`,
        details: { day, perDay: i.perDay },
        actor: 'worker',
      });
    }
    if (allFresh) {
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'LIMIT_REACHED',
        severity: 'WARNING',
        message: `every instance reached its daily limit for ${day}: sending continues on the next day`,
        details: { day, instances: limited.map((i) => ({ id: i.id, name: i.name, perDay: i.perDay })) },
        actor: 'worker',
      });
    }
  });
}

/** One `limit_reached` entry per campaign and local day when the campaign's own daily cap is used up. */
export async function noteCampaignDailyCap(deps: { redis: RedisClient }, tenantId: string, campaignId: string, day: string, perDay: number) {
  if (!(await deps.redis.set(redisKey('limit-logged', campaignId, 'campaign', day), '1', 'PX', 2 * 86_400_000, 'NX'))) return;
  await inTransaction(async (tx, after) => {
    await appendLog(tx, after, {
      tenantId,
      campaignId,
      type: 'LIMIT_REACHED',
      severity: 'WARNING',
      message: `the campaign reached its daily cap (${perDay}) for ${day}: sending continues on the next day`,
      details: { day, campaignPerDay: perDay },
      actor: 'worker',
    });
  });
}
