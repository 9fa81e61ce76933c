// The pump's arithmetic: how many sends a campaign may schedule now, with what limits, and when to
// look again. Pure; src/features/dispatch/pump.ts does the reading, reserving and scheduling.

export interface Demand {
  /** Recipients ready to send now (counted up to a bound). */
  ready: number;
  /** Send jobs of this campaign scheduled and not yet run. */
  outstanding: number;
  /** The same for all campaigns of the tenant. */
  tenantOutstanding: number;
  /** How many send jobs one campaign keeps ahead of the workers. */
  lookahead: number;
  /** How many all campaigns of one tenant together keep ahead. */
  tenantLookahead: number;
  /** The tenant's running campaigns. */
  runningCampaigns: number;
}

/**
 * Fair share: a tenant's campaigns together keep at most `tenantLookahead` sends queued, split between
 * its running campaigns, so that nobody's large campaign fills the queue ahead of others. Returns how
 * many sends this campaign may schedule now (≤ 0: none).
 */
export function sendsToSchedule(d: Demand): number {
  const campaignCap = Math.min(d.lookahead, Math.ceil(d.tenantLookahead / Math.max(1, d.runningCampaigns)));
  return Math.min(d.ready - d.outstanding, campaignCap - d.outstanding, d.tenantLookahead - d.tenantOutstanding);
}

/**
 * An instance's limits for one campaign: the campaign's delays between messages raise the instance's,
 * never lower them. A typing presence (`typingDelayMs`, given by the pump) holds the instance that much
 * longer per send, so it is added to both: the pace gate (dispatch/pace.ts) counts it the same way.
 */
export function campaignLimits<L extends { minDelayMs: number; maxDelayMs: number }>(
  instance: L,
  campaign: { minDelayMs: number | null; maxDelayMs: number | null; typingDelayMs?: number },
): L {
  const typing = campaign.typingDelayMs ?? 0;
  return {
    ...instance,
    minDelayMs: Math.max(instance.minDelayMs, campaign.minDelayMs ?? 0) + typing,
    maxDelayMs: Math.max(instance.maxDelayMs, campaign.maxDelayMs ?? 0, campaign.minDelayMs ?? 0) + typing,
  };
}

/**
 * A campaign's caps over all its instances together (issue 18), on top of each instance's limits,
 * held across workers like them (src/features/dispatch/limiter.ts).
 */
export interface CampaignCaps {
  campaignId: string;
  perMinute: number | null;
  perHour: number | null;
  /** In the tenant's local day, as the instance's. */
  perDay: number | null;
}

/** The campaign's caps; null when it has none, so that the common case costs the limiter nothing more. */
export function campaignCaps(c: { id: string; limitPerMinute: number | null; limitPerHour: number | null; limitPerDay: number | null }): CampaignCaps | null {
  if (c.limitPerMinute === null && c.limitPerHour === null && c.limitPerDay === null) return null;
  return { campaignId: c.id, perMinute: c.limitPerMinute, perHour: c.limitPerHour, perDay: c.limitPerDay };
}

/** Campaign priority: 1 (lowest) to 10 (highest), 5 when not given. */
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 10;
export const DEFAULT_PRIORITY = 5;

/** How many sends each instance is asked for, from the rotation's picks (one instance id per send). */
export function countPicks(picks: readonly string[]): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const id of picks) wanted.set(id, (wanted.get(id) ?? 0) + 1);
  return wanted;
}

/**
 * An instance that hit its limits hands its share to those that still have room: the k-th of `n`
 * instances with room (0-based) is asked for an equal part of what is still missing.
 */
export function shortfallShare(shortfall: number, k: number, n: number): number {
  return Math.ceil(shortfall / (n - k));
}

/**
 * When the pump runs again: before the horizon's slots run out, at half the horizon at most; or soon
 * after the next slot a limit allows, when that is what stopped the reservation (at least 100 ms on).
 */
export function nextPumpDelayMs(earliestNextSlotMs: number | null, nowMs: number, horizonMs: number): number {
  const half = horizonMs / 2;
  if (earliestNextSlotMs === null) return half;
  return Math.min(Math.max(100, earliestNextSlotMs - nowMs - half), half);
}

export interface RotationSnapshot<M extends string = string> {
  mode: M;
  instances: string[];
}

export function parseSnapshot(v: unknown): RotationSnapshot | null {
  if (!v || typeof v !== 'object') return null;
  const s = v as Partial<RotationSnapshot>;
  return Array.isArray(s.instances) && typeof s.mode === 'string' ? { mode: s.mode, instances: s.instances.map(String) } : null;
}

/**
 * How the set of instances a rotation uses changed since the stored snapshot: null when it did not
 * (same mode, same instances), else the ones that joined and the ones that left.
 */
export function rotationChange<M extends string>(
  previous: RotationSnapshot | null,
  mode: M,
  usableIds: readonly string[],
): { snapshot: RotationSnapshot<M>; added: string[]; removed: string[] } | null {
  const ids = [...usableIds].sort();
  if (previous && previous.mode === mode && previous.instances.join(',') === ids.join(',')) return null;
  const before = new Set(previous?.instances ?? []);
  return { snapshot: { mode, instances: ids }, added: ids.filter((id) => !before.has(id)), removed: [...before].filter((id) => !ids.includes(id)) };
}
