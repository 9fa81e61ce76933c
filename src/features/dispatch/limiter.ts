import { type RedisClient, tenantKey } from '../../infra/redis.js';
import type { CampaignCaps } from '../../domain/pacing.js';
import { LIMIT_WINDOW_GUARD_MS as WINDOW_GUARD_MS } from '../../domain/instances.js';
import { campaignLimiterSeedFromDatabase, type LimiterSeed, limiterSeedFromDatabase } from './limiter-seed.js';

/**
 * Per-instance send slots, reserved atomically in Redis so that any number of worker processes
 * together respect an instance's limits:
 * - at most `perMinute` sends in any sliding 60 s and `perHour` in any sliding hour (each window a
 *   second longer, WINDOW_GUARD_MS),
 * - at most `perDay` in the instance's (tenant-local) calendar day,
 * - a random gap (minDelay…maxDelay, drawn by the caller) between two consecutive sends.
 * Slots are reserved in time order, up to `horizonMs` ahead; a reserved slot that goes unused is
 * released so it does not count against the limits.
 *
 * Redis may lose this state (a restart without persistence, a failover). A marker key (`seeded`)
 * says it is whole: without it the scripts answer -1 and the state is first rebuilt from PostgreSQL's
 * record of the sends (limiter-seed.ts), so that no window exceeds its limit after a loss.
 *
 * Every key is a tenant's (tenantKey: one Redis Cluster slot per tenant), so that a script may hold an
 * instance's window and a campaign's together (caps): a campaign's instances are all its tenant's.
 */
/**
 * The windows are a second longer than a minute and an hour: what they protect is counted by
 * WhatsApp when Evolution handles the send, a little after our clock confirmed it, and by a varying
 * delay. Within this guard two sends a window apart by our clock stay a window apart by Evolution's;
 * an answer later than that moves the send's slot to it (restamp). LIMIT_WINDOW_GUARD_MS.
 */
const MINUTE = 60_000 + WINDOW_GUARD_MS;
const HOUR = 3_600_000 + WINDOW_GUARD_MS;

const RESERVE = `
local slots, lastKey, dayKey, seeded = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', seeded) == 0 then return { -1, 0, {} } end
redis.call('PEXPIRE', seeded, 7200000)
local now = tonumber(ARGV[1])
local perMin, perHour, perDay = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local want = tonumber(ARGV[6])
local prefix = ARGV[7]
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now - ${HOUR})
local last = tonumber(redis.call('GET', lastKey) or '0')
local day = tonumber(redis.call('GET', dayKey) or '0')
local reserved = {}
local stop, nextAt = 0, 0
for n = 1, want do
  if day >= perDay then stop = 2 break end
  local gap = tonumber(ARGV[7 + n]) or 0
  local t = now
  if last > 0 and last + gap > t then t = last + gap end
  for _ = 1, 4 do
    local moved = false
    local cm = redis.call('ZCOUNT', slots, t - ${MINUTE - 1}, '+inf')
    if cm >= perMin then
      local e = redis.call('ZRANGEBYSCORE', slots, t - ${MINUTE - 1}, '+inf', 'WITHSCORES', 'LIMIT', cm - perMin, 1)
      t = tonumber(e[2]) + ${MINUTE}
      moved = true
    end
    local ch = redis.call('ZCOUNT', slots, t - ${HOUR - 1}, '+inf')
    if ch >= perHour then
      local e = redis.call('ZRANGEBYSCORE', slots, t - ${HOUR - 1}, '+inf', 'WITHSCORES', 'LIMIT', ch - perHour, 1)
      t = tonumber(e[2]) + ${HOUR}
      moved = true
    end
    if not moved then break end
  end
  if t - now > horizon then stop, nextAt = 1, t break end
  local member = prefix .. ':' .. t .. ':' .. n
  redis.call('ZADD', slots, t, member)
  last = t
  day = day + 1
  reserved[#reserved + 1] = member
  reserved[#reserved + 1] = tostring(t)
end
if #reserved > 0 then
  redis.call('SET', lastKey, last, 'PX', 7200000)
  redis.call('SET', dayKey, day, 'PX', 3 * 86400000)
  redis.call('PEXPIRE', slots, 7200000)
end
return { stop, nextAt, reserved }
`;

/**
 * RESERVE with a campaign's caps on top (issue 18): the campaign's own window (KEYS 5–7: its slots,
 * its day counter, its marker; ARGV 8–10 its per-minute, per-hour and per-day caps) over all its
 * instances, held like the instance's. A slot must fit both; -2 when the campaign's state is missing.
 * Stop 3: the campaign's day is used up. A slot that cannot be placed within 8 moves waits (horizon).
 */
const RESERVE_CAPPED = `
local slots, lastKey, dayKey, seeded = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cslots, cdayKey, cseeded = KEYS[5], KEYS[6], KEYS[7]
if redis.call('EXISTS', seeded) == 0 then return { -1, 0, {} } end
if redis.call('EXISTS', cseeded) == 0 then return { -2, 0, {} } end
redis.call('PEXPIRE', seeded, 7200000)
redis.call('PEXPIRE', cseeded, 7200000)
local now = tonumber(ARGV[1])
local perMin, perHour, perDay = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local want = tonumber(ARGV[6])
local prefix = ARGV[7]
local cPerMin, cPerHour, cPerDay = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now - ${HOUR})
redis.call('ZREMRANGEBYSCORE', cslots, '-inf', now - ${HOUR})
local last = tonumber(redis.call('GET', lastKey) or '0')
local day = tonumber(redis.call('GET', dayKey) or '0')
local cday = tonumber(redis.call('GET', cdayKey) or '0')
local function later(set, t, span, limit)
  local c = redis.call('ZCOUNT', set, t - (span - 1), '+inf')
  if c < limit then return nil end
  local e = redis.call('ZRANGEBYSCORE', set, t - (span - 1), '+inf', 'WITHSCORES', 'LIMIT', c - limit, 1)
  return tonumber(e[2]) + span
end
local reserved = {}
local stop, nextAt = 0, 0
for n = 1, want do
  if day >= perDay then stop = 2 break end
  if cday >= cPerDay then stop = 3 break end
  local gap = tonumber(ARGV[10 + n]) or 0
  local t = now
  if last > 0 and last + gap > t then t = last + gap end
  local settled = false
  for _ = 1, 8 do
    local moved = false
    for _, w in ipairs({ { slots, ${MINUTE}, perMin }, { slots, ${HOUR}, perHour }, { cslots, ${MINUTE}, cPerMin }, { cslots, ${HOUR}, cPerHour } }) do
      local to = later(w[1], t, w[2], w[3])
      if to then t = to; moved = true end
    end
    if not moved then settled = true break end
  end
  if not settled or t - now > horizon then stop, nextAt = 1, t break end
  local member = prefix .. ':' .. t .. ':' .. n
  redis.call('ZADD', slots, t, member)
  redis.call('ZADD', cslots, t, member)
  last = t
  day = day + 1
  cday = cday + 1
  reserved[#reserved + 1] = member
  reserved[#reserved + 1] = tostring(t)
end
if #reserved > 0 then
  redis.call('SET', lastKey, last, 'PX', 7200000)
  redis.call('SET', dayKey, day, 'PX', 3 * 86400000)
  redis.call('SET', cdayKey, cday, 'PX', 3 * 86400000)
  redis.call('PEXPIRE', slots, 7200000)
  redis.call('PEXPIRE', cslots, 7200000)
end
return { stop, nextAt, reserved }
`;

const RELEASE = `
local n = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then n = n + 1 end
end
if n > 0 then
  local d = tonumber(redis.call('GET', KEYS[2]) or '0')
  if d > 0 then redis.call('DECRBY', KEYS[2], math.min(d, n)) end
end
return n
`;

/**
 * At send time: a slot is used only if the sends already made (or due) in the last minute and hour,
 * other than itself, leave room; it then moves to the actual time. Reservations assume every slot
 * runs on time; a job that runs late would otherwise crowd the next minute's slots. Several slots
 * are confirmed in order, as if one by one, up to the first refused; returns how many were confirmed.
 */
const CONFIRM = `
local slots = KEYS[1]
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('PEXPIRE', KEYS[2], 7200000)
local now, perMin, perHour = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local confirmed = 0
for i = 4, #ARGV do
  local member = ARGV[i]
  local own = redis.call('ZSCORE', slots, member)
  local function others(from)
    local n = redis.call('ZCOUNT', slots, from, now)
    if own and tonumber(own) >= from and tonumber(own) <= now then n = n - 1 end
    return n
  end
  if others(now - ${MINUTE - 1}) >= perMin then break end
  if others(now - ${HOUR - 1}) >= perHour then break end
  redis.call('ZADD', slots, now, member)
  confirmed = confirmed + 1
end
return confirmed
`;

/** CONFIRM with the campaign's window too (KEYS 3–4: its slots and marker; ARGV 4–5 its caps; members from 6). */
const CONFIRM_CAPPED = `
local slots, cslots = KEYS[1], KEYS[3]
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[4]) == 0 then return -2 end
redis.call('PEXPIRE', KEYS[2], 7200000)
redis.call('PEXPIRE', KEYS[4], 7200000)
local now, perMin, perHour = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cPerMin, cPerHour = tonumber(ARGV[4]), tonumber(ARGV[5])
local confirmed = 0
local function others(set, member, from)
  local n = redis.call('ZCOUNT', set, from, now)
  local own = redis.call('ZSCORE', set, member)
  if own and tonumber(own) >= from and tonumber(own) <= now then n = n - 1 end
  return n
end
for i = 6, #ARGV do
  local member = ARGV[i]
  if others(slots, member, now - ${MINUTE - 1}) >= perMin then break end
  if others(slots, member, now - ${HOUR - 1}) >= perHour then break end
  if others(cslots, member, now - ${MINUTE - 1}) >= cPerMin then break end
  if others(cslots, member, now - ${HOUR - 1}) >= cPerHour then break end
  redis.call('ZADD', slots, now, member)
  redis.call('ZADD', cslots, now, member)
  confirmed = confirmed + 1
end
if confirmed > 0 then redis.call('PEXPIRE', cslots, 7200000) end
return confirmed
`;

/**
 * Rebuilds an instance's state from PostgreSQL's sends (members added with NX: seeding twice counts
 * nothing twice), then sets the marker. KEYS: slots, last, day (of the seed's local day), seeded.
 * ARGV: lastAt, dayCount, then (score, member) pairs.
 */
const SEED = `
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], 'NX', ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('PEXPIRE', KEYS[1], 7200000) end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > last then redis.call('SET', KEYS[2], ARGV[1], 'PX', 7200000) end
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[2]) > day then redis.call('SET', KEYS[3], ARGV[2], 'PX', 3 * 86400000) end
redis.call('SET', KEYS[4], '1', 'PX', 7200000)
return 1
`;

/** Moves slots later (never earlier), only those still held: KEYS[1] slots; ARGV (score, member) pairs. */
const RESTAMP = `
local n = 0
for i = 1, #ARGV, 2 do n = n + redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', ARGV[i], ARGV[i + 1]) end
return n
`;

/** Pairs per SEED call (an hour of a busy instance is tens of thousands of sends). */
const SEED_CHUNK = 2000;

export interface InstanceLimits {
  perMinute: number;
  perHour: number;
  /** Effective daily limit (warm-up and re-admission already applied). */
  perDay: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export interface Reservation {
  slots: Array<{ id: string; at: number }>;
  /**
   * Why fewer slots than asked were reserved: the next free slot is past the horizon, the instance's
   * day is used up, or the campaign's (`campaign-day`).
   */
  stoppedBy: 'none' | 'horizon' | 'day' | 'campaign-day';
  /** With `horizon`: when the next slot would be free. */
  nextAt: number | null;
}

/** No cap, for the scripts (a number Lua compares exactly). */
const NO_CAP = 2 ** 50;

type LimiterRedis = RedisClient & {
  wcReserve(slots: string, last: string, day: string, seeded: string, ...args: Array<string | number>): Promise<[number, number, string[]]>;
  wcReserveCapped(slots: string, last: string, day: string, seeded: string, cslots: string, cday: string, cseeded: string, ...args: Array<string | number>): Promise<[number, number, string[]]>;
  wcReleaseMany(slots: string, day: string, ...members: string[]): Promise<number>;
  wcConfirmMany(slots: string, seeded: string, now: number, perMinute: number, perHour: number, ...members: string[]): Promise<number>;
  wcConfirmManyCapped(slots: string, seeded: string, cslots: string, cseeded: string, ...args: Array<string | number>): Promise<number>;
  wcSeed(slots: string, last: string, day: string, seeded: string, ...args: Array<string | number>): Promise<number>;
  wcRestamp(slots: string, ...args: Array<string | number>): Promise<number>;
};

export class InstanceLimiter {
  private readonly redis: LimiterRedis;
  private readonly seeding = new Map<string, Promise<void>>();

  /**
   * @param seedFrom what PostgreSQL knows of an instance's recent sends (limiter-seed.ts by default);
   * @param onSeeded called after the state of an instance was rebuilt (Redis lost it, or it expired);
   * @param campaignSeedFrom the same for a campaign with caps (its recipients' sends).
   */
  constructor(
    redis: RedisClient,
    private readonly seedFrom: (instanceId: string) => Promise<LimiterSeed> = limiterSeedFromDatabase,
    private readonly onSeeded: (instanceId: string, seed: LimiterSeed) => void = () => undefined,
    private readonly campaignSeedFrom: (campaignId: string) => Promise<LimiterSeed> = campaignLimiterSeedFromDatabase,
  ) {
    if (!(redis as unknown as Partial<LimiterRedis>).wcSeed) {
      redis.defineCommand('wcReserve', { numberOfKeys: 4, lua: RESERVE });
      redis.defineCommand('wcReserveCapped', { numberOfKeys: 7, lua: RESERVE_CAPPED });
      redis.defineCommand('wcReleaseMany', { numberOfKeys: 2, lua: RELEASE });
      redis.defineCommand('wcConfirmMany', { numberOfKeys: 2, lua: CONFIRM });
      redis.defineCommand('wcConfirmManyCapped', { numberOfKeys: 4, lua: CONFIRM_CAPPED });
      redis.defineCommand('wcSeed', { numberOfKeys: 4, lua: SEED });
      redis.defineCommand('wcRestamp', { numberOfKeys: 1, lua: RESTAMP });
    }
    this.redis = redis as LimiterRedis;
  }

  private keys(tenantId: string, instanceId: string, localDay: string) {
    return [
      tenantKey(tenantId, 'limit', instanceId, 'slots'),
      tenantKey(tenantId, 'limit', instanceId, 'last'),
      tenantKey(tenantId, 'limit', instanceId, 'day', localDay),
      tenantKey(tenantId, 'limit', instanceId, 'seeded'),
    ] as const;
  }

  /** A campaign's keys, in the instance's order (its `last` is only written by a seed: no gap between a campaign's sends). */
  private campaignKeys(tenantId: string, campaignId: string, localDay: string) {
    return [
      tenantKey(tenantId, 'climit', campaignId, 'slots'),
      tenantKey(tenantId, 'climit', campaignId, 'last'),
      tenantKey(tenantId, 'climit', campaignId, 'day', localDay),
      tenantKey(tenantId, 'climit', campaignId, 'seeded'),
    ] as const;
  }

  /** Rebuilds the instance's state from PostgreSQL (one rebuild at a time per instance in this process). */
  async seed(tenantId: string, instanceId: string): Promise<void> {
    return this.rebuild(instanceId, (id, day) => this.keys(tenantId, id, day), this.seedFrom, (seed) => this.onSeeded(instanceId, seed));
  }

  /** Rebuilds a campaign's state from PostgreSQL (its recipients' sends of the last hour and local day). */
  async seedCampaign(tenantId: string, campaignId: string): Promise<void> {
    return this.rebuild(`c:${campaignId}`, (_id, day) => this.campaignKeys(tenantId, campaignId, day), () => this.campaignSeedFrom(campaignId), () => undefined);
  }

  private async rebuild(
    id: string,
    keysOf: (id: string, localDay: string) => readonly [string, string, string, string],
    from: (id: string) => Promise<LimiterSeed>,
    done: (seed: LimiterSeed) => void,
  ): Promise<void> {
    let running = this.seeding.get(id);
    if (!running) {
      running = (async () => {
        const seed = await from(id);
        const [slotsKey, lastKey, dayKey, seededKey] = keysOf(id, seed.localDay);
        const pairs = seed.sends.flatMap((s) => [s.at, s.member]);
        const chunks: Array<Array<string | number>> = [];
        for (let i = 0; i < pairs.length; i += SEED_CHUNK * 2) chunks.push(pairs.slice(i, i + SEED_CHUNK * 2));
        // The marker is set by the last call only: a rebuild cut short is done again.
        const last = chunks.pop() ?? [];
        for (const chunk of chunks) await this.redis.zadd(slotsKey, 'NX', ...chunk);
        await this.redis.wcSeed(slotsKey, lastKey, dayKey, seededKey, seed.lastAt, seed.dayCount, ...last);
        done(seed);
      })().finally(() => this.seeding.delete(id));
      this.seeding.set(id, running);
    }
    return running;
  }

  /**
   * Runs a script that answers -1 when the instance's state is missing and -2 when the campaign's is:
   * rebuilds what is missing and runs it again (at most twice: both may be missing).
   */
  private async withState<T>(tenantId: string, instanceId: string, caps: CampaignCaps | null, code: (r: T) => number, call: () => Promise<T>): Promise<T> {
    let answer = await call();
    for (let round = 0; round < 2; round++) {
      const missing = code(answer);
      if (missing === -1) await this.seed(tenantId, instanceId);
      else if (missing === -2 && caps) await this.seedCampaign(tenantId, caps.campaignId);
      else return answer;
      answer = await call();
    }
    const missing = code(answer);
    if (missing === -1 || missing === -2) {
      throw new Error(`the limiter state of ${missing === -1 ? `instance ${instanceId}` : `campaign ${caps?.campaignId}`} could not be rebuilt`);
    }
    return answer;
  }

  /** Reserves up to `count` slots within `horizonMs` of `now`, within the campaign's caps too when it has any. */
  async reserve(
    tenantId: string,
    instanceId: string,
    limits: InstanceLimits,
    count: number,
    opts: { now: number; horizonMs: number; localDay: string; random?: () => number },
    caps: CampaignCaps | null = null,
  ): Promise<Reservation> {
    if (count <= 0) return { slots: [], stoppedBy: 'none', nextAt: null };
    const random = opts.random ?? Math.random;
    const gaps: number[] = [];
    for (let i = 0; i < count; i++) {
      gaps.push(Math.round(limits.minDelayMs + random() * Math.max(0, limits.maxDelayMs - limits.minDelayMs)));
    }
    const [slotsKey, lastKey, dayKey, seededKey] = this.keys(tenantId, instanceId, opts.localDay);
    const prefix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const args = [opts.now, limits.perMinute, limits.perHour, limits.perDay, opts.horizonMs, count, prefix];
    const call = () => {
      if (!caps) return this.redis.wcReserve(slotsKey, lastKey, dayKey, seededKey, ...args, ...gaps);
      const [cslots, , cday, cseeded] = this.campaignKeys(tenantId, caps.campaignId, opts.localDay);
      return this.redis.wcReserveCapped(slotsKey, lastKey, dayKey, seededKey, cslots, cday, cseeded, ...args, caps.perMinute ?? NO_CAP, caps.perHour ?? NO_CAP, caps.perDay ?? NO_CAP, ...gaps);
    };
    const [stop, nextAt, flat] = await this.withState(tenantId, instanceId, caps, (a) => a[0], call);
    const slots: Reservation['slots'] = [];
    for (let i = 0; i < flat.length; i += 2) slots.push({ id: flat[i] as string, at: Number(flat[i + 1]) });
    const stoppedBy = stop === 3 ? 'campaign-day' : stop === 2 ? 'day' : stop === 1 ? 'horizon' : 'none';
    return { slots, stoppedBy, nextAt: stop === 1 ? nextAt : null };
  }

  /** Whether the slot may be used now (see CONFIRM); when it may, it is recorded at `now`. */
  async confirm(tenantId: string, instanceId: string, slotId: string, limits: Pick<InstanceLimits, 'perMinute' | 'perHour'>, now: number, caps: CampaignCaps | null = null): Promise<boolean> {
    return (await this.confirmMany(tenantId, instanceId, [slotId], limits, now, caps)) === 1;
  }

  /**
   * The slots, in order, that may be used now: how many of the first ones were confirmed (and
   * recorded at `now`). The ones after the first refused are not: the minute or hour is full (the
   * instance's, or the campaign's when it has caps).
   */
  async confirmMany(
    tenantId: string,
    instanceId: string,
    slotIds: readonly string[],
    limits: Pick<InstanceLimits, 'perMinute' | 'perHour'>,
    now: number,
    caps: CampaignCaps | null = null,
  ): Promise<number> {
    if (slotIds.length === 0) return 0;
    const [slotsKey, , , seededKey] = this.keys(tenantId, instanceId, '');
    const call = () => {
      if (!caps) return this.redis.wcConfirmMany(slotsKey, seededKey, now, limits.perMinute, limits.perHour, ...slotIds);
      const [cslots, , , cseeded] = this.campaignKeys(tenantId, caps.campaignId, '');
      return this.redis.wcConfirmManyCapped(slotsKey, seededKey, cslots, cseeded, now, limits.perMinute, limits.perHour, caps.perMinute ?? NO_CAP, caps.perHour ?? NO_CAP, ...slotIds);
    };
    return this.withState(tenantId, instanceId, caps, (n) => n, call);
  }

  /**
   * Moves used slots to a later time (`at`): a send answered late may have been handled by Evolution
   * as late as its answer, and counts from then. Slots are never moved earlier. Returns how many moved.
   */
  async restamp(tenantId: string, instanceId: string, slots: ReadonlyArray<{ slot: string; at: number }>, caps: CampaignCaps | null = null): Promise<number> {
    if (slots.length === 0) return 0;
    const [slotsKey] = this.keys(tenantId, instanceId, '');
    const pairs = slots.flatMap((s) => [s.at, s.slot]);
    if (!caps) return this.redis.wcRestamp(slotsKey, ...pairs);
    const [cslots] = this.campaignKeys(tenantId, caps.campaignId, '');
    const [own] = await Promise.all([this.redis.wcRestamp(slotsKey, ...pairs), this.redis.wcRestamp(cslots, ...pairs)]);
    return own;
  }

  /** Gives back a slot that was not used, so it does not count against the limits. */
  async release(tenantId: string, instanceId: string, slotId: string, localDay: string, caps: CampaignCaps | null = null): Promise<boolean> {
    return (await this.releaseMany(tenantId, instanceId, [slotId], localDay, caps)) === 1;
  }

  /** Gives back unused slots in one call (the campaign's too when it has caps); returns how many the instance still held. */
  async releaseMany(tenantId: string, instanceId: string, slotIds: readonly string[], localDay: string, caps: CampaignCaps | null = null): Promise<number> {
    if (slotIds.length === 0) return 0;
    const [slotsKey, , dayKey] = this.keys(tenantId, instanceId, localDay);
    if (!caps) return this.redis.wcReleaseMany(slotsKey, dayKey, ...slotIds);
    const [cslots, , cday] = this.campaignKeys(tenantId, caps.campaignId, localDay);
    const [own] = await Promise.all([this.redis.wcReleaseMany(slotsKey, dayKey, ...slotIds), this.redis.wcReleaseMany(cslots, cday, ...slotIds)]);
    return own;
  }
}
