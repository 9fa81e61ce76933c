// `npm run bench:api`: req/s of the nested campaigns list (50 campaigns with their variations,
// instances and counters) against a graphql-yoga + Pothos hello world, both measured in this run,
// each server in its own process, same load. Goal: ≥ 0.25×. The product runs as configured by
// default, so a repeated list is answered by its response cache (src/api/schema/response-cache.ts); the
// same load with the cache off is printed below it. For reference it also serves the same
// query and response shape from memory (bench/lib/list-from-memory.ts): GraphQL's own share of the cost,
// with graphql-js's executor (the product's) and with graphql-jit's compiled one.
import { fmt, httpLoad, startChild, stopChild, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');

const QUERY = `query List { campaigns(first: 50) { totalCount edges { node {
  id name status rotationMode
  messages { id text abVariant }
  instances { id name connectionState health { score status sentToday } }
  counters { targeted sent delivered read failed percentDone deliveryRate readRate }
} } } }`;

try {
  const { tenant, key } = await createTenant({ name: 'bench' });
  const server = await prisma.evolutionServer.create({ data: { tenantId: tenant.id, name: 'evo', baseUrl: 'http://127.0.0.1:1', apiKeyEncrypted: 'v1.x.x.x' } });
  const instances = await Promise.all(
    [1, 2].map((n) => prisma.whatsAppInstance.create({ data: { tenantId: tenant.id, serverId: server.id, name: `inst-${n}`, webhookSecret: `bench-secret-${n}-${tenant.id}` } })),
  );
  for (let i = 0; i < 50; i++) {
    await prisma.campaign.create({
      data: {
        tenantId: tenant.id,
        name: `Campaign ${i}`,
        status: i % 3 ? 'COMPLETED' : 'RUNNING',
        targetedCount: 1000,
        sentCount: 900 + i,
        deliveredCount: 800 + i,
        readCount: 400 + i,
        messages: { create: [{ tenantId: tenant.id, order: 0, text: 'Olá {{primeiro_nome}}!' }, { tenantId: tenant.id, order: 1, text: 'Oi {{nome}}' }] },
        instances: { create: instances.map((inst) => ({ tenantId: tenant.id, instanceId: inst.id })) },
      },
    });
  }

  const hello = await startChild<{ port: number }>('bench/lib/hello-yoga.ts');
  let base;
  try {
    const url = `http://127.0.0.1:${hello.info.port}/graphql`;
    const body = JSON.stringify({ query: '{ hello }' });
    await httpLoad({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, seconds: 2, connections: CONNECTIONS });
    base = await httpLoad({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, seconds: SECONDS, connections: CONNECTIONS });
  } finally {
    await stopChild(hello.child);
  }

  /** Starts `file`, checks it answers QUERY with the 50 campaigns, warms it up 2 s, then loads it. */
  const listRun = async (file: string, childEnv: Record<string, string>, authorization: string | null) => {
    const server = await startChild<{ port: number }>(file, childEnv);
    try {
      const url = `http://127.0.0.1:${server.info.port}/graphql`;
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) };
      const body = JSON.stringify({ query: QUERY });
      const probe = await fetch(url, { method: 'POST', headers, body }).then((r) => r.json() as Promise<{ data?: { campaigns: { edges: unknown[] } }; errors?: unknown }>);
      if (probe.errors || probe.data?.campaigns.edges.length !== 50) throw new Error(`the list query failed on ${file}: ${JSON.stringify(probe).slice(0, 500)}`);
      await httpLoad({ url, method: 'POST', headers, body, seconds: 2, connections: CONNECTIONS });
      return await httpLoad({ url, method: 'POST', headers, body, seconds: SECONDS, connections: CONNECTIONS });
    } finally {
      await stopChild(server.child);
    }
  };

  // The product's API server as configured by default (its response cache on), then with the cache
  // off: every request authenticated, executed and loaded from PostgreSQL.
  const list = await listRun('bench/lib/api-server.ts', env, `Bearer ${key}`);
  const uncached = await listRun('bench/lib/api-server.ts', { ...env, RESPONSE_CACHE_TTL_MS: '0' }, `Bearer ${key}`);
  // References: the same query and response shape served from memory (no database, no auth), by
  // graphql-js's executor (yoga's default, the product's) and by graphql-jit's compiled one.
  const fromMemory = await listRun('bench/lib/list-from-memory.ts', {}, null);
  const fromMemoryJit = await listRun('bench/lib/list-from-memory.ts', { MEMORY_JIT: '1' }, null);

  const ratio = list.requestsPerSec / base.requestsPerSec;
  table([
    ['measure', 'req/s', 'latency'],
    ['yoga + Pothos hello world (baseline)', fmt(base.requestsPerSec), `p50 ${base.p50} ms, p99 ${base.p99} ms`],
    ['campaigns(first: 50) nested list (product defaults)', fmt(list.requestsPerSec), `p50 ${list.p50} ms, p99 ${list.p99} ms, non-2xx ${list.non2xx}`],
    ['ratio (goal ≥ 0.25×)', `${ratio.toFixed(3)}×`, ratio >= 0.25 ? 'goal met' : 'GOAL MISSED'],
    [
      'same list, response cache off (RESPONSE_CACHE_TTL_MS=0)',
      fmt(uncached.requestsPerSec),
      `p50 ${uncached.p50} ms, p99 ${uncached.p99} ms, non-2xx ${uncached.non2xx}; ${(uncached.requestsPerSec / base.requestsPerSec).toFixed(3)}× the hello world: every request executed`,
    ],
    ['reference: same list from memory (no DB, no auth)', fmt(fromMemory.requestsPerSec), `p50 ${fromMemory.p50} ms, p99 ${fromMemory.p99} ms; ${(fromMemory.requestsPerSec / base.requestsPerSec).toFixed(3)}× the hello world`],
    [
      'reference: same, executed by graphql-jit',
      fmt(fromMemoryJit.requestsPerSec),
      `p50 ${fromMemoryJit.p50} ms, p99 ${fromMemoryJit.p99} ms; ${(fromMemoryJit.requestsPerSec / base.requestsPerSec).toFixed(3)}× the hello world`,
    ],
  ]);
} finally {
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(0);
