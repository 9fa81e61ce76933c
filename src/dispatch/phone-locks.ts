import type { Redis } from 'ioredis';
import { redisKey } from '../redis.js';

/**
 * One message at a time per phone, across campaigns, processes and follow-ups: a Redis key per
 * tenant and phone, held (with an expiry past the Evolution timeout) from the claim until the
 * outcome is recorded. Several phones are taken or given back in one round trip.
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

type LockRedis = Redis & {
  wcTakePhones(numberOfKeys: number, ...args: Array<string | number>): Promise<number[]>;
  wcGiveBackPhones(numberOfKeys: number, ...args: string[]): Promise<number>;
};

export function phoneKey(tenantId: string, phone: string): string {
  return redisKey('phone', tenantId, phone);
}

export interface PhoneHold {
  tenantId: string;
  phone: string;
  /** What the lock holds: the recipient (or follow-up) id. */
  holder: string;
}

function withCommands(redis: Redis): LockRedis {
  const r = redis as LockRedis;
  if (!r.wcTakePhones) {
    redis.defineCommand('wcTakePhones', { lua: TAKE });
    redis.defineCommand('wcGiveBackPhones', { lua: GIVE_BACK });
  }
  return r;
}

/** Takes each phone's lock if it is free; returns, per phone, whether it was taken. */
export async function takePhones(redis: Redis, holds: readonly PhoneHold[], ttlMs: number): Promise<boolean[]> {
  if (holds.length === 0) return [];
  const taken = await withCommands(redis).wcTakePhones(
    holds.length,
    ...holds.map((h) => phoneKey(h.tenantId, h.phone)),
    ttlMs,
    ...holds.map((h) => h.holder),
  );
  return taken.map((t) => t === 1);
}

/** Gives back the locks these holders still hold. */
export async function giveBackPhones(redis: Redis, holds: readonly PhoneHold[]): Promise<void> {
  if (holds.length === 0) return;
  await withCommands(redis).wcGiveBackPhones(holds.length, ...holds.map((h) => phoneKey(h.tenantId, h.phone)), ...holds.map((h) => h.holder));
}
