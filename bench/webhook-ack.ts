// `npm run bench:webhooks`: Evolution delivery webhooks (issue 5), in two parts.
//
// (a) Acknowledgement: an open-loop load at a fixed BENCH_RATE (1,000 req/s) of realistic
//     `messages.update` envelopes (evolution-api.md §5: DELIVERY_ACK for each recipient of a finished
//     campaign, then READ for each) POSTed to the product's API server process (authenticate by the
//     URL secret, parse, validate, write to the webhook inbox in PostgreSQL with group commit, answer once
//     committed: decision 59), against the same load and the same
//     bodies POSTed to a bare node:http handler answering 200 (bench/lib/bare-http-server.ts), each in
//     its own process, in this run. Latency runs from handing a request to the connection pool to the
//     end of its answer. Goal: p50 and p99 each ≤ 3× the bare handler's, and the product's p99 under
//     200 ms.
// (b) Applying: the product's worker process (every queue, as `npm run worker` runs them) is started
//     once the API server is stopped, with the load's events waiting in the inbox, and drains them;
//     reported as the sustained rate (receipts applied per second between 10 % and 90 % of the events
//     done, sampled from the inbox) and the whole drain. No goal is set for it; it shows whether the
//     worker keeps up with the arrival rate. Checked against the database: campaign counters equal to
//     what the load sent and to a recount of the recipients, one log entry per applied receipt, no
//     failed event.
//
// Knobs: BENCH_RATE (1000 req/s), BENCH_SECONDS (10, measured), BENCH_WARMUP_SECONDS (2, both sides),
// BENCH_INSTANCES (2 senders), BENCH_SOCKETS (128, most connections open at once, as a webhook sender's
// pool), BENCH_CPU_PROF (a directory: CPU profiles of the API server and the worker go there).
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { type LineChild, startLineChild } from './lib/child-lines.js';
import { fmt, startChild, stopChild, table } from './lib/measure.js';
import { openLoopPost, type OpenLoopResult } from './lib/open-loop.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';
import { messagesUpdate, seedFinishedCampaign, webhookPath } from './lib/receipt-campaign.js';
import { stopLineChild } from './lib/stop-child.js';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 2);
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 128);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null;
/** A drain that completes nothing for this long is stuck. */
const STALL_MS = 60_000;

const TOTAL = Math.round(RATE * WARMUP) + Math.round(RATE * SECONDS);
// Request k is DELIVERY_ACK of recipient k for the first half, READ of recipient k − R after: every
// request is a distinct receipt that changes something, as in a real campaign's stream.
const RECIPIENTS = Math.ceil(TOTAL / 2);

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');
const { closeQueues } = await import('../src/infra/queues/index.js');

const client = new pg.Client({ connectionString: db.url });
client.on('error', () => undefined); // ended by DROP DATABASE … WITH (FORCE) after a failure
await client.connect();

const children: LineChild<unknown>[] = [];
async function product<T>(file: string): Promise<LineChild<T>> {
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const c = await startLineChild<T>(file, env, { nodeOptions: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [] });
  children.push(c as LineChild<unknown>);
  return c;
}

const ms = (n: number) => `${n.toFixed(2)} ms`;
const describe = (r: OpenLoopResult) =>
  `${fmt(r.achievedRate)} req/s answered, ${r.ok} ok, ${r.non2xx} non-2xx${Object.keys(r.statuses).length ? ` ${JSON.stringify(r.statuses)}` : ''}, ${r.errors} errors, generator late p99 ${ms(r.lateP99)}`;

try {
  const { tenant } = await createTenant({ name: 'webhook bench' });
  const seeded = await seedFinishedCampaign(client, tenant.id, { recipients: RECIPIENTS, instances: INSTANCES });
  const next = (k: number) => {
    const r = seeded.recipients[k % RECIPIENTS] as (typeof seeded.recipients)[number];
    return { path: webhookPath(r.instance), body: messagesUpdate(r, k < RECIPIENTS ? 'DELIVERY_ACK' : 'READ') };
  };

  // (a) the bare handler, then the product's route: same bodies, same rate, same pool.
  let bare: OpenLoopResult;
  {
    const { child, info } = await startChild<{ port: number }>('bench/lib/bare-http-server.ts');
    try {
      const origin = `http://127.0.0.1:${info.port}`;
      const sequence = { i: 0 };
      await openLoopPost({ origin, rate: RATE, seconds: WARMUP, next, sequence, maxSockets: SOCKETS });
      bare = await openLoopPost({ origin, rate: RATE, seconds: SECONDS, next, sequence, maxSockets: SOCKETS });
    } finally {
      await stopChild(child);
    }
  }

  let route: OpenLoopResult;
  let accepted: number;
  {
    const api = await product<{ port: number }>('bench/lib/api-server.ts');
    try {
      const origin = `http://127.0.0.1:${api.info.port}`;
      // A PENDING receipt is authenticated and validated, then acknowledged without a job: proves the route.
      const first = seeded.recipients[0] as (typeof seeded.recipients)[number];
      const probe = await fetch(`${origin}${webhookPath(first.instance)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: messagesUpdate(first, 'PENDING') });
      const probeBody = (await probe.json()) as { ok?: boolean; ignored?: string };
      if (probe.status !== 200 || !probeBody.ignored) throw new Error(`the webhook route did not accept the probe: ${probe.status} ${JSON.stringify(probeBody)}`);
      const sequence = { i: 0 };
      const warm = await openLoopPost({ origin, rate: RATE, seconds: WARMUP, next, sequence, maxSockets: SOCKETS });
      route = await openLoopPost({ origin, rate: RATE, seconds: SECONDS, next, sequence, maxSockets: SOCKETS });
      accepted = warm.ok + route.ok;
    } finally {
      await stopLineChild(api as LineChild<unknown>);
    }
  }
  const inbox = async () =>
    (
      await client.query<{ pending: number; failed: number }>(
        'SELECT count(*) FILTER (WHERE failed_at IS NULL)::int AS pending, count(*) FILTER (WHERE failed_at IS NOT NULL)::int AS failed FROM webhook_inbox',
      )
    ).rows[0] as { pending: number; failed: number };
  const queued = (await inbox()).pending;

  // (b) the worker drains what the route accepted.
  const samples: Array<{ t: number; done: number }> = [];
  const spawnedAt = performance.now();
  const worker = await product<{ ready: boolean }>('bench/lib/product-worker.ts');
  const readyAt = performance.now();
  let failed = 0;
  let lastProgressAt = performance.now();
  for (;;) {
    const c = await inbox();
    const done = queued - c.pending;
    failed = c.failed;
    const t = performance.now();
    if (done !== samples.at(-1)?.done) lastProgressAt = t;
    samples.push({ t, done });
    if (done >= queued) break;
    if (t - lastProgressAt > STALL_MS) throw new Error(`the worker stalled at ${done} of ${queued} events`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopLineChild(worker as LineChild<unknown>);
  const crossing = (n: number) => {
    const i = samples.findIndex((s) => s.done >= n);
    const s = samples[i] as { t: number; done: number };
    const p = samples[i - 1];
    if (!p || s.done === p.done) return s.t;
    return p.t + ((n - p.done) / (s.done - p.done)) * (s.t - p.t);
  };
  const t10 = crossing(queued * 0.1);
  const t90 = crossing(queued * 0.9);
  const sustained = (queued * 0.8) / ((t90 - t10) / 1000);
  const firstAt = samples.find((s) => s.done > 0)?.t ?? readyAt;
  const endAt = (samples.at(-1) as { t: number }).t;
  const firstFailure = failed ? (await client.query<{ e: string }>('SELECT last_error AS e FROM webhook_inbox WHERE failed_at IS NOT NULL LIMIT 1')).rows[0]?.e : undefined;

  // The database against what the load sent: DELIVERY_ACK for recipients [0, R), READ for [0, TOTAL − R).
  const reads = TOTAL - RECIPIENTS;
  const counters = await client.query<{ sent_count: number; delivered_count: number; read_count: number }>(
    'SELECT sent_count, delivered_count, read_count FROM campaign WHERE id = $1',
    [seeded.campaignId],
  );
  const recount = await client.query<{ delivered: number; read: number; logs: number }>(
    `SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL)::int AS delivered, count(*) FILTER (WHERE read_at IS NOT NULL)::int AS read,
       (SELECT count(*)::int FROM campaign_log WHERE campaign_id = $1 AND type IN ('MESSAGE_DELIVERED', 'MESSAGE_READ')) AS logs
     FROM recipient WHERE campaign_id = $1`,
    [seeded.campaignId],
  );
  const cnt = counters.rows[0] as { sent_count: number; delivered_count: number; read_count: number };
  const rc = recount.rows[0] as { delivered: number; read: number; logs: number };
  const problems: string[] = [];
  if (accepted !== TOTAL) problems.push(`${TOTAL - accepted} of ${TOTAL} webhooks were not acknowledged with 2xx`);
  if (queued !== accepted) problems.push(`${accepted} acknowledged but ${queued} events in the inbox`);
  if (failed) problems.push(`${failed} events failed (first: ${firstFailure})`);
  if (cnt.delivered_count !== RECIPIENTS || cnt.read_count !== reads || cnt.sent_count !== RECIPIENTS)
    problems.push(`counters sent/delivered/read ${cnt.sent_count}/${cnt.delivered_count}/${cnt.read_count}, expected ${RECIPIENTS}/${RECIPIENTS}/${reads}`);
  if (rc.delivered !== cnt.delivered_count || rc.read !== cnt.read_count) problems.push(`recount delivered/read ${rc.delivered}/${rc.read} differs from the counters`);
  if (rc.logs !== TOTAL) problems.push(`${rc.logs} delivery/read log entries, expected ${TOTAL}`);

  const p50Ratio = route.p50 / bare.p50;
  const p99Ratio = route.p99 / bare.p99;
  const verdict = (ok: boolean) => (ok ? 'goal met' : 'GOAL MISSED');
  table([
    ['measure', 'value', 'detail'],
    [`bare handler at ${fmt(RATE)} req/s (baseline)`, `p50 ${ms(bare.p50)}`, `p99 ${ms(bare.p99)}, max ${ms(bare.max)}; ${describe(bare)}`],
    [`webhook route at ${fmt(RATE)} req/s`, `p50 ${ms(route.p50)}`, `p99 ${ms(route.p99)}, max ${ms(route.max)}; ${describe(route)}`],
    ['p50 ratio (goal ≤ 3×)', `${p50Ratio.toFixed(2)}×`, verdict(p50Ratio <= 3)],
    ['p99 ratio (goal ≤ 3×)', `${p99Ratio.toFixed(2)}×`, verdict(p99Ratio <= 3)],
    ['route p99 (goal < 200 ms)', ms(route.p99), verdict(route.p99 < 200)],
    [
      `worker applying ${fmt(queued)} receipts (10–90 %)`,
      `${fmt(sustained)}/s`,
      `all in ${((endAt - firstAt) / 1000).toFixed(2)} s from the first (${fmt(queued / ((endAt - firstAt) / 1000))}/s), process start to ready ${((readyAt - spawnedAt) / 1000).toFixed(2)} s; ${sustained >= RATE ? 'keeps up with' : 'slower than'} the arrival rate`,
    ],
    ['database check', problems.length ? 'FAILED' : 'ok', problems.length ? problems.join('; ') : `counters = recount = the load (${fmt(RECIPIENTS)} delivered, ${fmt(reads)} read), ${fmt(rc.logs)} log entries, no failed event`],
  ]);
  if (problems.length) process.exitCode = 1;
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  for (const c of children) await stopLineChild(c).catch(() => undefined);
  await closeQueues();
  await client.end().catch(() => undefined);
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(process.exitCode ?? 0);
