// `npm run bench:scale`: the whole product at production scale, paced like real numbers (issue 20).
//
// BENCH_RECIPIENTS (200,000) recipients over BENCH_INSTANCES (500) instances, each
// registered through GraphQL with limitPerMinute = BENCH_PER_MINUTE (20), limitPerHour = 60 × that,
// and a random delay between its messages of BENCH_MIN_DELAY_MS…BENCH_MAX_DELAY_MS (by default 50 %
// and 90 % of 60 s ÷ perMinute: 1.5–2.7 s at 20/min, so the delays alone would allow more than the
// limit and never bind below it; the per-minute limit is what paces each number). The API takes at most
// 100 instances per campaign (CreateCampaignInput.instanceIds), so the recipients go out as
// ceil(instances ÷ BENCH_PER_CAMPAIGN (100)) campaigns of one tenant started together, each with its
// share of the instances and a proportional share of the contacts (by tag): 5 campaigns of 100 instances
// and 40,000 recipients at the defaults, what an operator must do today. Every process is its
// own: the Evolution simulator (answering at once, no failures; receipts on by default), BENCH_WORKERS (3)
// worker processes, BENCH_APIS (2) API server processes (the instances' webhooks spread over them),
// a private redis-server on a free port started by the benchmark (so that its command counts are this
// run's alone; the machine's PostgreSQL is shared, in a scratch database), and in the benchmark's own
// process BENCH_SUBSCRIBERS (200) graphql-ws subscribers to the campaigns' `campaignProgress`, spread
// over the campaigns and the API servers.
//
// How long: the pacing-bound rate is instances × perMinute ÷ 60 sends/s (500 × 20 ÷ 60 ≈ 167/s), so
// the defaults send for about 20 minutes (200,000 ÷ 167/s ≈ 1,200 s; the limiter's minute is 61 s,
// see below), plus 2–4 minutes of set-up (500 instances registered one by one through GraphQL, 200,000
// contacts, the start) and checks. Smaller: BENCH_RECIPIENTS=20000 (~2 minutes of sending at the other
// defaults). The steady state needs each instance to send several minutes' worth: in its first minute an
// instance sends its perMinute as fast as its delays allow, and only then does the limit set the pace; the
// benchmark says so when recipients ÷ instances < 5 × perMinute.
//
// Measured over the run (from the first startCampaign request to the last COMPLETED, and with receipts on, until every
// delivery receipt is applied):
// - sends/s in the steady state: between the 10th and the 90th percentile of the sends by the
//   simulator's clock (when each request reached it), against the pacing bound instances × perMinute
//   ÷ 60. Goal ≥ 0.95×. The limiter's windows are 61 s, not 60 (LIMIT_WINDOW_GUARD_MS: a send must stay
//   inside the limit by Evolution's clock too), so the most any run can reach is 60 ÷ 61 = 0.984×.
// - worker CPU per send: the worker processes' utime + stime (/proc/<pid>/stat), after − before, ÷ sends;
//   the API servers' likewise, for reference.
// - Redis commands per send: `total_commands_processed` of the private Redis, after − before, ÷ sends
//   (every process's commands: BullMQ, the limiter, the pace gate, pub/sub, receipts); the commands
//   that make most of it from `INFO commandstats`.
// - worker memory: each worker's RSS sampled every BENCH_SAMPLE_S (5) s; first, middle and last sample,
//   and the slope (least squares) over the steady state. Goal flat: the growth (slope × the steady state's
//   length; shrinking counts as flat) under max(10 MB, 5 % of the worker's mean RSS); no verdict when the steady state lasts under 5
//   minutes (over a minute or two the slope follows the garbage collector, up or down by 5–15 MB/min).
// - publish-to-subscriber latency: every progress event carries `at`, the time its snapshot was taken
//   (src/features/campaigns/progress.ts toProgressEvent: right after the campaign row's UPDATE, in the
//   transaction; the event is published after the commit). Each subscriber's receipt time minus the `at`
//   of the event received, for every event after the start: p50, p99, max. All processes share the
//   machine's clock; `at` has millisecond resolution. This includes the commit, the publish, Redis, the
//   API server's coalescing (at most one event per PROGRESS_INTERVAL_MS, 250 ms by default, per
//   subscription: a coalesced event waits up to that long, so p99 near 250 ms is the design, not a
//   delay), GraphQL execution and the WebSocket. For the breakdown, a plain Redis subscriber in the
//   benchmark's process on the same channel measures `at` → Redis delivery.
// - context, to judge a run: the whole machine's busy share over it (/proc/stat, every process, other
//   work included) and the load average; the send path's mean Evolution call and claim→recorded time.
//
// Checked at the end (any failure: exit code 1): every campaign COMPLETED; every recipient sent exactly
// once (each recipient's provider message id is one send in the simulator's record, to its phone,
// through its instance; no number called twice; as many sends as recipients); the campaign's counters
// equal a recount of its recipients, for each; no instance made more than perMinute sends in any 60 s by the
// simulator's clock; no two consecutive sends of an instance closer than its minimum delay (from the
// answer to the next request, as the pace gate spaces them); every subscriber saw COMPLETED and nothing
// but progress events; with receipts, every recipient delivered. Goals missed are printed, not failed.
//
// Knobs: BENCH_RECIPIENTS (200000), BENCH_INSTANCES (500), BENCH_PER_CAMPAIGN (100), BENCH_PER_MINUTE (20), BENCH_MIN_DELAY_MS,
// BENCH_MAX_DELAY_MS (50 % and 90 % of 60000 ÷ perMinute), BENCH_WORKERS (3), BENCH_APIS (2),
// BENCH_SUBSCRIBERS (200), BENCH_RECEIPTS (1; 0: the simulator sends no webhooks), BENCH_SAMPLE_S (5),
// BENCH_DB_POOL (10, the product's DATABASE_POOL_SIZE default, per process), BENCH_CPU_PROF (a directory:
// CPU profiles of the workers and API servers), BENCH_LOG_DIR (a directory for the processes' logs, at
// BENCH_LOG_LEVEL, default info), BENCH_KEEP_DB (1: keep the scratch database, wc_bench_…).
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type WebSocket from 'ws';
import { COUNTERS_AND_RECOUNT } from '../scripts/lib/long-run.js';
import { startPrivateRedis } from '../test/helpers/private-services.js';
import { type LineChild, startLineChild } from './lib/child-lines.js';
import { connectOnSimulator, createCampaign, registerSenders, type Sender, seedContacts, startCampaign, uuidOf } from './lib/campaign-setup.js';
import { fmt, machineBusyMs, processCpuMs, processRssBytes, table } from './lib/measure.js';
import { type ProductDatabase, productDatabase, productEnv, useProductEnv } from './lib/product.js';
import { stopLineChild } from './lib/stop-child.js';
import { closeAll, graphqlWsConnection, openMany } from './lib/ws-clients.js';

const on = (v: string | undefined, dflt: boolean) => (v === undefined ? dflt : ['1', 'true', 'on'].includes(v));
const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 200_000);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 500);
const PER_MINUTE = Number(process.env.BENCH_PER_MINUTE ?? 20);
/** Instances per campaign: the API takes at most 100 (src/api/schema/campaign-mutations.ts). */
const PER_CAMPAIGN = Math.min(100, Number(process.env.BENCH_PER_CAMPAIGN ?? 100));
const CAMPAIGNS = Math.ceil(INSTANCES / PER_CAMPAIGN);
const INTERVAL_MS = 60_000 / PER_MINUTE;
const MIN_DELAY_MS = Number(process.env.BENCH_MIN_DELAY_MS ?? Math.round(0.5 * INTERVAL_MS));
const MAX_DELAY_MS = Number(process.env.BENCH_MAX_DELAY_MS ?? Math.round(0.9 * INTERVAL_MS));
const WORKERS = Number(process.env.BENCH_WORKERS ?? 3);
const APIS = Number(process.env.BENCH_APIS ?? 2);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 200);
const RECEIPTS = on(process.env.BENCH_RECEIPTS, true);
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_S ?? 5) * 1000;
const DB_POOL = Number(process.env.BENCH_DB_POOL ?? 10);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null;
const LOG_DIR = process.env.BENCH_LOG_DIR ? resolve(process.env.BENCH_LOG_DIR) : null;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const SIM_KEY = 'bench-sim-global-key';
/** A run that sends nothing for this long is stuck (an instance waits at most a minute for its window). */
const STALL_MS = 120_000;
const PACING_BOUND = (INSTANCES * PER_MINUTE) / 60;
/** The most the limiter allows: its minute is LIMIT_WINDOW_GUARD_MS (1 s) longer (src/domain/instances.ts). */
const LIMITER_CEILING = 60 / 61;
/** A steady state shorter than this gives no memory verdict (see the header). */
const MIN_MEMORY_MINUTES = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

// Everything started is stopped on every exit path: success, failure, Ctrl-C.
const children: LineChild<unknown>[] = [];
let privateRedis: Awaited<ReturnType<typeof startPrivateRedis>> | null = null;
let db: ProductDatabase | null = null;
let client: pg.Client | null = null;
let sockets: WebSocket[] = [];
let redisWatch: Redis | null = null;
let prismaDisconnect: (() => Promise<void>) | null = null;
let sampler: NodeJS.Timeout | null = null;
let cleaning: Promise<void> | null = null;
function cleanup() {
  cleaning ??= (async () => {
    if (sampler) clearInterval(sampler);
    closeAll(sockets);
    for (const c of children) await stopLineChild(c).catch(() => undefined);
    redisWatch?.disconnect();
    await client?.end().catch(() => undefined);
    await prismaDisconnect?.().catch(() => undefined);
    if (db && !process.env.BENCH_KEEP_DB) await db.drop().catch((e) => console.error('dropping the scratch database failed:', e));
    await privateRedis?.stop().catch(() => undefined);
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

interface SimSend {
  seq: number;
  at: string;
  sentAt: string;
  instance: string;
  number: string;
  keyId: string;
}

const PROGRESS = `subscription ($campaignId: ID!) { campaignProgress(campaignId: $campaignId) { status at counters { sent remaining } } }`;

/** Subscribers' frames: latency of every progress event after the start, and whether each saw COMPLETED. */
class Subscribers {
  latencies: number[] = [];
  completed: boolean[];
  unexpected = 0;
  firstUnexpected = '';
  since = Number.POSITIVE_INFINITY;
  constructor(count: number) {
    this.completed = Array.from({ length: count }, () => false);
  }
  frame(i: number, data: Buffer) {
    const now = Date.now();
    const msg = JSON.parse(data.toString()) as { type: string; payload?: { data?: { campaignProgress?: { status: string; at: string } } } };
    const p = msg.type === 'next' ? msg.payload?.data?.campaignProgress : undefined;
    if (!p) {
      if (this.unexpected++ === 0) this.firstUnexpected = data.toString().slice(0, 500);
      return;
    }
    const at = Date.parse(p.at);
    if (at >= this.since) this.latencies.push(now - at);
    if (p.status === 'COMPLETED') this.completed[i] = true;
  }
}

function quantiles(values: number[]) {
  const sorted = Float64Array.from(values).sort();
  const q = (p: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number) : Number.NaN);
  return { n: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN };
}

/** Least-squares slope of y over x. */
function slope(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** `INFO commandstats` as command → calls. */
function commandCalls(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1] as string, Number(m[2]));
  return calls;
}
const totalCommands = (info: string) => Number(info.match(/^total_commands_processed:(\d+)/m)?.[1] ?? Number.NaN);

const problems: string[] = [];
try {
  if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  privateRedis = await startPrivateRedis();
  db = await productDatabase();
  const env = productEnv(db.url, { REDIS_URL: privateRedis.url, DATABASE_POOL_SIZE: String(DB_POOL) });
  useProductEnv(env);
  const { prisma } = await import('../src/infra/db/client.js');
  prismaDisconnect = () => prisma.$disconnect();
  const { createTenant } = await import('../src/features/auth/api-keys.js');
  const { channel } = await import('../src/infra/realtime/pubsub.js');
  const { config } = await import('../src/infra/config/index.js');

  client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined); // ended by DROP DATABASE … WITH (FORCE) after a failure
  await client.connect();
  const sql = client;

  async function spawn<T>(file: string, name: string, isReport: (l: Record<string, unknown>) => boolean, extra: Record<string, string> = {}, product = false): Promise<LineChild<T>> {
    const c = await startLineChild<T>(file, { ...env, ...(product && LOG_DIR ? { LOG_LEVEL } : {}), ...extra }, {
      nodeOptions: product && PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
      isReport,
      logFile: LOG_DIR ? join(LOG_DIR, `${name}.log`) : undefined,
    });
    children.push(c as LineChild<unknown>);
    return c;
  }

  const sim = await spawn<{ url: string }>('tools/evolution-simulator/main.ts', 'simulator', (l) => typeof l.url === 'string', {
    SIM_HOST: '127.0.0.1',
    SIM_PORT: '0',
    SIM_API_KEY: SIM_KEY,
    SIM_SEED: '20',
    SIM_LATENCY_MS: '0',
    SIM_FAILURE_RATE: '0',
    SIM_SERVER_ERROR_RATE: '0',
    SIM_HANG_RATE: '0',
    SIM_DUPLICATE_RATE: '0',
    SIM_REORDER_RATE: '0',
    SIM_LID_RATE: '0',
    SIM_NOT_ON_WHATSAPP: '',
  });
  const simUrl = sim.info.url;
  const simGet = async <T>(path: string) => {
    const res = await fetch(`${simUrl}${path}`, { headers: { apikey: SIM_KEY } });
    if (res.status !== 200) throw new Error(`simulator GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  const apis: Array<LineChild<{ port: number }>> = [];
  for (let i = 1; i <= APIS; i++) apis.push(await spawn<{ port: number }>('bench/lib/api-server.ts', `api-${i}`, (l) => 'port' in l, {}, true));
  const apiUrls = apis.map((a) => `http://127.0.0.1:${a.info.port}`);
  const apiUrl = apiUrls[0] as string;
  const workers: Array<LineChild<{ ready: boolean; pid: number }>> = [];
  for (let i = 1; i <= WORKERS; i++) workers.push(await spawn<{ ready: boolean; pid: number }>('bench/lib/product-worker.ts', `worker-${i}`, (l) => l.ready === true, {}, true));
  const workerPids = workers.map((w) => w.info.pid);
  const apiPids = apis.map((a) => a.child.pid as number);

  // Set-up through the public API, as an operator would: the senders, their numbers on "Evolution", the campaign.
  const setupStarted = Date.now();
  const { tenant, key } = await createTenant({ name: 'scale bench' });
  const registered = await registerSenders(apiUrl, key, sql, {
    baseUrl: simUrl,
    apiKey: SIM_KEY,
    count: INSTANCES,
    prefix: 'scale',
    limits: { perMinute: PER_MINUTE, perHour: PER_MINUTE * 60, perDay: 1_000_000, minDelayMs: MIN_DELAY_MS, maxDelayMs: MAX_DELAY_MS },
  });
  // Each instance's webhooks go to one of the API servers, in turn.
  const senders: Sender[] = registered.map((s, i) => ({ ...s, webhookUrl: `${apiUrls[i % APIS]}${new URL(s.webhookUrl).pathname}` }));
  for (const [i, s] of senders.entries()) await connectOnSimulator(simUrl, SIM_KEY, s, RECEIPTS, `5511300${String(i).padStart(6, '0')}`);
  const instanceName = new Map(senders.map((s) => [uuidOf(s.id), s.name]));
  // Campaign k: instances k×PER_CAMPAIGN… and a share of the recipients proportional to them, its contacts tagged `scale-k`.
  const campaigns: Array<{ id: string; uuid: string; recipients: number }> = [];
  for (let k = 0, seeded = 0; k < CAMPAIGNS; k++) {
    const mine = senders.slice(k * PER_CAMPAIGN, (k + 1) * PER_CAMPAIGN);
    const recipients = k === CAMPAIGNS - 1 ? RECIPIENTS - seeded : Math.round((RECIPIENTS * mine.length) / INSTANCES);
    await seedContacts(sql, tenant.id, recipients, seeded);
    await sql.query(`UPDATE contact SET tags = ARRAY[$2::text] WHERE tenant_id = $1 AND tags = '{}'`, [tenant.id, `scale-${k}`]);
    seeded += recipients;
    const c = await createCampaign(apiUrl, key, `scale ${k + 1}`, mine.map((s) => s.id), { tags: { any: [`scale-${k}`] } });
    campaigns.push({ id: c.id, uuid: c.uuid, recipients });
  }
  const campaignUuids = campaigns.map((c) => c.uuid);
  if (RECEIPTS) {
    // The connection.update webhooks of the set-up land before anything is measured.
    const until = Date.now() + 60_000;
    while ((await simGet<{ pendingWebhooks: number }>('/__simulator/state')).pendingWebhooks > 0 && Date.now() < until) await sleep(200);
    await sleep(1000);
  }

  // Subscribers, spread over the API servers, and a plain Redis subscriber on the same channel.
  const subs = new Subscribers(SUBSCRIBERS);
  sockets = await openMany(SUBSCRIBERS, (i) =>
    graphqlWsConnection(`${apiUrls[i % APIS]?.replace('http', 'ws')}/graphql`, key, {
      subscribe: { query: PROGRESS, variables: { campaignId: campaigns[i % CAMPAIGNS]?.id } },
      onFrame: (d) => subs.frame(i, d),
    }),
  );
  const redisLatencies: number[] = [];
  redisWatch = new Redis(privateRedis.url);
  await redisWatch.subscribe(...campaignUuids.map((id) => channel('campaign:progress', tenant.id, id)));
  redisWatch.on('message', (_channel: string, message: string) => {
    const now = Date.now();
    const at = Date.parse((JSON.parse(message) as { at: string }).at);
    if (at >= subs.since) redisLatencies.push(now - at);
  });
  const setupMs = Date.now() - setupStarted;

  // The run.
  const redisInfo = new Redis(privateRedis.url);
  const sumCpu = (pids: number[]) => pids.reduce((s, pid) => s + (processCpuMs(pid) ?? Number.NaN), 0);
  const rss: Array<Array<{ t: number; bytes: number }>> = workerPids.map(() => []);
  const sample = () => {
    const t = Date.now();
    workerPids.forEach((pid, k) => {
      const bytes = processRssBytes(pid);
      if (bytes !== null) rss[k]?.push({ t, bytes });
    });
  };
  const commandsBefore = await redisInfo.info('commandstats');
  const totalBefore = totalCommands(await redisInfo.info('stats'));
  const workerCpuBefore = sumCpu(workerPids);
  const apiCpuBefore = sumCpu(apiPids);
  const machineBefore = machineBusyMs();
  sample();
  sampler = setInterval(sample, SAMPLE_MS);
  const started = Date.now();
  subs.since = started;
  for (const c of campaigns) await startCampaign(apiUrl, key, c.id, c.recipients);

  let lastSent = -1;
  let lastProgressAt = Date.now();
  let lastReport = Date.now();
  let completedAt: Date;
  for (;;) {
    const { rows } = await sql.query<{ status: string; completed_at: Date | null; sent_count: number; remaining_count: number; pause_reason: string | null }>(
      'SELECT status, completed_at, sent_count, remaining_count, pause_reason FROM campaign WHERE id = ANY($1::uuid[])',
      [campaignUuids],
    );
    if (rows.length !== CAMPAIGNS) throw new Error('a campaign vanished');
    const stopped = rows.find((c) => c.status !== 'RUNNING' && c.status !== 'COMPLETED');
    if (stopped) throw new Error(`a campaign is ${stopped.status}: ${stopped.pause_reason ?? ''} (${JSON.stringify(stopped)})`);
    if (rows.every((c) => c.status === 'COMPLETED' && c.completed_at)) {
      completedAt = new Date(Math.max(...rows.map((c) => (c.completed_at as Date).getTime())));
      break;
    }
    const sent = rows.reduce((n, c) => n + c.sent_count, 0);
    if (sent !== lastSent) {
      lastSent = sent;
      lastProgressAt = Date.now();
    } else if (Date.now() - lastProgressAt > STALL_MS) {
      throw new Error(`nothing was sent for ${STALL_MS / 1000} s: ${JSON.stringify(rows)}`);
    }
    if (Date.now() - lastReport >= 30_000) {
      lastReport = Date.now();
      process.stderr.write(`scale: ${fmt(sent)} of ${fmt(RECIPIENTS)} sent after ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
    await sleep(500);
  }
  let receiptsAt: number | null = null;
  if (RECEIPTS) {
    const until = Date.now() + 120_000;
    for (;;) {
      const { rows } = await sql.query<{ delivered: number }>('SELECT sum(delivered_count)::int AS delivered FROM campaign WHERE id = ANY($1::uuid[])', [campaignUuids]);
      if (rows[0]?.delivered === RECIPIENTS) {
        receiptsAt = Date.now();
        break;
      }
      if (Date.now() > until) {
        problems.push(`only ${rows[0]?.delivered} of ${RECIPIENTS} recipients delivered 120 s after COMPLETED`);
        break;
      }
      await sleep(200);
    }
  }
  const endedAt = Date.now();
  const workerCpuMs = sumCpu(workerPids) - workerCpuBefore;
  const apiCpuMs = sumCpu(apiPids) - apiCpuBefore;
  const machineAfter = machineBusyMs();
  const load = loadavg();
  const totalAfter = totalCommands(await redisInfo.info('stats'));
  const commandsAfter = await redisInfo.info('commandstats');
  sample();
  clearInterval(sampler);
  sampler = null;
  redisInfo.disconnect();

  // Every subscriber ends with the campaign COMPLETED.
  {
    const until = Date.now() + 30_000;
    while (subs.completed.some((c) => !c) && Date.now() < until) await sleep(200);
    const without = subs.completed.filter((c) => !c).length;
    if (without) problems.push(`${without} of ${SUBSCRIBERS} subscribers never saw COMPLETED`);
    if (subs.unexpected) problems.push(`${subs.unexpected} subscription frames were not progress events; the first: ${subs.firstUnexpected}`);
  }

  // The simulator's record, instance by instance.
  const state = await simGet<{ sends: number }>('/__simulator/state');
  const byInstance = new Map<string, SimSend[]>();
  {
    const names = senders.map((s) => s.name);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < names.length) {
          const name = names[next++] as string;
          const { sends } = await simGet<{ sends: SimSend[] }>(`/__simulator/sends?instance=${encodeURIComponent(name)}`);
          byInstance.set(
            name,
            sends.map(({ seq, at, sentAt, instance, number, keyId }) => ({ seq, at, sentAt, instance, number, keyId })),
          );
        }
      }),
    );
  }
  const allSends = [...byInstance.values()].flat();
  if (state.sends !== RECIPIENTS || allSends.length !== RECIPIENTS) problems.push(`the simulator recorded ${state.sends} sends (${allSends.length} through the campaign's instances), not ${RECIPIENTS}`);

  let sendPath: { http_ms: number; claim_to_sent_ms: number; p99_claim_to_sent_ms: number } | null = null;
  // Every recipient sent exactly once: its message id is one send, to its phone, through its instance.
  {
    const byKey = new Map(allSends.map((s) => [s.keyId, s]));
    const perNumber = new Map<string, number>();
    for (const s of allSends) perNumber.set(s.number, (perNumber.get(s.number) ?? 0) + 1);
    const twice = [...perNumber.values()].filter((n) => n > 1).length;
    if (twice) problems.push(`${twice} numbers were sent to more than once`);
    const { rows } = await sql.query<{ phone: string; provider_message_id: string | null; instance_id: string | null; sent: boolean }>(
      'SELECT phone, provider_message_id, instance_id, sent_at IS NOT NULL AS sent FROM recipient WHERE campaign_id = ANY($1::uuid[])',
      [campaignUuids],
    );
    if (rows.length !== RECIPIENTS) problems.push(`the campaigns have ${rows.length} recipients, not ${RECIPIENTS}`);
    let unsent = 0;
    let noSend = 0;
    let wrong = 0;
    for (const r of rows) {
      if (!r.sent) unsent++;
      const s = r.provider_message_id ? byKey.get(r.provider_message_id) : undefined;
      if (!s) noSend++;
      else if (s.number !== r.phone.replace(/\D/g, '') || s.instance !== instanceName.get(r.instance_id ?? '')) wrong++;
    }
    if (unsent) problems.push(`${unsent} recipients not recorded as sent`);
    if (noSend) problems.push(`${noSend} recipients whose message id is no send in the simulator's record`);
    if (wrong) problems.push(`${wrong} recipients whose send went to another number or through another instance`);
    const { rows: path } = await sql.query<{ http_ms: number; claim_to_sent_ms: number; p99_claim_to_sent_ms: number }>(
      `SELECT avg(send_duration_ms)::float8 AS http_ms, (avg(extract(epoch FROM sent_at - sending_at)) * 1000)::float8 AS claim_to_sent_ms,
              (percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - sending_at)) * 1000)::float8 AS p99_claim_to_sent_ms
       FROM recipient WHERE campaign_id = ANY($1::uuid[])`,
      [campaignUuids],
    );
    sendPath = path[0] ?? null;
    for (const [k, c] of campaigns.entries()) {
      const { rows: check } = await sql.query<{ counters: Record<string, number>; recount: Record<string, number> }>(COUNTERS_AND_RECOUNT, [c.uuid]);
      if (JSON.stringify(check[0]?.counters) !== JSON.stringify(check[0]?.recount)) {
        problems.push(`campaign ${k + 1}: counters ${JSON.stringify(check[0]?.counters)} differ from the recount ${JSON.stringify(check[0]?.recount)}`);
      }
    }
  }

  // Pacing by the simulator's clock: at most PER_MINUTE in any 60 s; consecutive sends at least the minimum delay apart.
  let worstMinute = 0;
  let minGap = Number.POSITIVE_INFINITY;
  let overLimit = 0;
  let tooClose = 0;
  for (const [name, sends] of byInstance) {
    const ordered = [...sends].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    const times = ordered.map((s) => Date.parse(s.at));
    let worst = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 60_000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    worstMinute = Math.max(worstMinute, worst);
    if (worst > PER_MINUTE) overLimit++;
    for (let i = 1; i < ordered.length; i++) {
      // The pace gate spaces a request from the previous one's answer (the simulator answers at sentAt).
      const gap = Date.parse((ordered[i] as SimSend).at) - Date.parse((ordered[i - 1] as SimSend).sentAt);
      minGap = Math.min(minGap, gap);
      if (gap < MIN_DELAY_MS - 1) tooClose++; // the record's times are whole milliseconds
    }
    if (worst > PER_MINUTE && overLimit === 1) problems.push(`instance ${name} sent ${worst} in one 60 s window (limit ${PER_MINUTE})`);
  }
  if (overLimit > 1) problems.push(`${overLimit} instances exceeded their per-minute limit in some 60 s`);
  if (tooClose) problems.push(`${tooClose} sends came less than ${MIN_DELAY_MS} ms after their instance's previous answer (closest ${minGap} ms)`);

  // Steady-state rate: between the 10th and the 90th percentile of the sends.
  const times = Float64Array.from(allSends.map((s) => Date.parse(s.at))).sort();
  const i10 = Math.floor(0.1 * (times.length - 1));
  const i90 = Math.floor(0.9 * (times.length - 1));
  const t10 = times[i10] as number;
  const t90 = times[i90] as number;
  const steadyPerSec = (i90 - i10) / ((t90 - t10) / 1000);
  const steadyRatio = steadyPerSec / PACING_BOUND;
  const sends = allSends.length;
  const firstSend = times[0] as number;
  const lastSend = times[times.length - 1] as number;

  // Redis commands.
  const totalCmds = totalAfter - totalBefore;
  const before = commandCalls(commandsBefore);
  const topCommands = [...commandCalls(commandsAfter)]
    .map(([cmd, calls]) => ({ cmd, calls: calls - (before.get(cmd) ?? 0) }))
    .filter((c) => c.calls > 0)
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 6);

  // Worker memory.
  const steadyMinutes = (t90 - t10) / 60_000;
  const memory = rss.map((samples) => {
    const first = samples[0]?.bytes ?? Number.NaN;
    const middle = samples[Math.floor(samples.length / 2)]?.bytes ?? Number.NaN;
    const last = samples[samples.length - 1]?.bytes ?? Number.NaN;
    const steady = samples.filter((s) => s.t >= t10 && s.t <= t90);
    const points = (steady.length >= 3 ? steady : samples).map((s) => ({ x: s.t / 60_000, y: s.bytes }));
    const perMinute = slope(points);
    const mean = points.reduce((s, p) => s + p.y, 0) / Math.max(1, points.length);
    const growth = perMinute * steadyMinutes;
    // Over a few minutes the slope is the garbage collector's rhythm, not a trend: no verdict then.
    const flat = steadyMinutes < MIN_MEMORY_MINUTES ? null : growth < Math.max(10 * 2 ** 20, 0.05 * mean); // shrinking is flat enough
    return { first, middle, last, perMinute, samples: samples.length, flat };
  });

  const subLatency = quantiles(subs.latencies);
  const redisLatency = quantiles(redisLatencies);
  const perInstance = RECIPIENTS / INSTANCES;
  const shortRun = perInstance < 5 * PER_MINUTE;

  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const verdict = (ok: boolean) => (ok ? 'goal met' : 'GOAL MISSED');
  process.stdout.write(
    `${fmt(RECIPIENTS)} recipients in ${CAMPAIGNS} campaign${CAMPAIGNS === 1 ? '' : 's'} of ≤ ${PER_CAMPAIGN} instances, ${fmt(INSTANCES)} instances at ${PER_MINUTE}/min (delays ${MIN_DELAY_MS}–${MAX_DELAY_MS} ms), ${WORKERS} workers, ${APIS} API servers, ` +
      `${fmt(SUBSCRIBERS)} subscribers, receipts ${RECEIPTS ? 'on' : 'off'}, database pool ${DB_POOL} per process; set-up ${(setupMs / 1000).toFixed(0)} s\n`,
  );
  if (shortRun) {
    process.stdout.write(
      `note: each instance sends only ${perInstance.toFixed(0)} (< 5 × ${PER_MINUTE}): the first minute, paced by the delays rather than the limit, weighs on the "steady" rate; not a steady state\n`,
    );
  }
  const rows: Array<[string, string, string]> = [['measure', 'value', 'detail']];
  rows.push(
    [
      'sends/s, steady state (p10→p90 of sends)',
      `${steadyPerSec.toFixed(1)}/s`,
      `${fmt(sends)} sends from ${((firstSend - started) / 1000).toFixed(1)} s to ${((lastSend - started) / 1000).toFixed(1)} s after the start; first start→last COMPLETED ${((completedAt.getTime() - started) / 1000).toFixed(1)} s`,
    ],
    [`pacing bound: ${INSTANCES} × ${PER_MINUTE}/min ÷ 60`, `${PACING_BOUND.toFixed(1)}/s`, `the limiter's 61 s minute allows at most ${(PACING_BOUND * LIMITER_CEILING).toFixed(1)}/s (${LIMITER_CEILING.toFixed(3)}×)`],
    ['steady ÷ pacing bound (goal ≥ 0.95×)', `${steadyRatio.toFixed(3)}×`, `${verdict(steadyRatio >= 0.95)}${shortRun ? ' (short run: see the note)' : ''}`],
    [
      `worker CPU per send (${WORKERS} processes)`,
      `${(workerCpuMs / sends).toFixed(3)} ms`,
      `${(workerCpuMs / 1000).toFixed(1)} s of CPU over ${((endedAt - started) / 1000).toFixed(1)} s (${((workerCpuMs / (endedAt - started)) * 100).toFixed(1)} % of a core)${RECEIPTS ? ', receipts included' : ''}`,
    ],
    [`API server CPU per send (${APIS} processes)`, `${(apiCpuMs / sends).toFixed(3)} ms`, `${(apiCpuMs / 1000).toFixed(1)} s of CPU: start, ${RECEIPTS ? 'webhooks, ' : ''}${fmt(SUBSCRIBERS)} subscribers`],
    [
      'Redis commands per send (private redis-server)',
      (totalCmds / sends).toFixed(1),
      `${fmt(totalCmds)} commands; per send: ${topCommands.map((c) => `${c.cmd} ${(c.calls / sends).toFixed(2)}`).join(', ')}`,
    ],
  );
  memory.forEach((m, k) => {
    rows.push([
      `worker ${k + 1} RSS: first / middle / last`,
      `${(m.perMinute / 2 ** 20).toFixed(2)} MB/min`,
      `${mb(m.first)} / ${mb(m.middle)} / ${mb(m.last)} (${m.samples} samples every ${SAMPLE_MS / 1000} s); slope over the steady state: ${m.flat === null ? `no verdict (steady state under ${MIN_MEMORY_MINUTES} min)` : m.flat ? 'flat, goal met' : 'GROWING, GOAL MISSED'}`,
    ]);
  });
  const cores = availableParallelism();
  rows.push(
    [
      'context: the machine over the run',
      machineBefore !== null && machineAfter !== null ? `${(((machineAfter - machineBefore) / (endedAt - started)) * 100).toFixed(0)} % busy` : 'n/a',
      `of ${cores} cores, every process on the machine (other sessions included); load average at the end ${load.map((l) => l.toFixed(1)).join(' ')}` +
        (sendPath ? `; per send: Evolution call ${sendPath.http_ms.toFixed(1)} ms, claim→recorded mean ${sendPath.claim_to_sent_ms.toFixed(0)} ms, p99 ${sendPath.p99_claim_to_sent_ms.toFixed(0)} ms` : ''),
    ],
    [
      `publish→subscriber (event's \`at\` → graphql-ws frame)`,
      `p99 ${ms(subLatency.p99)}`,
      `p50 ${ms(subLatency.p50)}, max ${ms(subLatency.max)}; ${fmt(subLatency.n)} deliveries after the start, coalesced every ${config.progressIntervalMs} ms`,
    ],
    ['  of which `at` → a plain Redis subscriber', `p99 ${ms(redisLatency.p99)}`, `p50 ${ms(redisLatency.p50)}, max ${ms(redisLatency.max)}; ${fmt(redisLatency.n)} events published`],
    [
      'checks',
      problems.length ? `${problems.length} FAILED` : 'all passed',
      `${CAMPAIGNS === 1 ? '' : 'all '}COMPLETED; ${fmt(sends)} sends for ${fmt(RECIPIENTS)} recipients, each once; counters = recount; most sends of one instance in any 60 s: ${worstMinute} (limit ${PER_MINUTE}); ` +
        `closest answer→next request: ${minGap} ms (min delay ${MIN_DELAY_MS})${RECEIPTS && receiptsAt ? `; every receipt applied ${((receiptsAt - completedAt.getTime()) / 1000).toFixed(1)} s after COMPLETED` : ''}`,
    ],
  );
  table(rows);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'scale',
      recipients: RECIPIENTS,
      campaigns: CAMPAIGNS,
      instances: INSTANCES,
      perMinute: PER_MINUTE,
      minDelayMs: MIN_DELAY_MS,
      maxDelayMs: MAX_DELAY_MS,
      workers: WORKERS,
      apis: APIS,
      subscribers: SUBSCRIBERS,
      receipts: RECEIPTS,
      steadyState: !shortRun,
      sends,
      steadyPerSec: Number(steadyPerSec.toFixed(2)),
      pacingBoundPerSec: Number(PACING_BOUND.toFixed(2)),
      steadyRatio: Number(steadyRatio.toFixed(4)),
      startToCompletedMs: completedAt.getTime() - started,
      machineBusyPct: machineBefore !== null && machineAfter !== null ? Number((((machineAfter - machineBefore) / (endedAt - started)) * 100).toFixed(1)) : null,
      cores,
      loadAverage: load.map((l) => Number(l.toFixed(2))),
      workerCpuMsPerSend: Number((workerCpuMs / sends).toFixed(4)),
      apiCpuMsPerSend: Number((apiCpuMs / sends).toFixed(4)),
      redisCommandsPerSend: Number((totalCmds / sends).toFixed(2)),
      redisTopCommandsPerSend: Object.fromEntries(topCommands.map((c) => [c.cmd, Number((c.calls / sends).toFixed(3))])),
      workerRssMb: memory.map((m) => ({
        first: Number((m.first / 2 ** 20).toFixed(1)),
        middle: Number((m.middle / 2 ** 20).toFixed(1)),
        last: Number((m.last / 2 ** 20).toFixed(1)),
        slopeMbPerMin: Number((m.perMinute / 2 ** 20).toFixed(3)),
        flat: m.flat,
      })),
      subscriberLatencyMs: subLatency,
      redisSubscriberLatencyMs: redisLatency,
      worstSendsInAMinute: worstMinute,
      closestGapMs: minGap,
      problems,
    })}\n`,
  );
  if (problems.length) {
    for (const p of problems) console.error(`check failed: ${p}`);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode ?? 0);
