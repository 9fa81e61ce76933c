import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { config } from './config/index.js';

/** A connection to one Redis, or to a Redis Cluster (REDIS_CLUSTER_NODES): the same commands on both. */
export type RedisClient = Redis | Cluster;

/**
 * Redis connections by role (BullMQ's production guide):
 * - `worker`: blocking commands, must retry forever (maxRetriesPerRequest: null).
 * - `producer`: on a request path, fails fast instead of queueing commands while Redis is down.
 * - `publisher` / `subscriber`: pub/sub needs its own connections.
 */
export type RedisRole = 'worker' | 'producer' | 'publisher' | 'subscriber' | 'command';

/** Options of a connection; on a cluster, `enableOfflineQueue` and `enableReadyCheck` are the cluster's, the rest each node's. */
export type RedisExtra = Pick<RedisOptions, 'maxRetriesPerRequest' | 'enableReadyCheck' | 'enableOfflineQueue'>;

export function createRedis(role: RedisRole, extra: RedisExtra = {}): RedisClient {
  const base: RedisOptions = { connectionName: `${config.redisPrefix}:${role}:${process.pid}`, lazyConnect: false };
  const byRole: Record<RedisRole, RedisExtra> = {
    worker: { maxRetriesPerRequest: null },
    producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    publisher: { maxRetriesPerRequest: 3 },
    subscriber: { maxRetriesPerRequest: null },
    command: { maxRetriesPerRequest: 3 },
  };
  const options = { ...base, ...byRole[role], ...extra };
  if (config.redisClusterNodes.length === 0) return new Redis(config.redisUrl, options);
  return createCluster(options);
}

/**
 * A Cluster over REDIS_CLUSTER_NODES (and REDIS_URL's host), with REDIS_URL's user, password and TLS
 * on every node. The cluster itself finds the other nodes and follows slots as they move (MOVED/ASK).
 */
function createCluster(options: RedisOptions): Cluster {
  const url = new URL(config.redisUrl);
  const { enableOfflineQueue, enableReadyCheck, ...node } = options;
  const seeds = [...config.redisClusterNodes, { host: url.hostname, port: Number(url.port || 6379) }];
  const clusterOptions: ClusterOptions = {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    redisOptions: {
      ...node,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
  return new Cluster(seeds, clusterOptions);
}

/** Whether this deployment runs on a Redis Cluster. */
export function onCluster(): boolean {
  return config.redisClusterNodes.length > 0;
}

/** A key or channel name inside this deployment's namespace. */
export function redisKey(...parts: Array<string | number>): string {
  return [config.redisPrefix, ...parts].join(':');
}

/**
 * A key of one tenant's dispatch state (limiter windows, pace gates, go marks, phone locks, the
 * fair-share sets). Its hash tag (`{t:<tenantId>}`) puts every such key of the tenant in one cluster
 * slot, so that one Lua script or MULTI may touch an instance's and a campaign's keys together (a
 * campaign's instances are the tenant's). On a single Redis the braces are only characters.
 */
export function tenantKey(tenantId: string, ...parts: Array<string | number>): string {
  return [config.redisPrefix, `{t:${tenantId}}`, ...parts].join(':');
}

/**
 * BullMQ's key prefix of a queue: the queue's keys share a hash tag (every BullMQ script touches
 * several keys of one queue), and each queue has its own, so that queues spread over the cluster's
 * masters (https://docs.bullmq.io/guide/redis-cluster). No BullMQ script spans two queues (no flows).
 */
export function bullPrefix(queue: string): string {
  return `${config.redisPrefix}:bull:{${config.redisPrefix}:${queue}}`;
}
