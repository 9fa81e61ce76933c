import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import { createRedis, redisKey } from '../redis.js';
import { TOPIC_KEY, type Topic, type Topics } from './topics.js';

/**
 * Redis pub/sub shared by every process: workers and API servers publish, API servers subscribe.
 * A tenant-wide channel (`…:*`) also receives every event of the topic, for "all instances" feeds.
 */
export function channel(topic: Topic, tenantId: string, key: string | '*'): string {
  return redisKey('pubsub', topic, tenantId, key);
}

let publisher: Redis | null = null;
let engine: RedisPubSub | null = null;

function getPublisher(): Redis {
  publisher ??= createRedis('publisher');
  return publisher;
}

/** The subscribing side (API servers only); created on first use. */
export function pubsubEngine(): RedisPubSub {
  // No ready check on the subscriber: ioredis writes SUBSCRIBE during the handshake, and the INFO of
  // its ready check then fails ("only subscriber commands may be used") when the first subscriptions
  // of a fresh process arrive together.
  engine ??= new RedisPubSub({ publisher: getPublisher(), subscriber: createRedis('subscriber', { enableReadyCheck: false }) });
  return engine;
}

export async function publish<T extends Topic>(topic: T, payload: Topics[T] & { tenantId: string }): Promise<void> {
  const body = JSON.stringify(payload);
  const p = getPublisher();
  const tenantWide = topic === 'instance:health';
  await Promise.all([
    p.publish(channel(topic, payload.tenantId, TOPIC_KEY[topic](payload)), body),
    tenantWide ? p.publish(channel(topic, payload.tenantId, '*'), body) : undefined,
  ]);
}

/** Publishes and never throws: a lost live event must not undo a committed change (clients re-read state). */
export function publishSafely<T extends Topic>(topic: T, payload: Topics[T] & { tenantId: string }, onError: (e: unknown) => void) {
  publish(topic, payload).catch(onError);
}

export async function closePubsub(): Promise<void> {
  const e = engine;
  const p = publisher;
  engine = null;
  publisher = null;
  if (e) await e.close().catch(() => undefined);
  else if (p) await p.quit().catch(() => undefined);
}
