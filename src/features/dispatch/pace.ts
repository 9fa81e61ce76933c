import { randomUUID } from 'node:crypto';
import { Prisma } from '../../generated/prisma/client.js';
import { sqlRows, sqlTransaction } from '../../infra/db/sql.js';
import { type RedisClient, tenantKey } from '../../infra/redis.js';

/**
 * The pace gate: the last step before a send's (or follow-up's) Evolution call, atomic in Redis so
 * that any number of worker processes together keep an instance's sends at least `minDelayMs` apart.
 *
 * The limiter (limiter.ts) schedules send jobs on slots spaced by random gaps, but a job runs when
 * BullMQ delivers it and the time from its slot to its HTTP request varies per process; late jobs
 * bunch up. The gate of a paced instance (a delay or typing) lets one call through at a time: it
 * grants "now" only when no call of the instance is in flight and now ≥ its next allowed time, and
 * when that call has its answer (done), the next allowed time becomes the answer's time + a gap drawn
 * in [minDelayMs, maxDelayMs]. Spacing from the answer rather than from the grant makes the gap hold
 * at Evolution whatever happened between a grant and its request (a process descheduled, a slow
 * event loop): the next request leaves after the previous one was answered, so after Evolution had
 * it, and the typing presence (which Evolution holds the request for) is counted too. A call whose
 * answer never comes frees the gate when it times out (the in-flight key's expiry). "Now" is Redis's
 * clock (TIME), the same for every process. With no delays and no typing the gate keeps nothing.
 *
 * It is also where a campaign's stop takes effect (pause, cancel): the gate grants only while the
 * campaign's go mark exists. The mark says "PostgreSQL said RUNNING or COMPLETED"; it is set only by a
 * sender that read that status under FOR KEY SHARE (ensureGo), and deleted by pause and cancel after
 * their transaction commits (stopSends). A missing mark (stopped, never set, or lost with Redis) is
 * asked of PostgreSQL again, so a Redis restart can delay a send but never let one through a pause.
 *
 * The gate's keys and the go marks are the tenant's (tenantKey: one Redis Cluster slot per tenant), so
 * that one script reads an instance's gate and a campaign's mark.
 */
const PASS = `
if redis.call('EXISTS', KEYS[2]) == 0 then return { -1, 0 } end
local n, minDelay, maxDelay, typing = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if minDelay == 0 and maxDelay == 0 and typing == 0 then
  redis.call('PEXPIRE', KEYS[2], 3600000)
  return { n, 0 }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inflight = redis.call('PTTL', KEYS[3])
if inflight > 0 then return { 0, math.min(inflight, 20) } end
local raw = redis.call('GET', KEYS[1])
local nextAt
if raw then
  nextAt = tonumber(raw)
else
  -- Lost (Redis restart) or idle for an hour: the last send was answered at most now, so a full gap
  -- from now is safe whatever it was.
  nextAt = now + minDelay
  redis.call('SET', KEYS[1], nextAt, 'PX', 3600000)
end
if now < nextAt then return { 0, nextAt - now } end
local gap = minDelay + math.floor(tonumber(ARGV[5]) * (maxDelay - minDelay))
-- Until the answer comes (done): the next send waits; should it never come, the call's time limit
-- frees the gate, and the gap counts from then.
redis.call('SET', KEYS[3], ARGV[6] .. ':' .. gap, 'PX', tonumber(ARGV[7]))
redis.call('SET', KEYS[1], now + tonumber(ARGV[7]) + gap, 'PX', 3600000)
redis.call('PEXPIRE', KEYS[2], 3600000)
return { 1, 0 }
`;

/** The granted call was answered (or failed): the next send of the instance may go a gap from now. */
const DONE = `
local v = redis.call('GET', KEYS[2])
if not v or string.sub(v, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then return 0 end
local gap = tonumber(string.sub(v, #ARGV[1] + 2))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], now + gap, 'PX', 3600000)
redis.call('DEL', KEYS[2])
return 1
`;

type GateRedis = RedisClient & {
  wcPacePass(next: string, go: string, inflight: string, ...args: Array<string | number>): Promise<[number, number]>;
  wcPaceDone(next: string, inflight: string, token: string): Promise<number>;
};

function gateRedis(redis: RedisClient): GateRedis {
  if (!(redis as unknown as Partial<GateRedis>).wcPacePass) {
    redis.defineCommand('wcPacePass', { numberOfKeys: 3, lua: PASS });
    redis.defineCommand('wcPaceDone', { numberOfKeys: 2, lua: DONE });
  }
  return redis as GateRedis;
}

function inflightKey(tenantId: string, instanceId: string) {
  return tenantKey(tenantId, 'pace', instanceId, 'inflight');
}

export function paceKey(tenantId: string, instanceId: string) {
  return tenantKey(tenantId, 'pace', instanceId, 'next');
}

/** The campaign's go mark (see PASS): present only while PostgreSQL said the campaign may send. */
export function goKey(tenantId: string, campaignId: string) {
  return tenantKey(tenantId, 'go', campaignId);
}

export interface Pace {
  minDelayMs: number;
  maxDelayMs: number;
  /** Evolution's `delay` of each of these sends (typing presence): the next send waits for it too. */
  typingDelayMs: number;
}

export type GateAnswer = { kind: 'granted'; count: number; ticket: PaceTicket | null } | { kind: 'wait'; ms: number } | { kind: 'stopped' };

/** A paced call let through the gate: given back with passedGate once it is answered. */
export interface PaceTicket {
  tenantId: string;
  instanceId: string;
  token: string;
}

/**
 * Asks the gate for up to `count` sends of the instance now. With no delays and no typing all are
 * granted at once (one round trip for the lot, no ticket); otherwise one, with a ticket.
 * `callLimitMs`: how long the call may last (its time limit, typing included).
 */
export async function passGate(redis: RedisClient, tenantId: string, instanceId: string, campaignId: string, pace: Pace, count: number, callLimitMs: number): Promise<GateAnswer> {
  const r = gateRedis(redis);
  const token = randomUUID();
  const call = () =>
    r.wcPacePass(
      paceKey(tenantId, instanceId),
      goKey(tenantId, campaignId),
      inflightKey(tenantId, instanceId),
      count,
      pace.minDelayMs,
      Math.max(pace.minDelayMs, pace.maxDelayMs),
      pace.typingDelayMs,
      Math.random().toFixed(6),
      token,
      Math.max(1000, callLimitMs),
    );
  let [granted, waitMs] = await call();
  if (granted === -1) {
    if (!(await ensureGo(redis, tenantId, campaignId))) return { kind: 'stopped' };
    [granted, waitMs] = await call();
    // Deleted again between the two calls: a pause or a cancel just committed.
    if (granted === -1) return { kind: 'stopped' };
  }
  if (granted === 0) return { kind: 'wait', ms: waitMs };
  const paced = pace.minDelayMs > 0 || pace.maxDelayMs > 0 || pace.typingDelayMs > 0;
  return { kind: 'granted', count: granted, ticket: paced ? { tenantId, instanceId, token } : null };
}

/** The call let through with this ticket was answered (or failed): the next may go a gap from now. */
export async function passedGate(redis: RedisClient, ticket: PaceTicket | null): Promise<void> {
  if (!ticket) return;
  await gateRedis(redis).wcPaceDone(paceKey(ticket.tenantId, ticket.instanceId), inflightKey(ticket.tenantId, ticket.instanceId), ticket.token);
}

/**
 * Sets the campaign's go mark if PostgreSQL says it may send (RUNNING, or COMPLETED for follow-ups).
 * The status is read under FOR KEY SHARE and the mark set before that lock is released: a pause's
 * FOR UPDATE waits for it, and the pause deletes the mark only after its commit, so a mark set from a
 * RUNNING it saw is always deleted after.
 */
async function ensureGo(redis: RedisClient, tenantId: string, campaignId: string): Promise<boolean> {
  const go = await sqlTransaction(async (client) => {
    const [row] = await sqlRows<{ ok: boolean }>(
      Prisma.sql`SELECT status IN ('RUNNING', 'COMPLETED') AS ok FROM campaign WHERE id = ${campaignId}::uuid FOR KEY SHARE`,
      client,
    );
    if (!row?.ok) return false;
    await redis.set(goKey(tenantId, campaignId), '1', 'PX', 3_600_000);
    return true;
  });
  return go === true;
}

/**
 * Pause and cancel, after their transaction committed: no sender that has not passed the gate yet
 * will call Evolution for the campaign (each one finds the mark missing and PostgreSQL no longer
 * RUNNING). Senders that passed it are calls in flight.
 */
export async function stopSends(redis: RedisClient, tenantId: string, campaignId: string): Promise<void> {
  await redis.del(goKey(tenantId, campaignId));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a sender waits at the gate before it gives its recipient back (its slot was far too early). */
export const GATE_MAX_WAIT_MS = 30_000;

/**
 * Waits at the gate until it grants at least one send (returns how many of `count`), the campaign is
 * stopped, or GATE_MAX_WAIT_MS passed (`timeout`).
 */
export async function waitAtGate(
  redis: RedisClient,
  tenantId: string,
  instanceId: string,
  campaignId: string,
  pace: Pace,
  count: number,
  callLimitMs: number,
): Promise<{ kind: 'granted'; count: number; ticket: PaceTicket | null } | { kind: 'stopped' } | { kind: 'timeout' }> {
  const until = Date.now() + GATE_MAX_WAIT_MS;
  for (;;) {
    const a = await passGate(redis, tenantId, instanceId, campaignId, pace, count, callLimitMs);
    if (a.kind !== 'wait') return a;
    if (Date.now() + a.ms > until) return { kind: 'timeout' };
    await sleep(Math.max(1, a.ms));
  }
}
