import { Cluster, Redis } from 'ioredis';

/**
 * Keys and deletions by pattern that work on one Redis and on a Redis Cluster: SCAN walks one node's
 * keys only, so on a cluster every master is scanned; and keys of different slots cannot go in one
 * DEL, so they are unlinked one by one (in one pipeline per node).
 */
function nodesOf(redis: Redis | Cluster): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

export async function keysMatching(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of nodesOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key matching `pattern`; returns how many were found. */
export async function deleteKeysMatching(redis: Redis | Cluster, pattern: string): Promise<number> {
  let n = 0;
  for (const node of nodesOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      n += keys.length;
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      await pipeline.exec();
    } while (cursor !== '0');
  }
  return n;
}

/** `REDIS_CLUSTER_NODES`-style `host:port,host:port` as ioredis Cluster seeds. */
export function clusterSeeds(nodes: string): Array<{ host: string; port: number }> {
  return nodes
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) }));
}
