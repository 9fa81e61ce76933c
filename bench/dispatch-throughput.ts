// `npm run bench:dispatch`: the dispatch engine's throughput, end to end, in two runs (issue 4).
//
// (a) A campaign of BENCH_SENDS recipients started through GraphQL and sent by the product's worker
//     process to the Evolution simulator (its own process) answering at once, measured in sends/s from
//     the startCampaign request to COMPLETED; against a no-op BullMQ worker (its own process, same
//     concurrency) draining as many jobs, measured from the first add to the last completion, in the
//     same run. Goal: ≥ 0.25×. It runs in BENCH_ROUNDS (3) rounds, each the baseline then the
//     campaign, back to back; the round with the median ratio stands for the run, and every round is
//     printed: on these machines the speed of the whole machine drifts by tens of per cent from one
//     half-minute to the next (the no-op baseline alone ranged 8,100–12,500 jobs/s in one hour, and the
//     machine CPU per send 0.60–0.92 core-ms), so each ratio is taken from two measures made back to
//     back, and one slow half-minute does not decide the run. Both sides first run BENCH_WARMUP (5,000) sends or jobs on the same
//     processes, unmeasured (for (a): a campaign of another tenant through the same API server, worker
//     and simulator; the simulator's record of sends is then cleared): a worker runs for days, and in a
//     cold pair of processes the first ~1.3 s of sends ran at half speed (calls of 9–21 ms instead of
//     4–5, the worker a full core busy compiling), which is not what the ratio is about.
// (b) The same with the simulator answering every send in BENCH_LATENCY_MS (200 ms), against the
//     ceiling DISPATCH_CONCURRENCY ÷ latency. Goal: ≥ 0.9×.
//
// References for (a), each in its own process: BullMQ jobs that make one Evolution call each and nothing
// else; and the database work of a send alone (the product's claim and record statements, no call, no
// BullMQ; bench/lib/db-only-sender.ts). Each run's busy CPU is read off /proc/stat (every process on the
// machine), and the two references give a CPU floor per send: the call without its job, plus the
// database work; cores ÷ floor is what any send path built on those two could reach with every core busy.
//
// Processes: API server, worker (every queue), simulator, each its own. Receipts are off by default
// (the simulator has no webhook configured: the dispatch path alone is measured); BENCH_RECEIPTS=1
// turns them on (status webhooks to the API server, applied by the same worker). Instances are
// registered through GraphQL, then their limits raised to BENCH_LIMITS (far above any run), with no
// random delay between messages, so pacing is never what limits a run. Every run is checked: each
// recipient sent once, the simulator's record of sends equal to the recipients.
//
// Knobs: BENCH_SENDS (20000), BENCH_ROUNDS (3), BENCH_WARMUP (5000; 0 for none), BENCH_LATENCY_SENDS (30 s worth at the ceiling), BENCH_LATENCY_MS (200),
// BENCH_CONCURRENCY (the product's DISPATCH_CONCURRENCY default, 50; also the loops of the database
// reference), BENCH_DB_BATCH (what a send job claims at once when half the permits come free: 25 at the default concurrency; the recipients the database reference claims and records at a time), BENCH_LOOKAHEAD (unset: the
// product's DISPATCH_LOOKAHEAD default for that concurrency), BENCH_DB_POOL (10, the product's DATABASE_POOL_SIZE default, per
// process), BENCH_INSTANCES (2), BENCH_RECEIPTS (0), BENCH_ONLY (a|b),
// BENCH_CPU_PROF (a directory: CPU profiles of the product's worker and API server go there),
// BENCH_LOG_DIR (a directory for the processes' logs, at BENCH_LOG_LEVEL, default info; none otherwise),
// BENCH_TIMELINE (1: print each campaign's sends recorded per second), BENCH_KEEP_DB (1: keep the scratch database
// for inspection; its name is in pg_database, wc_bench_…).
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DEFAULT_DISPATCH_CONCURRENCY, defaultLookahead, slotsPerJob } from '../src/infra/config/dispatch.js';
import { gatherTarget } from '../src/features/dispatch/permits.js';
import { type LineChild, startLineChild } from './lib/child-lines.js';
import { BENCH_LIMITS, connectOnSimulator, createCampaign, registerSenders, seedContacts, startCampaign, uuidOf } from './lib/campaign-setup.js';
import { fmt, machineBusyMs, REDIS_URL, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';

const SENDS = Number(process.env.BENCH_SENDS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? DEFAULT_DISPATCH_CONCURRENCY);
const LOOKAHEAD = process.env.BENCH_LOOKAHEAD ? Number(process.env.BENCH_LOOKAHEAD) : defaultLookahead(CONCURRENCY);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 200);
const CEILING = CONCURRENCY / (LATENCY_MS / 1000);
const LATENCY_SENDS = Number(process.env.BENCH_LATENCY_SENDS ?? Math.round(CEILING * 30));
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 2);
const DB_POOL = Number(process.env.BENCH_DB_POOL ?? 10);
const RECEIPTS = ['1', 'true', 'on'].includes(process.env.BENCH_RECEIPTS ?? '0');
const ONLY = process.env.BENCH_ONLY ?? '';
const DB_BATCH = Number(process.env.BENCH_DB_BATCH ?? Math.min(slotsPerJob(CONCURRENCY), gatherTarget(CONCURRENCY)));
const TIMELINE = ['1', 'true', 'on'].includes(process.env.BENCH_TIMELINE ?? '0');
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null;
const LOG_DIR = process.env.BENCH_LOG_DIR ? resolve(process.env.BENCH_LOG_DIR) : null;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
/** How many sends (jobs, for the baseline and the send-only reference) run unmeasured before (a)'s measures (see the header). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
/** Rounds of (a): each measures the baseline, then the campaign (see the header). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const SIM_KEY = 'bench-sim-global-key';
/** A run that sends nothing for this long is stuck: it fails with what the campaign shows. */
const STALL_MS = 60_000;

const db = await productDatabase();
const env = productEnv(db.url, { DISPATCH_CONCURRENCY: String(CONCURRENCY), DISPATCH_LOOKAHEAD: String(LOOKAHEAD), DATABASE_POOL_SIZE: String(DB_POOL) });
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');

const children: LineChild<unknown>[] = [];
const stop = async (c: LineChild<unknown>) => {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill('SIGTERM');
  const killer = setTimeout(() => c.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(killer);
};
async function spawn<T>(file: string, extra: Record<string, string>, isReport: (line: Record<string, unknown>) => boolean, product = false): Promise<LineChild<T>> {
  const name = basename(file, '.ts');
  const c = await startLineChild<T>(file, { ...env, ...(product && LOG_DIR ? { LOG_LEVEL: LOG_LEVEL } : {}), ...extra }, {
    nodeOptions: product && PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    isReport,
    logFile: LOG_DIR ? join(LOG_DIR, `${name}.log`) : undefined,
  });
  children.push(c as LineChild<unknown>);
  return c;
}

const client = new pg.Client({ connectionString: db.url });
client.on('error', () => undefined); // ended by DROP DATABASE … WITH (FORCE) after a failure
await client.connect();

let cleaning: Promise<void> | null = null;
/** Stops every process, drops the database and the Redis prefix; once, on success, failure or Ctrl-C. */
function cleanup() {
  cleaning ??= (async () => {
    for (const c of children) await stop(c).catch(() => undefined);
    await client.end().catch(() => undefined);
    await prisma.$disconnect();
    if (!process.env.BENCH_KEEP_DB) await db.drop();
    await dropRedisPrefix(env.REDIS_PREFIX as string);
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const CORES = availableParallelism();
const busyBetween = (before: number | null, after: number | null) => (before !== null && after !== null ? after - before : null);
/** The machine's busy CPU per job or send, in core-ms. */
const cpuPer = (r: Rate) => (r.busyMs === null ? null : r.busyMs / r.count);
const cpuText = (r: Rate) => {
  const per = cpuPer(r);
  return per === null ? '' : `; machine CPU ${per.toFixed(3)} core-ms each`;
};

interface Rate {
  count: number;
  /** From the start (first add, or the startCampaign request) to the end (last completion, or COMPLETED). */
  totalMs: number;
  perSec: number;
  /** Between the 10th and the 90th percentile completion: the steady state, without ramp-up and tail. */
  steadyPerSec: number;
  /** The machine's busy CPU time over the run (every process), in core-ms; null off Linux. */
  busyMs: number | null;
}

/**
 * No-op BullMQ jobs/s: a worker process with the same concurrency drains `count` jobs added in bulk.
 * With `send`, each job makes one Evolution call to that simulator instead (a reference, not the baseline).
 */
let noopRuns = 0;
async function noopBaseline(count: number, send?: { url: string; instance: string }): Promise<Rate> {
  const queueName = `${send ? 'bench-send-only' : 'bench-noop'}-${++noopRuns}`;
  const prefix = `${env.REDIS_PREFIX}:bull`;
  const worker = await spawn<{ ready: boolean }>(
    'bench/lib/noop-worker.ts',
    {
      NOOP_QUEUE: queueName,
      NOOP_PREFIX: prefix,
      NOOP_JOBS: String(count),
      NOOP_WARMUP: String(WARMUP),
      NOOP_CONCURRENCY: String(CONCURRENCY),
      ...(send ? { NOOP_SEND_URL: send.url, NOOP_SEND_KEY: SIM_KEY, NOOP_SEND_INSTANCE: send.instance } : {}),
    },
    (l) => 'ready' in l || 'warmedUp' in l || 'completed' in l,
  );
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // Same options as the product's send jobs (src/infra/queues/index.ts), and a payload of the same shape.
  const queue = new Queue(queueName, { connection, prefix, defaultJobOptions: { attempts: 1, removeOnComplete: true } });
  try {
    const ids = { tenantId: randomBytes(16).toString('hex'), campaignId: randomBytes(16).toString('hex'), instanceId: randomBytes(16).toString('hex') };
    const addJobs = async (from: number, n: number, at: number) => {
      for (let i = from; i < from + n; i += 500) {
        await queue.addBulk(
          Array.from({ length: Math.min(500, from + n - i) }, (_, k) => ({
            name: 'dispatch:send',
            data: { ...ids, slot: `bench:${at}:${i + k}`, slotAt: at, day: '2026-01-01' },
            opts: { jobId: `noop-${i + k}` },
          })),
        );
      }
    };
    if (WARMUP > 0) {
      const warmedUp = worker.next<{ warmedUp: number }>();
      await addJobs(0, WARMUP, Date.now());
      await warmedUp;
    }
    const done = worker.next<{ completed: number; lastAt: number; p10At: number; p90At: number }>();
    const busyBefore = machineBusyMs();
    const started = Date.now();
    await addJobs(WARMUP, count, started);
    const r = await done;
    const busyMs = busyBetween(busyBefore, machineBusyMs());
    const totalMs = r.lastAt - started;
    return { count, totalMs, perSec: count / (totalMs / 1000), steadyPerSec: (0.8 * count) / ((r.p90At - r.p10At) / 1000), busyMs };
  } finally {
    await queue.close();
    await connection.quit();
    await stop(worker as LineChild<unknown>);
  }
}

interface CampaignRun extends Rate {
  /** From the startCampaign request to the first message recorded as sent. */
  firstSentMs: number;
  /** From the startCampaign request to the last message recorded as sent. */
  lastSentMs: number;
  /** With receipts on: from the start to the last delivery receipt applied. */
  receiptsMs: number | null;
  simulatorSends: number;
  /** Mean duration of the call to Evolution, as the product measured it (send_duration_ms). */
  httpMs: number;
  /** Mean time from the claim (sending_at) to the start of the transaction recording the send (sent_at). */
  claimToSentMs: number;
}

/** A simulator that answers every send in `latencyMs`, with no failure of any kind; `seed` decides the rest. */
function startSim(latencyMs: number, seed: number) {
  return spawn<{ url: string }>('tools/evolution-simulator/main.ts', {
    SIM_HOST: '127.0.0.1',
    SIM_PORT: '0',
    SIM_API_KEY: SIM_KEY,
    SIM_SEED: String(seed),
    SIM_LATENCY_MS: String(latencyMs),
    SIM_FAILURE_RATE: '0',
    SIM_SERVER_ERROR_RATE: '0',
    SIM_HANG_RATE: '0',
    SIM_DUPLICATE_RATE: '0',
    SIM_REORDER_RATE: '0',
    SIM_LID_RATE: '0',
    SIM_NOT_ON_WHATSAPP: '',
  }, (l) => typeof l.url === 'string');
}

/**
 * Reference for (a): BullMQ jobs that each make one Evolution call to a simulator answering at once,
 * with no database and no Redis other than BullMQ's: the floor of any send path on this machine.
 */
async function sendOnlyRun(count: number): Promise<Rate> {
  const sim = await startSim(0, 3);
  try {
    const instance = 'send-only';
    await connectOnSimulator(sim.info.url, SIM_KEY, { id: '', name: instance, webhookUrl: '' }, false, '551130009999');
    const r = await noopBaseline(count, { url: sim.info.url, instance });
    const state = (await fetch(`${sim.info.url}/__simulator/state`, { headers: { apikey: SIM_KEY } }).then((res) => res.json())) as { sends: number };
    if (state.sends !== WARMUP + count) throw new Error(`the send-only reference made ${state.sends} sends, not ${WARMUP} + ${count}`);
    return r;
  } finally {
    await stop(sim as LineChild<unknown>);
  }
}

/**
 * A tenant with INSTANCES senders on the simulator and `recipients` contacts (phones from `offset`),
 * and a DRAFT campaign to all of them.
 */
async function prepareCampaign(apiUrl: string, simUrl: string, label: string, recipients: number, offset: number, senderNumbers: string) {
  const { tenant, key } = await createTenant({ name: `dispatch bench ${label}` });
  const senders = await registerSenders(apiUrl, key, client, { baseUrl: simUrl, apiKey: SIM_KEY, count: INSTANCES, prefix: `${label}-sender` });
  for (const [i, s] of senders.entries()) await connectOnSimulator(simUrl, SIM_KEY, s, RECEIPTS, `${senderNumbers}${String(i).padStart(2, '0')}`);
  await seedContacts(client, tenant.id, recipients, offset);
  const campaign = await createCampaign(apiUrl, key, `dispatch ${label}`, senders.map((s) => s.id));
  if (RECEIPTS) await new Promise((r) => setTimeout(r, 500)); // let the connection.update webhooks land first
  return { key, campaign };
}

/** Polls the campaign until it is COMPLETED (when it is); throws if it stops running or stalls. */
async function waitCompleted(uuid: string, label: string): Promise<Date> {
  let lastSent = -1;
  let lastProgressAt = Date.now();
  for (;;) {
    const { rows } = await client.query<{ status: string; completed_at: Date | null; sent_count: number; remaining_count: number; failed_count: number; unknown_count: number; pause_reason: string | null }>(
      'SELECT status, completed_at, sent_count, remaining_count, failed_count, unknown_count, pause_reason FROM campaign WHERE id = $1',
      [uuid],
    );
    const c = rows[0];
    if (!c) throw new Error('the campaign vanished');
    if (c.status === 'COMPLETED' && c.completed_at) return c.completed_at;
    if (c.status !== 'RUNNING') throw new Error(`campaign ${label} is ${c.status}: ${c.pause_reason ?? ''} (${JSON.stringify(c)})`);
    if (c.sent_count !== lastSent) {
      lastSent = c.sent_count;
      lastProgressAt = Date.now();
    } else if (Date.now() - lastProgressAt > STALL_MS) {
      throw new Error(`campaign ${label} sent nothing for ${STALL_MS / 1000} s: ${JSON.stringify(c)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One campaign sent end to end, the simulator answering every send in `latencyMs`; first, with
 * `warmup`, a campaign of that many recipients (another tenant) through the same processes, unmeasured.
 */
async function campaignRun(apiUrl: string, label: string, recipients: number, latencyMs: number, seed: number, warmup = 0): Promise<CampaignRun> {
  const sim = await startSim(latencyMs, seed);
  try {
    const simUrl = sim.info.url;
    if (warmup > 0) {
      const w = await prepareCampaign(apiUrl, simUrl, `${label}-warm-up`, warmup, 10_000_000, '5511300001');
      await startCampaign(apiUrl, w.key, w.campaign.id, warmup);
      await waitCompleted(w.campaign.uuid, `${label} warm-up`);
      const cleared = await fetch(`${simUrl}/__simulator/sends`, { method: 'DELETE', headers: { apikey: SIM_KEY } });
      if (cleared.status !== 200) throw new Error(`the simulator did not clear its record of sends: ${cleared.status}`);
    }
    const { key, campaign } = await prepareCampaign(apiUrl, simUrl, label, recipients, 0, '5511300000');

    const busyBefore = machineBusyMs();
    const started = Date.now();
    await startCampaign(apiUrl, key, campaign.id, recipients);
    const completedAt = await waitCompleted(campaign.uuid, label);
    const busyMs = busyBetween(busyBefore, machineBusyMs());

    let receiptsMs: number | null = null;
    if (RECEIPTS) {
      const until = Date.now() + 120_000;
      for (;;) {
        const { rows } = await client.query<{ delivered: number; last: Date | null }>(
          'SELECT count(delivered_at)::int AS delivered, max(updated_at) AS last FROM recipient WHERE campaign_id = $1',
          [campaign.uuid],
        );
        if (rows[0] && rows[0].delivered === recipients && rows[0].last) {
          receiptsMs = rows[0].last.getTime() - started;
          break;
        }
        if (Date.now() > until) throw new Error(`receipts not all applied: ${JSON.stringify(rows[0])}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    const { rows: stats } = await client.query<{ sent: number; not_sent: number; first: Date; last: Date; p10: Date; p90: Date; http_ms: number; claim_to_sent_ms: number }>(
      `SELECT count(sent_at)::int AS sent, count(*) FILTER (WHERE sent_at IS NULL)::int AS not_sent, min(sent_at) AS first, max(sent_at) AS last,
              percentile_disc(0.1) WITHIN GROUP (ORDER BY sent_at) AS p10, percentile_disc(0.9) WITHIN GROUP (ORDER BY sent_at) AS p90,
              avg(send_duration_ms)::float8 AS http_ms, (avg(extract(epoch FROM sent_at - sending_at)) * 1000)::float8 AS claim_to_sent_ms
       FROM recipient WHERE campaign_id = $1`,
      [campaign.uuid],
    );
    const s = stats[0];
    if (TIMELINE) {
      const { rows: perSecond } = await client.query<{ second: number; sends: number }>(
        `SELECT floor(extract(epoch FROM sent_at - $2::timestamptz))::int AS second, count(*)::int AS sends
         FROM recipient WHERE campaign_id = $1 AND sent_at IS NOT NULL GROUP BY 1 ORDER BY 1`,
        [campaign.uuid, new Date(started)],
      );
      process.stdout.write(`(${label}) sends recorded per second since start: ${perSecond.map((r) => `${r.second}s ${r.sends}`).join(', ')}\n`);
    }
    const state = (await fetch(`${simUrl}/__simulator/state`, { headers: { apikey: SIM_KEY } }).then((r) => r.json())) as { sends: number };
    if (!s || s.sent !== recipients || s.not_sent !== 0 || state.sends !== recipients) {
      throw new Error(`campaign ${label} did not send every recipient exactly once: ${JSON.stringify({ ...s, simulatorSends: state.sends, recipients })}`);
    }
    const totalMs = completedAt.getTime() - started;
    return {
      count: recipients,
      totalMs,
      perSec: recipients / (totalMs / 1000),
      steadyPerSec: (0.8 * recipients) / ((s.p90.getTime() - s.p10.getTime()) / 1000),
      busyMs,
      firstSentMs: s.first.getTime() - started,
      lastSentMs: s.last.getTime() - started,
      receiptsMs,
      simulatorSends: state.sends,
      httpMs: s.http_ms,
      claimToSentMs: s.claim_to_sent_ms,
    };
  } finally {
    await stop(sim as LineChild<unknown>);
  }
}

/**
 * Reference for (a): the database work of a send alone (the product's claim and record statements,
 * no Evolution call, no BullMQ), on a campaign of `recipients` started through GraphQL while no
 * product worker runs. Batches of DB_BATCH: what a send job claims and records together when half the
 * permits come free at once (src/features/dispatch/permits.ts).
 */
async function dbOnlyRun(apiUrl: string, recipients: number): Promise<Rate & { nodeMs: number }> {
  const sim = await startSim(0, 4);
  try {
    const { tenant, key } = await createTenant({ name: 'dispatch bench db-only' });
    const senders = await registerSenders(apiUrl, key, client, { baseUrl: sim.info.url, apiKey: SIM_KEY, count: INSTANCES, prefix: 'db-only-sender' });
    await seedContacts(client, tenant.id, recipients, 5_000_000);
    const campaign = await createCampaign(apiUrl, key, 'dispatch db-only', senders.map((s) => s.id));
    await startCampaign(apiUrl, key, campaign.id, recipients);
    const child = await spawn<{ ready: boolean }>(
      'bench/lib/db-only-sender.ts',
      {
        DBONLY_TENANT: tenant.id,
        DBONLY_CAMPAIGN: campaign.uuid,
        DBONLY_INSTANCES: senders.map((s) => uuidOf(s.id)).join(','),
        DBONLY_LOOPS: String(CONCURRENCY),
        DBONLY_BATCH: String(DB_BATCH),
      },
      (l) => 'ready' in l || 'done' in l,
    );
    try {
      const r = await child.next<{ done: number; startedAt: number; endedAt: number; busyMs: number | null; selfMs: number }>(300_000);
      const { rows } = await client.query<{ sent: number }>(`SELECT count(*)::int AS sent FROM recipient WHERE campaign_id = $1 AND status = 'SENT'`, [campaign.uuid]);
      if (r.done !== recipients || rows[0]?.sent !== recipients) throw new Error(`the db-only reference recorded ${r.done} sends (${rows[0]?.sent} SENT), not ${recipients}`);
      const totalMs = r.endedAt - r.startedAt;
      return { count: recipients, totalMs, perSec: recipients / (totalMs / 1000), steadyPerSec: recipients / (totalMs / 1000), busyMs: r.busyMs, nodeMs: r.selfMs };
    } finally {
      await stop(child as LineChild<unknown>);
    }
  } finally {
    await stop(sim as LineChild<unknown>);
  }
}

try {
  if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const runA = ONLY === '' || ONLY === 'a';
  const runB = ONLY === '' || ONLY === 'b';

  const api = await spawn<{ port: number }>('bench/lib/api-server.ts', {}, (l) => 'port' in l, true);
  const apiUrl = `http://127.0.0.1:${api.info.port}`;
  const worker = await spawn<{ ready: boolean }>('bench/lib/product-worker.ts', {}, (l) => l.ready === true, true);
  // (a) in ROUNDS rounds, each the baseline then the campaign, back to back (see the header).
  const rounds: Array<{ base: Rate; a: CampaignRun; ratio: number }> = [];
  for (let r = 1; runA && r <= ROUNDS; r++) {
    const base = await noopBaseline(SENDS);
    const a = await campaignRun(apiUrl, `a${r}`, SENDS, 0, r, WARMUP);
    rounds.push({ base, a, ratio: a.perSec / base.perSec });
  }
  const b = runB ? await campaignRun(apiUrl, 'b', LATENCY_SENDS, LATENCY_MS, 100) : null;
  await stop(worker as LineChild<unknown>);
  const sendOnly = runA ? await sendOnlyRun(SENDS) : null;
  // With the product's worker stopped: nothing else takes this campaign's recipients.
  const dbOnly = runA ? await dbOnlyRun(apiUrl, SENDS) : null;
  await stop(api as LineChild<unknown>);

  const setup = `concurrency ${CONCURRENCY}, lookahead ${LOOKAHEAD}, database pool ${DB_POOL}, ${INSTANCES} instances at ${fmt(BENCH_LIMITS.perMinute)}/min, no random delay, receipts ${RECEIPTS ? 'on' : 'off'}`;
  const campaignDetail = (r: CampaignRun) =>
    `${fmt(r.count)} sends, start→COMPLETED ${sec(r.totalMs)}; sends from ${sec(r.firstSentMs)} to ${sec(r.lastSentMs)}; steady ${fmt(r.steadyPerSec)}/s` +
    (r.receiptsMs !== null ? `; receipts applied by ${sec(r.receiptsMs)}` : '') +
    `; per send: Evolution call ${r.httpMs.toFixed(1)} ms, claim→recorded ${r.claimToSentMs.toFixed(1)} ms`;
  const rows: Array<[string, string, string]> = [['measure', 'per s', 'detail']];
  // The round with the median ratio stands for the run; every round is printed.
  const median = [...rounds].sort((x, y) => x.ratio - y.ratio)[Math.floor((rounds.length - 1) / 2)];
  if (median) {
    const { base, a, ratio } = median;
    rounds.forEach((r, i) => {
      rows.push(
        [`round ${i + 1}: no-op BullMQ jobs, concurrency ${CONCURRENCY} (baseline)`, fmt(r.base.perSec), `${fmt(r.base.count)} jobs in ${sec(r.base.totalMs)}; steady ${fmt(r.base.steadyPerSec)}/s${cpuText(r.base)}`],
        [`round ${i + 1}: (a) campaign end to end, simulator answering at once`, fmt(r.a.perSec), campaignDetail(r.a) + cpuText(r.a)],
        [`round ${i + 1}: (a) ratio`, `${r.ratio.toFixed(3)}×`, `steady state: ${(r.a.steadyPerSec / r.base.steadyPerSec).toFixed(3)}×${r === median ? ' (the median round)' : ''}`],
      );
    });
    rows.push([
      `(a) ratio, median of ${rounds.length} round${rounds.length === 1 ? '' : 's'} (goal ≥ 0.25×)`,
      `${ratio.toFixed(3)}×`,
      `${ratio >= 0.25 ? 'goal met' : 'GOAL MISSED'}; rounds ${rounds.map((r) => `${r.ratio.toFixed(3)}×`).join(', ')}`,
    ]);
    if (sendOnly) {
      rows.push([
        'reference: jobs making one Evolution call each, no DB',
        fmt(sendOnly.perSec),
        `${(sendOnly.perSec / base.perSec).toFixed(3)}× the no-op jobs (steady ${fmt(sendOnly.steadyPerSec)}/s): the floor of any send path here; (a) is ${(a.perSec / sendOnly.perSec).toFixed(2)}× of it${cpuText(sendOnly)}`,
      ]);
    }
    if (dbOnly) {
      rows.push([
        `reference: the database work of a send alone, ${CONCURRENCY} loops claiming ${DB_BATCH} at a time`,
        fmt(dbOnly.perSec),
        `${(dbOnly.perSec / base.perSec).toFixed(3)}× the no-op jobs: the product's claim and record statements, no Evolution call, no BullMQ${cpuText(dbOnly)} (its Node process ${(dbOnly.nodeMs / dbOnly.count).toFixed(3)})`,
      ]);
    }
    const [cBase, cSend, cDb, cA] = [cpuPer(base), sendOnly ? cpuPer(sendOnly) : null, dbOnly ? cpuPer(dbOnly) : null, cpuPer(a)];
    if (cBase !== null && cSend !== null && cDb !== null && cA !== null) {
      // The Evolution call without its BullMQ job (the product runs several sends per job), plus the
      // database work: what every send costs the machine at the least, whatever runs around them.
      const floor = cSend - cBase + cDb;
      const ceiling = (CORES * 1000) / floor;
      rows.push([
        `CPU floor per send: call ${(cSend - cBase).toFixed(3)} + database ${cDb.toFixed(3)} core-ms`,
        fmt(ceiling),
        `${CORES} cores ÷ ${floor.toFixed(3)} core-ms = at most ${(ceiling / base.perSec).toFixed(3)}× the no-op jobs with every core busy; (a) used ${cA.toFixed(3)} core-ms per send`,
      ]);
    }
  }
  if (b) {
    const ratio = b.perSec / CEILING;
    rows.push(
      [`concurrency ÷ latency = ${CONCURRENCY} ÷ ${LATENCY_MS / 1000} s (ceiling)`, fmt(CEILING), 'every worker slot busy with a send all the time'],
      [`(b) campaign end to end, simulator answering in ${LATENCY_MS} ms`, fmt(b.perSec), campaignDetail(b)],
      ['(b) ratio (goal ≥ 0.9×)', `${ratio.toFixed(3)}×`, `${ratio >= 0.9 ? 'goal met' : 'GOAL MISSED'} (steady state: ${(b.steadyPerSec / CEILING).toFixed(3)}×)`],
    );
  }
  process.stdout.write(`${setup}\n`);
  table(rows);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode ?? 0);
