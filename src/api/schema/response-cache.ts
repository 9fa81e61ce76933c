import { createHash } from 'node:crypto';
import { createInMemoryCache, useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { type GraphQLSchema, getOperationAST, isObjectType } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type AuthResult, authenticateApiKey, type Viewer } from '../../features/auth/api-keys.js';
import { bearerToken } from '../../features/auth/bearer-token.js';
import { hashApiKey, looksLikeApiKey } from '../../infra/lib/crypto.js';
import type { Logger } from '../../infra/lib/logger.js';
import { channel, publishSafely } from '../../infra/realtime/pubsub.js';
import { createRedis, type RedisClient } from '../../infra/redis.js';
import type { Context } from './context.js';

/**
 * The only types a cached response may hold: campaigns and their settings, variations and senders.
 * What they show changes through a mutation or with an event every process already publishes
 * (campaign progress, instance health). A response holding any other type (contacts, logs,
 * analytics, keys, tenant figures…) is never cached: new types stay uncached until listed here.
 */
const CACHEABLE_TYPES = new Set([
  'Query',
  'PageInfo',
  'QueryCampaignsConnection',
  'QueryCampaignsConnectionEdge',
  'QueryInstancesConnection',
  'QueryInstancesConnectionEdge',
  'QueryEvolutionServersConnection',
  'QueryEvolutionServersConnectionEdge',
  'Campaign',
  'CampaignCounters',
  'CampaignAudience',
  'CampaignPacing',
  'CampaignSchedule',
  'SendingWindow',
  'AbTestSettings',
  'FollowUpRule',
  'CampaignMessage',
  'WhatsAppInstance',
  'InstanceHealth',
  'InstanceWarmup',
  'EvolutionServer',
]);

/**
 * The events that announce a change of what the cacheable types show: campaign progress (counters,
 * status), instance health (each is published on the instance's channel and on the tenant-wide `*`
 * one; the latter is enough) and `tenant:changed` (mutations). Logs and imports are left out: their
 * types are never cached, and every API server would otherwise parse each of them.
 */
const CHANGE_PATTERNS = () => [channel('campaign:progress', '*', '*'), channel('instance:health', '*', '\\*'), channel('tenant:changed', '*', '*')];

/** A UUID as the tenant part of a pub/sub channel (`…:pubsub:<topic>:<tenant>:<key>`). */
const TENANT_IN_CHANNEL = /:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):[^:]*$/;

export interface ResponseCache {
  plugin: Plugin;
  /** Resolves once the change events reach this server (the cache serves nothing before). */
  ready(): Promise<void>;
  /** What checking the request's key found, when the cache already did (the context reuses it). */
  authenticated(request: Request): AuthResult | undefined;
  /** Drops every cached response of the tenant on this server (after a mutation run here; events do it for the others). */
  invalidateTenant(tenantId: string): void;
  close(): Promise<void>;
}

/**
 * A per-server cache of query responses (GraphQL Yoga's response cache), for dashboards and
 * integrators that poll the same lists: a repeated query of one API key is answered without executing
 * it. The key itself is checked on every request, before the cache is looked at.
 *
 * Fresh within milliseconds, not `ttlMs`: a response is keyed by the tenant's generation, which this
 * server increases when (1) it runs a mutation of the tenant, before answering it (read-your-writes),
 * (2) any process publishes a change event of the tenant (campaign progress, instance health, and
 * `tenant:changed`, which each mutation and the CLI's key revocation publish for the other API
 * servers). `ttlMs` bounds what could still slip through (a write no event announces).
 * While the Redis subscription is down or reconnecting, nothing is served from the cache, and
 * whatever was cached before it came back is forgotten (docs/decisions.md 50).
 */
export function createResponseCache(opts: { schema: GraphQLSchema; ttlMs: number; log: Logger; maxEntries?: number }): ResponseCache {
  const generations = new Map<string, number>();
  let epoch = 0;
  let listening = false;
  let markReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));
  const auth = new WeakMap<Request, AuthResult>();

  /** Every change seen, all tenants together. */
  let changes = 0;
  const invalidateTenant = (tenantId: string) => {
    changes++;
    generations.set(tenantId, (generations.get(tenantId) ?? 0) + 1);
  };

  const subscriber: RedisClient = createRedis('subscriber', { enableReadyCheck: false });
  subscriber.on('ready', () => {
    // Events published while we were not listening are lost: forget everything cached before.
    epoch++;
    changes++;
    generations.clear();
    void subscriber.psubscribe(...CHANGE_PATTERNS()).then(
      () => {
        listening = true;
        markReady();
      },
      (err: unknown) => opts.log.warn({ err }, 'response cache: subscribing to change events failed; not caching'),
    );
  });
  subscriber.on('close', () => {
    listening = false;
  });
  subscriber.on('error', (err) => opts.log.warn({ err }, 'response cache: Redis subscriber error'));
  subscriber.on('pmessage', (_pattern: string, name: string) => {
    const tenantId = name.match(TENANT_IN_CHANNEL)?.[1];
    if (tenantId) invalidateTenant(tenantId);
  });

  /**
   * Keys found valid, by hash: trusted again only while nothing of their tenant changed since (a
   * revocation is a change: a mutation, or the CLI, which announces it), within `ttlMs`, and while
   * the events can reach us. Failures are never kept: a new key works at once.
   */
  const validKeys = new Map<string, { viewer: Viewer; at: number; epoch: number; generation: number }>();
  const checkKey = async (token: string | null): Promise<AuthResult> => {
    const hash = token && looksLikeApiKey(token) ? hashApiKey(token) : null;
    const known = hash ? validKeys.get(hash) : undefined;
    if (known && listening && known.epoch === epoch && known.generation === (generations.get(known.viewer.tenantId) ?? 0) && Date.now() - known.at < opts.ttlMs) {
      return { ok: true, viewer: known.viewer };
    }
    const changesBefore = changes;
    const result = await authenticateApiKey(token);
    // Kept only if nothing changed anywhere during the lookup (a revocation could have committed meanwhile).
    if (result.ok && hash && changes === changesBefore) {
      if (validKeys.size >= 10_000) validKeys.clear();
      validKeys.set(hash, { viewer: result.viewer, at: Date.now(), epoch, generation: generations.get(result.viewer.tenantId) ?? 0 });
    }
    return result;
  };

  const ignoredTypes = Object.values(opts.schema.getTypeMap())
    .filter((t) => isObjectType(t) && !t.name.startsWith('__') && !CACHEABLE_TYPES.has(t.name))
    .map((t) => t.name);

  const cache = useResponseCache({
    ttl: opts.ttlMs,
    cache: createInMemoryCache({ max: opts.maxEntries ?? 1000 }),
    ignoredTypes,
    invalidateViaMutation: false,
    // Node's hash, not the default WebCrypto digest: a cache hit paid ~5 % of its CPU in that async job.
    buildResponseCacheKey: ({ documentString, variableValues, operationName, sessionId }) =>
      createHash('sha256').update(JSON.stringify([documentString, variableValues ?? null, operationName ?? null, sessionId ?? null])).digest('hex'),
    // Checks the key on every request (the cached answer is looked up before the GraphQL context is built).
    session: async (request: Request) => {
      const result = await checkKey(bearerToken(request.headers.get('authorization')));
      auth.set(request, result);
      if (!result.ok) return null;
      const { tenantId, apiKeyId } = result.viewer;
      return `${tenantId}:${apiKeyId}:${epoch}:${generations.get(tenantId) ?? 0}`;
    },
    // Only for an authenticated request (so never for If-None-Match before the key is checked) while
    // the change events can reach us.
    enabled: (request: Request) => listening && auth.get(request)?.ok === true,
  });

  return {
    plugin: cache,
    ready: () => readyPromise,
    authenticated: (request) => auth.get(request),
    invalidateTenant,
    async close() {
      listening = false;
      await subscriber.quit().catch(() => undefined);
    },
  };
}

/**
 * Every API server, cache or not: after a mutation of a tenant, before it is answered, `onChange`
 * (this server's cache) and a `tenant:changed` event for the other servers' caches.
 */
export function announceMutations(log: Logger, onChange?: (tenantId: string) => void): Plugin<Context> {
  return {
    onExecute({ args }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const tenantId = args.contextValue.viewer?.tenantId;
      if (!tenantId) return;
      return {
        onExecuteDone() {
          onChange?.(tenantId);
          publishSafely('tenant:changed', { tenantId }, (err) => log.warn({ err }, 'announcing a change of the tenant failed'));
        },
      };
    },
  };
}
