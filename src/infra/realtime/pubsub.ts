import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Cluster } from 'ioredis';
import { createRedis, type RedisClient, redisKey } from '../redis.js';
import { TOPIC_KEY, type Topic, type Topics } from './topics.js';

/**
 * Redis pub/sub shared by every process: workers and API servers publish, API servers subscribe.
 * A tenant-wide channel (`…:*`) also receives every event of the topic, for "all instances" feeds.
 */
export function channel(topic: Topic, tenantId: string, key: string | '*'): string {
  return redisKey('pubsub', topic, tenantId, key);
}

let publisher: RedisClient | null = null;
let engine: RedisPubSub | null = null;

function getPublisher(): RedisClient {
  publisher ??= createRedis('publisher');
  return publisher;
}

/** The publisher's connection also serves the few plain commands of request paths (it never subscribes). */
export function publisherConnection(): RedisClient {
  return getPublisher();
}

/**
 * Where this process publishes. On a cluster a command without a key (PUBLISH) goes to a random
 * node, which forwards it to the others on the cluster bus: two events of one channel published
 * through two nodes may reach a subscriber in either order. Every PUBLISH of a process goes through
 * one master (the first by address; another once it is gone), which keeps them in order.
 */
function publishingNode(): RedisClient {
  const publisher = getPublisher();
  if (!(publisher instanceof Cluster)) return publisher;
  const masters = publisher.nodes('master');
  const address = (n: (typeof masters)[number]) => `${n.options.host}:${n.options.port}`;
  return masters.reduce<(typeof masters)[number] | null>((a, b) => (a && address(a) <= address(b) ? a : b), null) ?? publisher;
}

/** The subscribing side (API servers only); created on first use. */
export function pubsubEngine(): RedisPubSub {
  // No ready check on the subscriber: ioredis writes SUBSCRIBE during the handshake, and the INFO of
  // its ready check then fails ("only subscriber commands may be used") when the first subscriptions
  // of a fresh process arrive together.
  if (!engine) {
    const subscriber = createRedis('subscriber', { enableReadyCheck: false });
    engine = subscriber instanceof Cluster ? new ClusterPubSub(getPublisher(), subscriber) : new RedisPubSub({ publisher: getPublisher(), subscriber });
  }
  return engine;
}

/**
 * On a Redis Cluster, ioredis subscribes through a connection of its own to one node, made when the
 * first SUBSCRIBE is sent, and always with a ready check: a SUBSCRIBE written while that INFO is in
 * flight fails it ("only subscriber commands may be used") and the subscriptions with it. So one
 * SUBSCRIBE goes first (queued until the connection is ready), and every subscription waits for it.
 * A cluster delivers every PUBLISH to every node: one node's connection hears every channel.
 */
class ClusterPubSub extends RedisPubSub {
  private readonly warm: Promise<unknown>;
  constructor(publisher: RedisClient, subscriber: Cluster) {
    super({ publisher, subscriber });
    this.warm = subscriber.subscribe(redisKey('pubsub', 'ready')).catch(() => undefined);
  }
  override async subscribe<T = unknown>(trigger: string, onMessage: (message: T) => void, options?: unknown): Promise<number> {
    await this.warm;
    return super.subscribe(trigger, onMessage, options);
  }
}

export async function publish<T extends Topic>(topic: T, payload: Topics[T] & { tenantId: string }): Promise<void> {
  const [failure] = await publishAll([{ topic, payload }]);
  if (failure) throw failure.error;
}

/** The channels an event goes to: its own, and for instance health the tenant-wide one too. */
function channelsOf(topic: Topic, payload: { tenantId: string }): string[] {
  const own = channel(topic, payload.tenantId, TOPIC_KEY[topic](payload as never));
  return topic === 'instance:health' ? [own, channel(topic, payload.tenantId, '*')] : [own];
}

/**
 * Publishes several events in one write to Redis (a pipeline: one round trip, not one per channel).
 * Resolves with the events that could not be published, and why; the others were.
 */
export async function publishAll(events: ReadonlyArray<{ topic: Topic; payload: Topics[Topic] & { tenantId: string } }>): Promise<Array<{ topic: Topic; error: unknown }>> {
  if (events.length === 0) return [];
  const pipeline = publishingNode().pipeline();
  /** For each command of the pipeline, the event it publishes. */
  const eventOf: number[] = [];
  events.forEach(({ topic, payload }, i) => {
    const body = JSON.stringify(payload);
    for (const c of channelsOf(topic, payload)) {
      pipeline.publish(c, body);
      eventOf.push(i);
    }
  });
  const errors = new Map<number, unknown>();
  try {
    const results = await pipeline.exec();
    if (!results) throw new Error('the publish pipeline was discarded');
    results.forEach(([err], k) => {
      const i = eventOf[k] as number;
      if (err && !errors.has(i)) errors.set(i, err);
    });
  } catch (error) {
    events.forEach((_, i) => errors.set(i, error));
  }
  return events.flatMap(({ topic }, i) => (errors.has(i) ? [{ topic, error: errors.get(i) }] : []));
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
