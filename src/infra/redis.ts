import { Redis, type RedisOptions } from 'ioredis';
import { config } from './config/index.js';

/**
 * Redis connections by role (BullMQ's production guide):
 * - `worker`: blocking commands, must retry forever (maxRetriesPerRequest: null).
 * - `producer`: on a request path, fails fast instead of queueing commands while Redis is down.
 * - `publisher` / `subscriber`: pub/sub needs its own connections.
 */
export type RedisRole = 'worker' | 'producer' | 'publisher' | 'subscriber' | 'command';

export function createRedis(role: RedisRole, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = { connectionName: `${config.redisPrefix}:${role}:${process.pid}`, lazyConnect: false };
  const byRole: Record<RedisRole, RedisOptions> = {
    worker: { maxRetriesPerRequest: null },
    producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    publisher: { maxRetriesPerRequest: 3 },
    subscriber: { maxRetriesPerRequest: null },
    command: { maxRetriesPerRequest: 3 },
  };
  return new Redis(config.redisUrl, { ...base, ...byRole[role], ...extra });
}

/** A key or channel name inside this deployment's namespace. */
export function redisKey(...parts: Array<string | number>): string {
  return [config.redisPrefix, ...parts].join(':');
}
