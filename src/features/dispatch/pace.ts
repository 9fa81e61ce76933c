import type { Redis } from 'ioredis';
import { Prisma } from '../../generated/prisma/client.js';
import { sqlRows, sqlTransaction } from '../../infra/db/sql.js';
import { config } from '../../infra/config/index.js';
import { redisKey } from '../../infra/redis.js';

/**
 * The pace gate: the last step before a send's (or follow-up's) Evolution call, atomic in Redis so
 * that any number of worker processes together keep an instance's sends at least `minDelayMs` apart.
 *
 * The limiter (limiter.ts) schedules send jobs on slots spaced by random gaps, but a job runs when
 * BullMQ delivers it and the time from its slot to its HTTP request varies per process; late jobs
 * bunch up. The gate grants "now" only when now ≥ the instance's next allowed time, and then moves
 * that time to now + typing + a gap drawn in [minDelayMs, maxDelayMs] + PACE_MARGIN_MS; otherwise it
 * answers how long to wait. "Now" is Redis's clock (TIME), the same for every process.
 *
 * It is also where a campaign's stop takes effect (pause, cancel): the gate grants only while the
 * campaign's go mark exists. The mark says "PostgreSQL said RUNNING or COMPLETED"; it is set only by a
 * sender that read that status under FOR KEY SHARE (ensureGo), and deleted by pause and cancel after
 * their transaction commits (stopSends). A missing mark (stopped, never set, or lost with Redis) is
 * asked of PostgreSQL again, so a Redis restart can delay a send but never let one through a pause.
 */
const PASS = `
if redis.call('EXISTS', KEYS[2]) == 0 then return { -1, 0 } end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n, minDelay, maxDelay, margin, typing = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local paced = minDelay > 0 or maxDelay > 0 or typing > 0
local raw = redis.call('GET', KEYS[1])
local nextAt
if raw then
  nextAt = tonumber(raw)
elseif paced then
  -- Lost (Redis restart) or idle for an hour: the last send was at most now, so a full gap from now
  -- is safe whatever it was.
  nextAt = now + minDelay + margin
  redis.call('SET', KEYS[1], nextAt, 'PX', 3600000)
else
  nextAt = 0
end
local granted = 0
for i = 1, n do
  if now < nextAt then break end
  granted = granted + 1
  if paced then
    local r = tonumber(ARGV[5 + i]) or 0
    nextAt = now + typing + minDelay + math.floor(r * (maxDelay - minDelay)) + margin
  end
end
if granted > 0 then
  if paced then redis.call('SET', KEYS[1], nextAt, 'PX', 3600000) end
  redis.call('PEXPIRE', KEYS[2], 3600000)
end
return { granted, math.max(0, nextAt - now) }
`;

type GateRedis = Redis & {
  wcPacePass(next: string, go: string, ...args: Array<string | number>): Promise<[number, number]>;
};

function gateRedis(redis: Redis): GateRedis {
  if (!(redis as unknown as Partial<GateRedis>).wcPacePass) redis.defineCommand('wcPacePass', { numberOfKeys: 2, lua: PASS });
  return redis as GateRedis;
}

export function paceKey(instanceId: string) {
  return redisKey('pace', instanceId, 'next');
}

/** The campaign's go mark (see PASS): present only while PostgreSQL said the campaign may send. */
export function goKey(campaignId: string) {
  return redisKey('go', campaignId);
}

export interface Pace {
  minDelayMs: number;
  maxDelayMs: number;
  /** Evolution's `delay` of each of these sends (typing presence): the next send waits for it too. */
  typingDelayMs: number;
}

export type GateAnswer = { kind: 'granted'; count: number } | { kind: 'wait'; ms: number } | { kind: 'stopped' };

/**
 * Asks the gate for up to `count` sends of the instance now. With no delays and no typing all are
 * granted at once (one round trip for the lot); otherwise at most one, and the next waits its gap.
 */
export async function passGate(redis: Redis, instanceId: string, campaignId: string, pace: Pace, count: number): Promise<GateAnswer> {
  const r = gateRedis(redis);
  const margin = pace.minDelayMs > 0 ? config.paceMarginMs : 0;
  const fractions = Array.from({ length: count }, () => Math.random().toFixed(6));
  const call = () =>
    r.wcPacePass(paceKey(instanceId), goKey(campaignId), count, pace.minDelayMs, Math.max(pace.minDelayMs, pace.maxDelayMs), margin, pace.typingDelayMs, ...fractions);
  let [granted, waitMs] = await call();
  if (granted === -1) {
    if (!(await ensureGo(redis, campaignId))) return { kind: 'stopped' };
    [granted, waitMs] = await call();
    // Deleted again between the two calls: a pause or a cancel just committed.
    if (granted === -1) return { kind: 'stopped' };
  }
  return granted > 0 ? { kind: 'granted', count: granted } : { kind: 'wait', ms: waitMs };
}

/**
 * Sets the campaign's go mark if PostgreSQL says it may send (RUNNING, or COMPLETED for follow-ups).
 * The status is read under FOR KEY SHARE and the mark set before that lock is released: a pause's
 * FOR UPDATE waits for it, and the pause deletes the mark only after its commit, so a mark set from a
 * RUNNING it saw is always deleted after.
 */
async function ensureGo(redis: Redis, campaignId: string): Promise<boolean> {
  const go = await sqlTransaction(async (client) => {
    const [row] = await sqlRows<{ ok: boolean }>(
      Prisma.sql`SELECT status IN ('RUNNING', 'COMPLETED') AS ok FROM campaign WHERE id = ${campaignId}::uuid FOR KEY SHARE`,
      client,
    );
    if (!row?.ok) return false;
    await redis.set(goKey(campaignId), '1', 'PX', 3_600_000);
    return true;
  });
  return go === true;
}

/**
 * Pause and cancel, after their transaction committed: no sender that has not passed the gate yet
 * will call Evolution for the campaign (each one finds the mark missing and PostgreSQL no longer
 * RUNNING). Senders that passed it are calls in flight.
 */
export async function stopSends(redis: Redis, campaignId: string): Promise<void> {
  await redis.del(goKey(campaignId));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a sender waits at the gate before it gives its recipient back (its slot was far too early). */
export const GATE_MAX_WAIT_MS = 30_000;

/**
 * Waits at the gate until it grants at least one send (returns how many of `count`), the campaign is
 * stopped, or GATE_MAX_WAIT_MS passed (`timeout`).
 */
export async function waitAtGate(
  redis: Redis,
  instanceId: string,
  campaignId: string,
  pace: Pace,
  count: number,
): Promise<{ kind: 'granted'; count: number } | { kind: 'stopped' } | { kind: 'timeout' }> {
  const until = Date.now() + GATE_MAX_WAIT_MS;
  for (;;) {
    const a = await passGate(redis, instanceId, campaignId, pace, count);
    if (a.kind !== 'wait') return a;
    if (Date.now() + a.ms > until) return { kind: 'timeout' };
    // Asked again a little early rather than late: the answer is exact, the timer is not.
    await sleep(Math.max(1, a.ms));
  }
}
