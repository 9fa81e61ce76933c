// `npm run bench:ws-memory`: memory per idle WebSocket connection (issue 5). BENCH_CONNECTIONS
// (10,000) idle graphql-ws connections to the product's API server process, each authenticated with an
// API key (connection_init → connection_ack, no subscription), against as many idle connections to
// a plain `ws` server process (bench/lib/raw-ws-server.ts), in this run. Each server's memory is read
// inside it after full garbage collections, once it settled (bench/lib/gc-report.mjs), before the
// connections and after each of BENCH_STEPS equal steps of them; the cost of one connection is the
// slope of RSS over the connections open (the median of the slopes between every two readings: RSS
// moves in steps as V8 and the allocator grow their spaces or give memory back, so one before/after
// difference is noisy). RSS is its anonymous
// part (Linux RssAnon: allocated memory, not the executable's pages that page in as new code runs).
// Both servers run with V8's young generation fixed at 1 MiB semi-spaces: by default it grows and
// shrinks by megabytes with the allocation rate, which moves RSS by more than 1,000 idle
// connections hold; what connections retain lives in the old generation either way.
// Both servers first open and close a few connections, so that code loaded on first use is not
// counted, then stay quiet for BENCH_QUIET_MS: tsx's module loader runs in a thread of its own whose
// heap is collected on its own schedule some seconds after start-up, and gives back megabytes then.
// Goal: the product's RSS per connection ≤ 2× the raw server's. A run where either slope is not
// positive says so instead of a verdict (too few connections to see through the noise).
//
// Knobs: BENCH_CONNECTIONS, BENCH_STEPS (6), BENCH_WARMUP_CONNECTIONS (50), BENCH_QUIET_MS (20000),
// BENCH_SETTLE_MS (1000, wait before each reading).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type WebSocket from 'ws';
import { type LineChild, startLineChild } from './lib/child-lines.js';
import { fmt, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';
import { stopLineChild } from './lib/stop-child.js';
import { closeAll, graphqlWsConnection, openMany, rawWsConnection } from './lib/ws-clients.js';

// 10,000 rather than fewer: at 2,000 the raw server's connections hold ~3 MiB, within the allocator's
// steps, and its RSS slope came out below its own heap slope (1.7 vs 2.4 KiB/connection).
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const STEPS = Math.max(1, Number(process.env.BENCH_STEPS ?? 6));
const WARMUP = Number(process.env.BENCH_WARMUP_CONNECTIONS ?? 50);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 1000);
const QUIET_MS = Number(process.env.BENCH_QUIET_MS ?? 20_000);
const GC_REPORT = pathToFileURL(resolve('bench/lib/gc-report.mjs')).href;

interface Memory {
  rss: number;
  rssAnon: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');

const children: LineChild<unknown>[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function memoryOf(server: LineChild<{ port: number }>): Promise<Memory> {
  await sleep(SETTLE_MS);
  server.child.kill('SIGUSR2');
  return (await server.next<{ memory: Memory }>(30_000)).memory;
}

interface Growth {
  /** Connections open at each reading, and the reading. */
  points: Array<{ n: number; memory: Memory }>;
  openSeconds: number;
}

/** Starts `file` with a GC hook, warms it, and reads its memory as `CONNECTIONS` idle connections open in `STEPS` steps. */
async function measure(file: string, open: (port: number) => Promise<WebSocket>): Promise<Growth> {
  const server = await startLineChild<{ port: number }>(file, env, {
    nodeOptions: ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1', '--import', GC_REPORT],
  });
  children.push(server as LineChild<unknown>);
  const sockets: WebSocket[] = [];
  try {
    closeAll(await openMany(WARMUP, () => open(server.info.port)));
    await sleep(QUIET_MS);
    const points = [{ n: 0, memory: await memoryOf(server) }];
    let openSeconds = 0;
    for (let step = 1; step <= STEPS; step++) {
      const target = Math.round((CONNECTIONS * step) / STEPS);
      const opened = performance.now();
      sockets.push(...(await openMany(target - sockets.length, () => open(server.info.port))));
      openSeconds += (performance.now() - opened) / 1000;
      points.push({ n: sockets.length, memory: await memoryOf(server) });
    }
    if (sockets.some((s) => s.readyState !== s.OPEN)) throw new Error(`${file}: some connections closed while idle`);
    return { points, openSeconds };
  } finally {
    closeAll(sockets);
    await stopLineChild(server as LineChild<unknown>);
  }
}

/**
 * Bytes per connection: the median of the slopes between every two readings (Theil–Sen), so that one
 * reading moved by a late release of memory (tsx's loader thread, the allocator) does not decide it.
 */
function slope(g: Growth, k: keyof Memory): number {
  const slopes: number[] = [];
  g.points.forEach((a, i) => {
    for (const b of g.points.slice(i + 1)) if (b.n !== a.n) slopes.push((b.memory[k] - a.memory[k]) / (b.n - a.n));
  });
  slopes.sort((x, y) => x - y);
  const mid = slopes.length / 2;
  return slopes.length % 2 ? (slopes[Math.floor(mid)] as number) : ((slopes[mid - 1] as number) + (slopes[mid] as number)) / 2;
}

try {
  const { key } = await createTenant({ name: 'ws memory bench' });
  const raw = await measure('bench/lib/raw-ws-server.ts', (port) => rawWsConnection(`ws://127.0.0.1:${port}/`));
  const product = await measure('bench/lib/api-server.ts', (port) => graphqlWsConnection(`ws://127.0.0.1:${port}/graphql`, key));

  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const detail = (g: Growth) =>
    `RSS MiB ${g.points.map((p) => mb(p.memory.rssAnon)).join(' → ')}; heap ${kb(slope(g, 'heapUsed'))}/conn, external ${kb(slope(g, 'external'))}/conn; opened in ${g.openSeconds.toFixed(2)} s`;
  const rawPer = slope(raw, 'rssAnon');
  const productPer = slope(product, 'rssAnon');
  const ratio = productPer / rawPer;
  const conclusive = rawPer > 0 && productPer > 0;
  table([
    ['measure', 'RSS / connection', 'detail'],
    [`raw ws server, ${fmt(CONNECTIONS)} idle connections (baseline)`, kb(rawPer), detail(raw)],
    [`product graphql-ws, ${fmt(CONNECTIONS)} idle authenticated connections`, kb(productPer), detail(product)],
    [
      'RSS ratio (goal ≤ 2×)',
      conclusive ? `${ratio.toFixed(2)}×` : 'n/a',
      conclusive ? (ratio <= 2 ? 'goal met' : 'GOAL MISSED') : 'INCONCLUSIVE: RSS did not grow with the connections; use more connections',
    ],
    ['heap used ratio (no goal: the live JS objects, steadier than RSS)', `${(slope(product, 'heapUsed') / slope(raw, 'heapUsed')).toFixed(2)}×`, ''],
  ]);
  if (!conclusive) process.exitCode = 1;
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  for (const c of children) await stopLineChild(c).catch(() => undefined);
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(process.exitCode ?? 0);
