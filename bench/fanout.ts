// `npm run bench:fanout`: live progress fan-out (issue 5). BENCH_CLIENTS (1,000) graphql-ws clients
// subscribed to one campaign's `campaignProgress` on the product's API server process, with progress
// events published through Redis exactly as the workers publish them (src/infra/realtime/pubsub.ts
// `publish`, the payload bumpCampaign builds); against a minimal raw path: a Redis subscriber in its
// own process (bench/lib/raw-ws-server.ts) forwarding each message to as many plain `ws` clients, the
// same events published on its channel, in this run. The clients (the benchmark's process) parse
// every frame on both sides.
//
// Each side runs two phases:
// - latency: BENCH_RATE events/s (4: the most a subscriber receives in production, where progress
//   is coalesced to one event per 250 ms) for BENCH_SECONDS (10); publish-to-client latency of every
//   delivery (publish call to the client's parse of the frame), p50 and p99;
// - throughput: a burst of BENCH_BURST events (200) published back to back. Progress events are
//   states: the product shares one stream between identical subscriptions and a subscriber that falls
//   behind gets the latest state, not every intermediate one (the raw path forwards every frame). So
//   the throughput compared is states/s kept up with = burst ÷ (time until every client holds the
//   burst's last state − first publish); raw deliveries/s are printed too.
// Goal: ≥ 0.3× for both: the product's states/s ÷ the raw path's, and the raw path's p99 ÷ the
// product's p99 (so that higher is better for both ratios).
//
// PROGRESS_INTERVAL_MS is set to BENCH_PROGRESS_INTERVAL_MS (0): with the product's default (250 ms)
// each subscriber gets at most 4 events a second whatever is published, so the comparison would
// measure the coalescing timer, not the path; with 0 every published event reaches every subscriber,
// like the raw path. (The burst stays under the 1,024 pushes a subscription may have pending.)
//
// Knobs: BENCH_CLIENTS, BENCH_RATE, BENCH_SECONDS, BENCH_BURST, BENCH_PROGRESS_INTERVAL_MS,
// BENCH_CPU_PROF (a directory: CPU profiles of the product's API server and the raw server go there).
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { type LineChild, startLineChild } from './lib/child-lines.js';
import { fmt, REDIS_URL, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';
import { stopLineChild } from './lib/stop-child.js';
import { closeAll, graphqlWsConnection, openMany, rawWsConnection } from './lib/ws-clients.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 200);
const INTERVAL_MS = Number(process.env.BENCH_PROGRESS_INTERVAL_MS ?? 0);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null;
/** A phase whose clients receive nothing for this long while some still lack its last event is given up. */
const STALL_MS = 15_000;

const db = await productDatabase();
const env = productEnv(db.url, { PROGRESS_INTERVAL_MS: String(INTERVAL_MS) });
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');
const { publish, closePubsub } = await import('../src/infra/realtime/pubsub.js');
type ProgressEvent = import('../src/infra/realtime/topics.js').CampaignProgressEvent;

const PROGRESS = `subscription Progress($campaignId: ID!) { campaignProgress(campaignId: $campaignId) {
  status percentDone deliveryRate readRate sendsPerMinute expectedFinishAt at
  counters { targeted sent delivered read failed remaining }
} }`;

interface PhaseResult {
  published: number;
  deliveries: number;
  expected: number;
  /** Clients that did not get the phase's last event. */
  missing: number;
  seconds: number;
  /** From the first publish until every client held the phase's last event. */
  allSeconds: number;
  p50: number;
  p99: number;
}

interface SideResult {
  latency: PhaseResult;
  burst: PhaseResult;
  unexpected: number;
  firstUnexpected: string;
}

/** Receives frames, maps them to their event's sequence number and records publish-to-client latency. */
class Recorder {
  readonly publishedAt = new Map<number, number>();
  private latencies: number[] = [];
  private lastSeen: Int32Array;
  private deliveries = 0;
  private lastAt = 0;
  private waiting: { seq: number; resolve: () => void } | null = null;
  private reached = 0;
  /** When the last client got the awaited event. */
  private allAt = 0;
  /** Frames that were not an event (an error or a completion of the subscription): the first is kept. */
  unexpected = 0;
  firstUnexpected = '';

  constructor(
    clients: number,
    /** The event's sequence number, or -1 for a frame that is not an event. */
    private readonly seqOf: (frame: Buffer) => number,
  ) {
    this.lastSeen = new Int32Array(clients);
  }

  frame(client: number, data: Buffer) {
    const now = performance.now();
    const seq = this.seqOf(data);
    if (seq < 0) {
      if (this.unexpected++ === 0) this.firstUnexpected = data.toString().slice(0, 500);
      return;
    }
    const at = this.publishedAt.get(seq);
    if (at === undefined) return; // the initial state, or an event of no phase
    this.latencies.push(now - at);
    this.deliveries++;
    this.lastAt = now;
    const before = this.lastSeen[client] as number;
    if (seq > before) this.lastSeen[client] = seq;
    if (this.waiting && before < this.waiting.seq && seq >= this.waiting.seq && ++this.reached === this.lastSeen.length) {
      this.allAt = now;
      this.waiting.resolve();
    }
  }

  /** Starts a phase: forgets the previous one's deliveries. */
  begin() {
    this.latencies = [];
    this.deliveries = 0;
    this.lastAt = 0;
    this.allAt = 0;
  }

  /** Resolves when every client has the event `seq` (the phase's last), or when deliveries stall; returns the clients without it. */
  async until(seq: number, stallMs: number) {
    this.reached = this.lastSeen.reduce((n, s) => n + (s >= seq ? 1 : 0), 0);
    if (this.reached < this.lastSeen.length) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiting = { seq, resolve };
        let seen = this.deliveries;
        let quietSince = performance.now();
        timer = setInterval(() => {
          if (this.deliveries !== seen) {
            seen = this.deliveries;
            quietSince = performance.now();
          } else if (performance.now() - quietSince > stallMs) resolve();
        }, 250);
      });
      clearInterval(timer);
      this.waiting = null;
    }
    return this.lastSeen.reduce((n, s) => n + (s >= seq ? 0 : 1), 0);
  }

  result(firstPublish: number, published: number, missing: number): PhaseResult {
    const sorted = Float64Array.from(this.latencies).sort();
    const q = (p: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number) : Number.NaN);
    return {
      published,
      deliveries: this.deliveries,
      expected: published * this.lastSeen.length,
      missing,
      seconds: (this.lastAt - firstPublish) / 1000,
      allSeconds: ((this.allAt || this.lastAt) - firstPublish) / 1000,
      p50: q(0.5),
      p99: q(0.99),
    };
  }
}

let seq = 0;
function progressEvent(tenantId: string, campaignId: string, n: number): ProgressEvent {
  // What bumpCampaign publishes after a send: the campaign row's counters and its new version.
  return {
    tenantId,
    campaignId,
    status: 'RUNNING',
    version: String(n),
    resumesAt: null,
    stalledSince: null,
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    completedAt: null,
    targeted: 1_000_000,
    sent: n,
    delivered: Math.floor(n * 0.9),
    read: Math.floor(n * 0.5),
    replied: 0,
    clicked: 0,
    converted: 0,
    failed: Math.floor(n * 0.01),
    skipped: 0,
    unknown: 0,
    remaining: 1_000_000 - n,
    at: new Date().toISOString(),
  };
}

/** Both phases against one side: `send` publishes event n through that side's Redis path. */
async function runPhases(recorder: Recorder, send: (n: number) => Promise<unknown>): Promise<SideResult> {
  recorder.begin();
  const count = Math.max(1, Math.round(RATE * SECONDS));
  const first = seq + 1;
  const start = performance.now();
  for (let k = 0; k < count; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const n = ++seq;
    recorder.publishedAt.set(n, performance.now());
    await send(n);
  }
  const latencyMissing = await recorder.until(seq, STALL_MS);
  const latency = recorder.result(recorder.publishedAt.get(first) as number, count, latencyMissing);

  recorder.begin();
  const burstFirst = seq + 1;
  for (let k = 0; k < BURST; k++) {
    const n = ++seq;
    recorder.publishedAt.set(n, performance.now());
    await send(n);
  }
  const burstMissing = await recorder.until(seq, STALL_MS);
  const burst = recorder.result(recorder.publishedAt.get(burstFirst) as number, BURST, burstMissing);
  return { latency, burst, unexpected: recorder.unexpected, firstUnexpected: recorder.firstUnexpected };
}

const children: LineChild<unknown>[] = [];
async function spawn<T>(file: string, extra: Record<string, string>, profile: boolean): Promise<LineChild<T>> {
  if (profile && PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const c = await startLineChild<T>(file, { ...env, ...extra }, { nodeOptions: profile && PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [] });
  children.push(c as LineChild<unknown>);
  return c;
}

const publisher = new Redis(REDIS_URL);
let sockets: WebSocket[] = [];
try {
  const { tenant, key } = await createTenant({ name: 'fanout bench' });
  const campaign = await prisma.campaign.create({
    data: { tenantId: tenant.id, name: 'Fan-out bench', status: 'RUNNING', targetedCount: 1_000_000, remainingCount: 1_000_000, startedAt: new Date() },
  });
  const campaignGlobalId = Buffer.from(`Campaign:${campaign.id}`).toString('base64');

  // The raw path first: a Redis subscriber process broadcasting to plain ws clients.
  const rawChannel = `${env.REDIS_PREFIX}:raw-fanout`;
  const raw = await spawn<{ port: number }>('bench/lib/raw-ws-server.ts', { RAW_CHANNEL: rawChannel }, true);
  let rawResult: SideResult;
  let rawOpenSeconds: number;
  {
    const recorder = new Recorder(CLIENTS, (frame) => (JSON.parse(frame.toString()) as ProgressEvent).sent);
    const opened = performance.now();
    sockets = await openMany(CLIENTS, (i) => rawWsConnection(`ws://127.0.0.1:${raw.info.port}/`, { onFrame: (d) => recorder.frame(i, d) }));
    rawOpenSeconds = (performance.now() - opened) / 1000;
    rawResult = await runPhases(recorder, (n) => publisher.publish(rawChannel, JSON.stringify(progressEvent(tenant.id, campaign.id, n))));
    closeAll(sockets);
    sockets = [];
    await stopLineChild(raw as LineChild<unknown>);
  }

  // The product: graphql-ws subscriptions on its API server, events published as the workers do.
  const api = await spawn<{ port: number }>('bench/lib/api-server.ts', {}, true);
  let product: SideResult;
  let productOpenSeconds: number;
  {
    const recorder = new Recorder(CLIENTS, (frame) => {
      const msg = JSON.parse(frame.toString()) as { type: string; payload?: { data?: { campaignProgress?: { counters: { sent: number } } }; errors?: unknown } };
      return msg.type === 'next' && msg.payload?.data?.campaignProgress ? msg.payload.data.campaignProgress.counters.sent : -1;
    });
    const opened = performance.now();
    sockets = await openMany(CLIENTS, (i) =>
      graphqlWsConnection(`ws://127.0.0.1:${api.info.port}/graphql`, key, {
        subscribe: { query: PROGRESS, variables: { campaignId: campaignGlobalId } },
        onFrame: (d) => recorder.frame(i, d),
      }),
    );
    productOpenSeconds = (performance.now() - opened) / 1000;
    product = await runPhases(recorder, (n) => publish('campaign:progress', progressEvent(tenant.id, campaign.id, n)));
    closeAll(sockets);
    sockets = [];
    await stopLineChild(api as LineChild<unknown>);
  }

  const rateOf = (p: PhaseResult) => p.deliveries / p.seconds;
  const statesOf = (p: PhaseResult) => p.published / p.allSeconds;
  const throughputRatio = statesOf(product.burst) / statesOf(rawResult.burst);
  const latencyRatio = rawResult.latency.p99 / product.latency.p99;
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const phase = (p: PhaseResult) =>
    `${fmt(p.deliveries)} of ${fmt(p.expected)} delivered${p.missing ? `, ${p.missing} clients without the last event` : ''}`;
  const verdict = (ok: boolean) => (ok ? 'goal met' : 'GOAL MISSED');
  table([
    ['measure', 'value', 'detail'],
    [
      `raw Redis → ws, ${fmt(CLIENTS)} clients: burst (baseline)`,
      `${fmt(statesOf(rawResult.burst))} states/s`,
      `every client held the last of ${BURST} after ${rawResult.burst.allSeconds.toFixed(2)} s; ${phase(rawResult.burst)} (${fmt(rateOf(rawResult.burst))} deliveries/s)`,
    ],
    [
      `product graphql-ws, ${fmt(CLIENTS)} subscribers: burst`,
      `${fmt(statesOf(product.burst))} states/s`,
      `every client held the last of ${BURST} after ${product.burst.allSeconds.toFixed(2)} s; ${phase(product.burst)} (${fmt(rateOf(product.burst))} deliveries/s)`,
    ],
    ['states/s ratio (goal ≥ 0.3×)', `${throughputRatio.toFixed(3)}×`, verdict(throughputRatio >= 0.3)],
    [`raw at ${RATE} events/s (baseline)`, `p99 ${ms(rawResult.latency.p99)}`, `p50 ${ms(rawResult.latency.p50)}, ${phase(rawResult.latency)}; ${fmt(CLIENTS)} connections opened in ${rawOpenSeconds.toFixed(2)} s`],
    [
      `product at ${RATE} events/s`,
      `p99 ${ms(product.latency.p99)}`,
      `p50 ${ms(product.latency.p50)}, ${phase(product.latency)}; ${fmt(CLIENTS)} subscriptions opened in ${productOpenSeconds.toFixed(2)} s; PROGRESS_INTERVAL_MS=${INTERVAL_MS}`,
    ],
    ['p99 ratio, raw ÷ product (goal ≥ 0.3×)', `${latencyRatio.toFixed(3)}×`, verdict(latencyRatio >= 0.3)],
  ]);
  const incomplete = [rawResult.latency, rawResult.burst, product.latency, product.burst].some((p) => p.missing > 0);
  if (incomplete) console.error('some clients never received the last event of a phase: the results above are incomplete');
  for (const [name, side] of [['raw', rawResult], ['product', product]] as const) {
    if (side.unexpected) console.error(`${name}: ${side.unexpected} frames were not events; the first: ${side.firstUnexpected}`);
  }
  if (incomplete || rawResult.unexpected || product.unexpected) process.exitCode = 1;
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  closeAll(sockets);
  for (const c of children) await stopLineChild(c).catch(() => undefined);
  await publisher.quit().catch(() => undefined);
  await closePubsub();
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(process.exitCode ?? 0);
