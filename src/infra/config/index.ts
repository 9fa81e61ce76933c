import { z } from 'zod';
import { DEFAULT_DISPATCH_CONCURRENCY, defaultLookahead, slotsPerJob } from './dispatch.js';
import { databaseSchema } from './database.js';
import { loadOrExit, parseConfig } from './env-source.js';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

export const appSchema = z.object({
  ...databaseSchema.shape,
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Append the JSON log lines to this file instead of writing them to stdout (default: stdout). */
  LOG_FILE: z.string().min(1).optional(),
  REDIS_URL: z.string({ error: 'set it to a redis:// URL' }).regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  /**
   * Redis Cluster: comma-separated `host:port` seed nodes. When set, every Redis connection is an
   * ioredis Cluster; REDIS_URL then gives the user, password and TLS (rediss://) of every node, and its
   * host is one more seed. Unset: one Redis at REDIS_URL.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((n) => n.trim()).filter(Boolean))
    .refine((nodes) => nodes.every((n) => /^[^\s:/@]+:\d{1,5}$/.test(n)), 'host:port, comma-separated (no redis://: REDIS_URL gives the credentials)'),
  /** Namespace of every Redis key and channel of this deployment (queues, limits, pub/sub). */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default('wc'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** Base URL at which Evolution reaches our webhook route. */
  PUBLIC_URL: z.url().optional(),
  /** 32 bytes, base64 or hex: encrypts provider keys at rest (AES-256-GCM). */
  ENCRYPTION_KEY: z
    .string({ error: 'generate one with: openssl rand -base64 32' })
    .refine((v) => decodeKey(v) !== null, 'must be 32 bytes encoded as base64 (44 chars) or hex (64 chars)'),
  GRAPHIQL: bool.optional(),
  EVOLUTION_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  DISPATCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(DEFAULT_DISPATCH_CONCURRENCY),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(20),
  /**
   * Sends a running campaign (and all running campaigns of one tenant together) keep scheduled ahead
   * of the workers. Default: enough full send jobs for every send slot of a worker process.
   */
  DISPATCH_LOOKAHEAD: z.coerce.number().int().min(1).max(10_000).optional(),
  /** Minimum milliseconds between two progress events of one campaign sent to a subscriber. */
  PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).default(250),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  /**
   * An unknown send outcome is judged not sent only when Evolution's message store still lacks it this
   * long after the call was abandoned (a request Evolution holds may still be processed meanwhile).
   */
  RECONCILE_GRACE_MS: z.coerce.number().int().min(0).default(60_000),
  /** An unknown outcome still undecided this long after its send stays UNKNOWN, with its evidence. */
  RECONCILE_MAX_MS: z.coerce.number().int().min(1000).default(30 * 60_000),
  /**
   * How long an API server may answer a repeated query from its response cache (campaigns and senders
   * only; see src/api/schema/response-cache.ts); any change of the tenant ends it sooner. 0: no cache.
   */
  RESPONSE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  /** The largest GraphQL request body (bytes). Contact files go to POST /imports/contacts instead. */
  GRAPHQL_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  /** The largest contact file POST /imports/contacts takes (bytes). */
  IMPORT_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).default(50 * 1024 * 1024),
  /** When set, GET /metrics (API server and worker) answers only `Authorization: Bearer <this>`; empty: open. */
  METRICS_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, 'at least 16 characters (openssl rand -hex 32)').optional()),
  /** The worker process serves GET /metrics on this port (on HOST); 0: it serves nothing. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
});

export type AppConfig = ReturnType<typeof toAppConfig>;

export function decodeKey(value: string): Buffer | null {
  const buf = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  return buf.length === 32 ? buf : null;
}

function toAppConfig(c: z.infer<typeof appSchema>) {
  return {
    env: c.NODE_ENV,
    logLevel: c.LOG_LEVEL,
    logFile: c.LOG_FILE ?? null,
    databaseUrl: c.DATABASE_URL,
    databasePoolSize: c.DATABASE_POOL_SIZE,
    redisUrl: c.REDIS_URL,
    redisClusterNodes: c.REDIS_CLUSTER_NODES.map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    }),
    redisPrefix: c.REDIS_PREFIX,
    host: c.HOST,
    port: c.PORT,
    publicUrl: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    encryptionKey: decodeKey(c.ENCRYPTION_KEY) as Buffer,
    graphiql: c.GRAPHIQL ?? c.NODE_ENV === 'development',
    evolutionTimeoutMs: c.EVOLUTION_TIMEOUT_MS,
    dispatchConcurrency: c.DISPATCH_CONCURRENCY,
    webhookConcurrency: c.WEBHOOK_CONCURRENCY,
    dispatchSlotsPerJob: slotsPerJob(c.DISPATCH_CONCURRENCY),
    dispatchLookahead: c.DISPATCH_LOOKAHEAD ?? defaultLookahead(c.DISPATCH_CONCURRENCY),
    progressIntervalMs: c.PROGRESS_INTERVAL_MS,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    reconcileGraceMs: c.RECONCILE_GRACE_MS,
    reconcileMaxMs: c.RECONCILE_MAX_MS,
    responseCacheTtlMs: c.RESPONSE_CACHE_TTL_MS,
    graphqlMaxBodyBytes: c.GRAPHQL_MAX_BODY_BYTES,
    importMaxBodyBytes: c.IMPORT_MAX_BODY_BYTES,
    metricsToken: c.METRICS_TOKEN ?? null,
    workerMetricsPort: c.WORKER_METRICS_PORT,
  };
}

export function loadAppConfig(env?: Record<string, string | undefined>) {
  return toAppConfig(parseConfig(appSchema, env));
}

/** The configuration of this process, parsed once; a bad or missing variable stops the process. */
export const config: AppConfig = loadOrExit(() => loadAppConfig());
