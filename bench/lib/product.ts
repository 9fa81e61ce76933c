// The product's own parts for benchmarks: a scratch database migrated like production, the
// environment its processes read, and a way to load its modules in the benchmark's own process.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { REDIS_URL, scratchDatabase } from './measure.js';

export interface ProductDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new database with every migration applied (`prisma migrate deploy`), dropped by `drop()`. */
export async function productDatabase(): Promise<ProductDatabase> {
  const db = await scratchDatabase();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], {
    env: { ...process.env, DATABASE_URL: db.url },
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    await db.drop();
    throw new Error(`migrate deploy failed:\n${r.stdout}\n${r.stderr}`);
  }
  return db;
}

/** The environment of the product's processes for a benchmark run (own Redis prefix, no logs). */
export function productEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL: REDIS_URL,
    REDIS_PREFIX: `wcb_${randomBytes(4).toString('hex')}`,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    HOST: '127.0.0.1',
    PORT: '0',
    ...extra,
  };
}

/**
 * Puts `env` into this process's environment. The product's modules read their configuration when
 * first imported, so import them (dynamically) only after this.
 */
export function useProductEnv(env: Record<string, string>) {
  Object.assign(process.env, env);
}

/** Deletes every Redis key of a benchmark's prefix. */
export async function dropRedisPrefix(prefix: string) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
