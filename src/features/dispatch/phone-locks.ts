import { sqlRows } from '../../infra/db/sql.js';
import { Prisma } from '../../generated/prisma/client.js';
import { type RedisClient, tenantKey } from '../../infra/redis.js';

/**
 * One message at a time per phone, across campaigns, processes and follow-ups: a Redis key per
 * tenant and phone, held (with an expiry past the Evolution timeout) from the claim until the
 * outcome is recorded. Several phones are taken or given back in one round trip (one per tenant: a
 * tenant's locks share a Redis Cluster slot, tenantKey).
 */
const TAKE = `
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1], 'NX') and 1 or 0
end
return out
`;

/** Deletes each key only if it still holds this holder's value (an expired lock may belong to someone else now). */
const GIVE_BACK = `
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then n = n + redis.call('DEL', KEYS[i]) end
end
return n
`;

type LockRedis = RedisClient & {
  wcTakePhones(numberOfKeys: number, ...args: Array<string | number>): Promise<number[]>;
  wcGiveBackPhones(numberOfKeys: number, ...args: string[]): Promise<number>;
};

export function phoneKey(tenantId: string, phone: string): string {
  return tenantKey(tenantId, 'phone', phone);
}

export interface PhoneHold {
  tenantId: string;
  phone: string;
  /** What the lock holds: the recipient (or follow-up) id. */
  holder: string;
}

function withCommands(redis: RedisClient): LockRedis {
  const r = redis as LockRedis;
  if (!r.wcTakePhones) {
    redis.defineCommand('wcTakePhones', { lua: TAKE });
    redis.defineCommand('wcGiveBackPhones', { lua: GIVE_BACK });
  }
  return r;
}

/**
 * Until this time, Redis may have lost locks still held (its limiter state had to be rebuilt: a restart
 * without persistence, a failover), so PostgreSQL is asked too which phones have a send in flight.
 */
let doubtUntil = 0;

/** Redis lost state: for `ms` (a send's longest flight), phones are also checked against PostgreSQL. */
export function doubtPhoneLocks(ms: number) {
  doubtUntil = Math.max(doubtUntil, Date.now() + ms);
}

/** Phones among `holds` with a send in flight in PostgreSQL (a campaign recipient or a follow-up), other than the holder. */
async function inFlight(holds: readonly PhoneHold[]): Promise<Set<string>> {
  const tenants = [...new Set(holds.map((h) => h.tenantId))];
  const phones = [...new Set(holds.map((h) => h.phone))];
  const holders = holds.map((h) => h.holder);
  const rows = await sqlRows<{ tenant_id: string; phone: string }>(Prisma.sql`
    SELECT r.tenant_id, r.phone FROM recipient r
    WHERE r.campaign_id IN (SELECT id FROM campaign WHERE tenant_id = ANY(${tenants}::uuid[]) AND updated_at > now() - interval '1 hour')
      AND r.status = 'SENDING' AND r.phone = ANY(${phones}::text[]) AND r.id::text <> ALL(${holders}::text[])
    UNION
    SELECT f.tenant_id, ct.phone FROM follow_up f JOIN contact ct ON ct.id = f.contact_id
    WHERE f.status = 'SENDING' AND f.tenant_id = ANY(${tenants}::uuid[]) AND ct.phone = ANY(${phones}::text[]) AND f.id::text <> ALL(${holders}::text[])`);
  return new Set(rows.map((r) => `${r.tenant_id}:${r.phone}`));
}

/** Takes each phone's lock if it is free; returns, per phone, whether it was taken. */
export async function takePhones(redis: RedisClient, holds: readonly PhoneHold[], ttlMs: number): Promise<boolean[]> {
  if (holds.length === 0) return [];
  const result: boolean[] = new Array<boolean>(holds.length).fill(false);
  await Promise.all(
    byTenant(holds).map(async (group) => {
      const taken = await withCommands(redis).wcTakePhones(
        group.length,
        ...group.map(({ hold }) => phoneKey(hold.tenantId, hold.phone)),
        ttlMs,
        ...group.map(({ hold }) => hold.holder),
      );
      group.forEach(({ index }, k) => (result[index] = taken[k] === 1));
    }),
  );
  if (Date.now() < doubtUntil && result.some(Boolean)) {
    const busy = await inFlight(holds.filter((_, i) => result[i]));
    const refused = holds.filter((h, i) => result[i] && busy.has(`${h.tenantId}:${h.phone}`));
    if (refused.length > 0) {
      await giveBackPhones(redis, refused);
      holds.forEach((h, i) => {
        if (busy.has(`${h.tenantId}:${h.phone}`)) result[i] = false;
      });
    }
  }
  return result;
}

/** Gives back the locks these holders still hold. */
export async function giveBackPhones(redis: RedisClient, holds: readonly PhoneHold[]): Promise<void> {
  if (holds.length === 0) return;
  await Promise.all(
    byTenant(holds).map((group) =>
      withCommands(redis).wcGiveBackPhones(group.length, ...group.map(({ hold }) => phoneKey(hold.tenantId, hold.phone)), ...group.map(({ hold }) => hold.holder)),
    ),
  );
}

/** The holds grouped by tenant (one script call per slot), each with its index in `holds`. */
function byTenant(holds: readonly PhoneHold[]): Array<Array<{ hold: PhoneHold; index: number }>> {
  const groups = new Map<string, Array<{ hold: PhoneHold; index: number }>>();
  holds.forEach((hold, index) => {
    const group = groups.get(hold.tenantId);
    if (group) group.push({ hold, index });
    else groups.set(hold.tenantId, [{ hold, index }]);
  });
  return [...groups.values()];
}
