import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DocumentNode, type ExecutionArgs, GraphQLError, getOperationAST, Kind } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { AUTH_MESSAGES, authenticateApiKey } from '../features/auth/api-keys.js';
import { bearerToken } from '../features/auth/bearer-token.js';
import { config } from '../infra/config/index.js';
import { prisma } from '../infra/db/client.js';
import { AppError } from '../domain/errors.js';
import { BodyTooLargeError, closeAfter, readBody } from '../infra/lib/http-body.js';
import { logger } from '../infra/lib/logger.js';
import { subscribeShared } from '../infra/realtime/shared-subscriptions.js';
import { createRedis, type RedisClient } from '../infra/redis.js';
import { type Context, contextFor } from './schema/context.js';
import { schema } from './schema/index.js';
import { armorPlugin } from './schema/limits.js';
import { announceMutations, createResponseCache, type ResponseCache } from './schema/response-cache.js';
import { handleEvolutionWebhook } from './routes/evolution-webhook.js';
import { handleLinkClick } from './routes/link-click.js';
import { handleCampaignExport } from './routes/export.js';
import { handleContactImport } from './routes/contact-import.js';
import { apiMetricsRegistry } from './metrics.js';
import { graphqlMetricsPlugin, subscriptionField, trackSubscription } from './graphql-metrics.js';
import { serveMetrics } from '../infra/metrics/http.js';
import { webhooksReceivedTotal } from '../infra/metrics/registry.js';
import { QUEUE_NAMES } from '../infra/queues/definitions.js';
import { getQueue } from '../infra/queues/index.js';
import { inboxStats } from '../features/webhooks/inbox.js';
import { liveWorkers } from '../features/health/worker-heartbeat.js';
import { accessOf, logWsOperation, operationLogPlugin, startAccess } from './access-log.js';
import { GRAPHIQL_ASSETS_PATH, renderLocalGraphiQL, serveGraphiQLAsset } from './graphiql.js';

/** A webhook event waiting longer than this in the inbox means its consumers are stuck or gone. */
const INBOX_STALL_MS = 60_000;

/**
 * GET /health/workers: the worker processes alive (their heartbeats), each queue's jobs, the webhook
 * inbox, and what is stalled: no worker at all, jobs waiting in a queue no live worker serves, or
 * webhook events waiting too long. 200 when nothing is stalled, 503 otherwise.
 */
async function workersReport(): Promise<{ status: number; body: Record<string, unknown> }> {
  const stalled: string[] = [];
  const [workers, inbox] = await Promise.all([liveWorkers(), inboxStats()]);
  if (workers.length === 0) stalled.push('no worker process is alive');
  const queues: Record<string, unknown> = {};
  await Promise.all(
    QUEUE_NAMES.map(async (name) => {
      try {
        const c = await withTimeout(getQueue(name).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'), 2000);
        queues[name] = c;
        const waiting = (c.waiting ?? 0) + (c.prioritized ?? 0);
        if (waiting > 0 && workers.length > 0 && !workers.some((w) => w.queues.includes(name))) {
          stalled.push(`queue ${name}: ${waiting} jobs waiting and no live worker serves it`);
        }
      } catch (err) {
        queues[name] = { error: (err as Error).message };
      }
    }),
  );
  if (inbox.pending > 0 && workers.length > 0 && !workers.some((w) => w.queues.includes('webhooks'))) {
    stalled.push(`webhook inbox: ${inbox.pending} events waiting and no live worker applies webhooks`);
  }
  if (inbox.oldestPendingMs !== null && inbox.oldestPendingMs > INBOX_STALL_MS) {
    stalled.push(`webhook inbox: the oldest event has waited ${Math.round(inbox.oldestPendingMs / 1000)} s`);
  }
  return {
    status: stalled.length ? 503 : 200,
    body: {
      status: stalled.length ? 'stalled' : 'ok',
      stalled,
      workers: workers.map((w) => ({ id: w.id, hostname: w.hostname, pid: w.pid, queues: w.queues, startedAt: w.startedAt.toISOString(), heartbeatAt: w.heartbeatAt.toISOString() })),
      queues,
      webhookInbox: inbox,
    },
  };
}

export interface App {
  server: Server;
  /** Null when RESPONSE_CACHE_TTL_MS is 0. */
  responseCache: ResponseCache | null;
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  listen(port?: number, host?: string): Promise<string>;
  url(): string;
  close(): Promise<void>;
}

/** Errors a client must see keep their message and a code; everything else is masked and logged with an id. */
function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof GraphQLError) return original;
  if (error instanceof GraphQLError && !error.originalError) return error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: { code: original.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() },
    });
  }
  const errorId = randomUUID();
  logger.error({ err: original, errorId, path: error instanceof GraphQLError ? error.path : undefined }, 'unexpected error');
  return new GraphQLError(message, {
    ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
  });
}

/** What replaces a WebSocket's upgrade request once the connection is authenticated. */
const UPGRADE_DONE = Object.freeze({ headers: Object.freeze({}) });

const KEEP_ALIVE_MS = 12_000;

/**
 * Pings every WebSocket each interval and ends those that did not answer the previous ping (dead
 * peers, half-open connections), with one timer for the whole server.
 */
function keepAlive(wss: WebSocketServer, intervalMs: number): NodeJS.Timeout {
  const answered = new WeakSet<object>();
  wss.on('connection', (socket) => {
    answered.add(socket);
    socket.on('pong', () => answered.add(socket));
  });
  const timer = setInterval(() => {
    for (const socket of wss.clients) {
      if (!answered.has(socket)) {
        socket.terminate();
        continue;
      }
      answered.delete(socket);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return timer;
}

/** Subscriptions whose events are states, shared by identical operations (src/infra/realtime/shared-subscriptions.ts). */
const SHARED_SUBSCRIPTIONS = new Set(['campaignProgress', 'instanceHealth', 'instancesHealth', 'importProgress']);

/** The key under which identical state subscriptions of one tenant and role share one stream; null: not shared. */
function shareKey(document: DocumentNode, payload: { query: string; operationName?: string | null; variables?: unknown }, context: Context): string | null {
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (operation?.operation !== 'subscription' || operation.selectionSet.selections.length !== 1) return null;
  const field = operation.selectionSet.selections[0];
  if (field?.kind !== Kind.FIELD || !SHARED_SUBSCRIPTIONS.has(field.name.value)) return null;
  return JSON.stringify([context.viewer.tenantId, context.viewer.role, payload.query, payload.operationName ?? null, payload.variables ?? null]);
}

/** application/json or application/graphql-response+json, with or without parameters (charset). */
export function isJsonContentType(value: string | undefined): boolean {
  const type = (value ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' || type === 'application/graphql-response+json';
}

function sendGraphQLError(res: ServerResponse, status: number, code: string, message: string) {
  send(res, status, { errors: [{ message, extensions: { code } }] });
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The API server: GraphQL over HTTP and WebSocket on /graphql, the Evolution webhook route, health. */
export function createApp(opts: { responseCacheTtlMs?: number; /** Default: METRICS_TOKEN. */ metricsToken?: string | null } = {}): App {
  const metricsToken = opts.metricsToken === undefined ? config.metricsToken : opts.metricsToken;
  const cacheTtlMs = opts.responseCacheTtlMs ?? config.responseCacheTtlMs;
  const responseCache = cacheTtlMs > 0 ? createResponseCache({ schema, ttlMs: cacheTtlMs, log: logger.child({ component: 'response-cache' }) }) : null;
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // A GraphQL document and its variables are small; a body above this is refused (413) before it is
    // parsed. Large contact files go to POST /imports/contacts.
    maxRequestBodySize: config.graphqlMaxBodyBytes,
    graphiql: config.graphiql ? { subscriptionsProtocol: 'WS', title: 'WhatsApp campaigns' } : false,
    // GraphiQL's scripts and styles come from our own routes (node_modules), not from a CDN.
    renderGraphiQL: renderLocalGraphiQL,
    landingPage: false,
    maskedErrors: { maskError },
    plugins: [
      graphqlMetricsPlugin(),
      operationLogPlugin(logger),
      armorPlugin(),
      announceMutations(logger, responseCache ? (tenantId) => responseCache.invalidateTenant(tenantId) : undefined),
      ...(responseCache ? [responseCache.plugin] : []),
    ],
    logging: {
      debug: (...args) => logger.debug({ yoga: args }),
      info: (...args) => logger.info({ yoga: args }),
      warn: (...args) => logger.warn({ yoga: args }),
      error: (...args) => logger.error({ yoga: args }),
    },
    context: async (initial) => {
      const request = initial.request as Request | undefined;
      const access = accessOf(initial.req);
      const requestId = access?.requestId ?? randomUUID();
      const params = initial.connectionParams as Record<string, unknown> | undefined;
      const authorization = params ? String(params.authorization ?? params.Authorization ?? params.apiKey ?? '') : (request as Request).headers.get('authorization');
      const context = await contextFor(authorization, requestId, !params && request ? responseCache?.authenticated(request) : undefined);
      if (access) access.tenantId = context.viewer.tenantId;
      return context;
    },
  });

  let readyRedis: RedisClient | null = null;
  let metrics: Registry | null = null;
  const accessLog = logger.child({ component: 'access' });
  const server = createServer((req, res) => {
    const access = startAccess(req, res, accessLog);
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/graphql' || path.startsWith('/graphql/')) {
      access.route = '/graphql';
      // Only JSON is executed: a form or text POST (what a browser sends cross-site without asking)
      // could otherwise run a mutation with whatever credentials the page carries.
      if (req.method !== 'POST') return void yoga(req, res);
      if (!isJsonContentType(req.headers['content-type'])) {
        return sendGraphQLError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'POST a JSON body: Content-Type: application/json');
      }
      // The body is read here, to its end even when it is over the limit: a refused body left unread
      // on a keep-alive connection made the next request on it hang (yoga stops reading mid-body).
      readBody(req, config.graphqlMaxBodyBytes).then(
        (body) => {
          req.headers['content-type'] = 'application/json';
          (req as IncomingMessage & { body?: Buffer }).body = body;
          void yoga(req, res);
        },
        (err) => {
          if (!(err instanceof BodyTooLargeError)) return sendGraphQLError(res, 400, 'BAD_REQUEST', 'the request body could not be read');
          if (!err.drained) closeAfter(res);
          sendGraphQLError(res, 413, 'REQUEST_ENTITY_TOO_LARGE', `Request body too large: at most ${config.graphqlMaxBodyBytes} bytes`);
        },
      );
      return;
    }
    if (config.graphiql && path.startsWith(`${GRAPHIQL_ASSETS_PATH}/`)) {
      access.route = `${GRAPHIQL_ASSETS_PATH}/:asset`;
      return void serveGraphiQLAsset(req, res, path.slice(GRAPHIQL_ASSETS_PATH.length + 1));
    }
    if (path === '/imports/contacts') {
      access.route = path;
      return void handleContactImport(req, res, logger.child({ route: 'import', requestId: access.requestId }), access);
    }
    const webhook = path.match(/^\/webhooks\/evolution\/([A-Za-z0-9_-]{16,})(?:\/+([a-z-]+))?\/?$/);
    if (webhook) {
      // The secret is in the path: the route names it, never shows it.
      access.route = webhook[2] ? '/webhooks/evolution/:secret/:event' : '/webhooks/evolution/:secret';
      const log = logger.child({ requestId: access.requestId, route: 'webhook' });
      return void handleEvolutionWebhook(req, res, { secret: webhook[1] as string, suffix: webhook[2] ?? null }, log, access);
    }
    if (path === '/health' || path === '/metrics' || path === '/health/workers' || path === '/ready') access.route = path;
    if (path === '/health') return send(res, 200, { status: 'ok' });
    if (path === '/metrics') {
      metrics ??= apiMetricsRegistry();
      return serveMetrics(req, res, metrics, metricsToken);
    }
    if (path === '/health/workers') {
      void workersReport().then(
        (r) => send(res, r.status, r.body),
        (err) => send(res, 503, { status: 'unknown', error: (err as Error).message }),
      );
      return;
    }
    if (path === '/ready') {
      readyRedis ??= createRedis('command', { maxRetriesPerRequest: 1 });
      const redis = readyRedis;
      void Promise.allSettled([withTimeout(prisma.$queryRaw`SELECT 1`, 2000), withTimeout(redis.ping(), 2000), withTimeout(liveWorkers(), 2000)]).then(([pg, rd, wk]) => {
        const checks = {
          postgres: pg.status === 'fulfilled' ? 'ok' : String((pg as PromiseRejectedResult).reason?.message ?? pg),
          redis: rd.status === 'fulfilled' ? 'ok' : String((rd as PromiseRejectedResult).reason?.message ?? rd),
        };
        const ok = checks.postgres === 'ok' && checks.redis === 'ok';
        // Workers do not decide this server's readiness (it serves without them); they are reported,
        // and /health/workers says what is stalled.
        const workers = wk.status === 'fulfilled' ? wk.value.length : null;
        send(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks, workers });
      });
      return;
    }
    if (path.startsWith('/webhooks/')) {
      webhooksReceivedTotal.inc({ event: 'unknown', result: 'rejected' });
      access.route = '/webhooks/:unknown';
      return send(res, 401, { error: { code: 'UNKNOWN_WEBHOOK', message: 'no instance has this webhook URL' } });
    }
    const notFound = () => send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
    // Short links and reports answer an unknown id exactly like an unknown route: they reveal nothing.
    if (path.startsWith('/l/')) {
      access.route = '/l/:code';
      return void handleLinkClick(req, res, path.slice(3), notFound, logger.child({ route: 'link', requestId: access.requestId }));
    }
    const report = path.match(/^\/exports\/campaigns\/([^/]+)\/report\.csv$/);
    if (report) {
      // The report link's token is in the query string, which no log line carries.
      access.route = '/exports/campaigns/:id/report.csv';
      return void handleCampaignExport(req, res, report[1] as string, notFound, logger.child({ route: 'export', requestId: access.requestId }), access);
    }
    notFound();
  });

  const wss = new WebSocketServer({ server, path: '/graphql' });
  // When each WebSocket operation started, per connection, for its access line.
  const wsOperationStarts = new WeakMap<object, Map<string, number>>();
  const wsStarts = (ctx: object) => {
    let m = wsOperationStarts.get(ctx);
    if (!m) wsOperationStarts.set(ctx, (m = new Map()));
    return m;
  };
  const wsStart = (ctx: object, id: string) => {
    const m = wsStarts(ctx);
    const t = m.get(id) ?? performance.now();
    m.delete(id);
    return t;
  };
  const ws = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      onConnect: async (ctx) => {
        const p = ctx.connectionParams ?? {};
        const result = await authenticateApiKey(bearerToken(String(p.authorization ?? p.Authorization ?? p.apiKey ?? '')));
        if (!result.ok) {
          // 4401: the socket is closed before any operation with a reason the client can show.
          ctx.extra.socket.close(4401, `Unauthorized: ${AUTH_MESSAGES[result.reason].slice(0, 100)}`);
          return false;
        }
        // graphql-ws keeps the upgrade request for the connection's life; nothing here needs it after
        // the handshake (operations authenticate with connectionParams), so let it be collected.
        (ctx.extra as { request: unknown }).request = UPGRADE_DONE;
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        wsStarts(ctx).set(id, performance.now());
        const enveloped = yoga.getEnveloped({ ...ctx, socket: ctx.extra.socket, params: payload });
        try {
          // Parse and validation errors (the abuse limits throw from there) and authentication
          // failures go back to the client as errors of this operation.
          const document = enveloped.parse(payload.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
          const contextValue = await enveloped.contextFactory();
          return {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue,
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe, shareKey: shareKey(document, payload, contextValue as unknown as Context) },
          } as ExecutionArgs;
        } catch (err) {
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
      },
      onOperation: (ctx, id, payload, args, result) => {
        const errors = Symbol.asyncIterator in (result as object) ? undefined : (result as { errors?: readonly GraphQLError[] }).errors;
        logWsOperation(accessLog, payload, args.document, args.contextValue as Partial<Context>, wsStart(ctx, id), errors);
      },
      onError: (ctx, id, payload, errors) => {
        logWsOperation(accessLog, payload, null, null, wsStart(ctx, id), errors);
      },
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: async (args) => {
        const root = args.rootValue as { subscribe: (a: ExecutionArgs) => never; shareKey: string | null };
        // Counted here, per client, not by the GraphQL plugin: a shared stream serves many of them.
        const result = await (root.shareKey ? subscribeShared(root.shareKey, () => root.subscribe(args)) : root.subscribe(args));
        return trackSubscription(subscriptionField(args.document, args.operationName), result) as never;
      },
    },
    wss,
    0, // keep-alive below: one timer for every socket instead of two per socket
  );
  const heartbeat = keepAlive(wss, KEEP_ALIVE_MS);

  let closed = false;
  return {
    server,
    responseCache,
    yoga,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(this.url()));
      });
    },
    url() {
      const a = server.address() as AddressInfo;
      const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address;
      return `http://${host}:${a.port}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Stop accepting, end subscriptions, then let in-flight requests finish.
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      clearInterval(heartbeat);
      await ws.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeIdleConnections();
      await withTimeout(stopped, config.shutdownTimeoutMs).catch(() => server.closeAllConnections());
      await yoga.dispose();
      await responseCache?.close();
      if (readyRedis) await readyRedis.quit().catch(() => undefined);
    },
  };
}
