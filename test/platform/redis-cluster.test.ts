import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { goKey, paceKey } from '../../src/features/dispatch/pace.js';
import { phoneKey } from '../../src/features/dispatch/phone-locks.js';
import { outstandingKey, tenantOutstandingKey } from '../../src/features/dispatch/send.js';
import { config } from '../../src/infra/config/index.js';
import { bullPrefix, createRedis, tenantKey } from '../../src/infra/redis.js';

/** What Redis Cluster hashes: the first non-empty `{…}` of the key, else the whole key. */
function hashed(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('Redis Cluster', () => {
  const redis = createRedis('command');
  afterAll(async () => {
    await redis.quit();
  });

  it('every connection is a Cluster exactly when REDIS_CLUSTER_NODES is set, and answers', async () => {
    expect(redis instanceof Cluster).toBe(config.redisClusterNodes.length > 0);
    expect(await redis.ping()).toBe('PONG');
    const key = tenantKey(randomUUID(), 'probe');
    await redis.set(key, '1', 'PX', 10_000);
    expect(await redis.get(key)).toBe('1');
  });

  it("the keys one script or MULTI touches hash alike: a tenant's dispatch keys, one queue's BullMQ keys", async () => {
    const [t, other, instance, campaign] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const together = [
      tenantKey(t, 'limit', instance, 'slots'),
      tenantKey(t, 'limit', instance, 'day', '2026-06-01'),
      tenantKey(t, 'climit', campaign, 'seeded'),
      paceKey(t, instance),
      goKey(t, campaign),
      phoneKey(t, '+5511999990000'),
      outstandingKey(t, campaign),
      tenantOutstandingKey(t),
    ];
    expect(new Set(together.map(hashed))).toEqual(new Set([`t:${t}`]));
    expect(hashed(tenantKey(other, 'limit', instance, 'slots'))).not.toBe(hashed(together[0] as string));
    // BullMQ's keys are `<prefix>:<queue>:<suffix>`: one tag per queue, a different one per queue.
    expect(hashed(`${bullPrefix('sends')}:sends:wait`)).toBe(hashed(`${bullPrefix('sends')}:sends:123`));
    expect(hashed(`${bullPrefix('sends')}:sends:wait`)).not.toBe(hashed(`${bullPrefix('campaigns')}:campaigns:wait`));
    // The prefix cannot carry a brace (REDIS_PREFIX: letters, digits, - and _): the tags above are the first.
    expect(config.redisPrefix).toMatch(/^[A-Za-z0-9_-]+$/);
    if (redis instanceof Cluster) {
      // The server agrees (CLUSTER KEYSLOT exists on a cluster only).
      const slots = await Promise.all(together.map((k) => redis.cluster('KEYSLOT', k)));
      expect(new Set(slots).size).toBe(1);
    }
  });
});
