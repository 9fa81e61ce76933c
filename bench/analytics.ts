// `npm run bench:analytics`: campaign analytics on a generated campaign of 1,000,000 recipients
// (BENCH_RECIPIENTS), the product's API server in its own process, all measured in this run:
//
// (a) the full `campaign.analytics` query (every sub-field: funnel, rates, revenue, per instance, per
//     variation, per A/B variant, by hour and weekday, hourly time series, top errors, send durations,
//     timeline) over HTTP, against the same figures computed by hand-written SQL (bench/lib/analytics-sql.ts)
//     sent directly with `pg` from this process, all statements at once on a pool as large as the API's.
//     Time per query, median of BENCH_RUNS runs, the two sides interleaved. Goal: ≤ 2×.
// (b) the summary fields (funnel, rates, revenue: the campaign's counters) over HTTP, against a
//     primary-key lookup of the campaign row through the same GraphQL endpoint (`campaign(id) { id name
//     status … }`): same HTTP, key check, parsing and execution, so the ratio shows only what the
//     summary adds to reading the campaign row, and it cannot meet the goal by scanning recipients.
//     The API server runs with its response cache off, which would answer only the baseline.
//     Median of BENCH_SUMMARY_RUNS requests each, interleaved. Goal: ≤ 3×. The same lookup in plain SQL
//     is printed for reference.
//
// Before timing, the API's answer is checked against the hand-written SQL's (the baseline computes the
// same figures), and the funnel against a recount of the recipients (the counters match the rows).
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { type GeneratedCampaign, generateAnalyticsData } from './lib/analytics-data.js';
import { expectedAnalytics, handWrittenAnalytics } from './lib/analytics-sql.js';
import { fmt, startChild, stopChild, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 1_000_000);
const OTHER_RECIPIENTS = Number(process.env.BENCH_OTHER_RECIPIENTS ?? Math.round(RECIPIENTS / 4));
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SUMMARY_RUNS = Number(process.env.BENCH_SUMMARY_RUNS ?? 500);
const MESSAGE_LOGS = process.env.BENCH_MESSAGE_LOGS !== '0';
const TIMEZONE = 'America/Sao_Paulo';

const FULL = `query BenchAnalytics($id: ID!) {
  campaign(id: $id) {
    analytics {
      timezone
      funnel { targeted sent delivered read replied clicked converted failed skipped unknown remaining }
      rates { deliveryRate readRate replyRate clickRate conversionRate }
      revenue { cost conversionValue roi costPerConversion }
      instances { instance { id name } figures { ...F } averageSendMs healthScore healthStatus healthIssues pauses }
      variations { message { id abVariant text } figures { ...F } }
      abVariants { variant message { id abVariant } figures { ...F } sample successes metricRate }
      byHourOfDay { hour delivered read }
      byWeekday { weekday isoWeekday delivered read }
      timeSeries(bucket: HOUR) { start sent delivered read failed replied clicked converted }
      topErrors { code message count }
      sendDuration { count averageMs medianMs p95Ms maxMs }
      timeline { at type severity message details instanceId actor }
    }
  }
}
fragment F on AnalyticsFigures { targeted sent delivered read replied clicked converted failed deliveryRate readRate replyRate clickRate conversionRate }`;

const SUMMARY = `query BenchSummary($id: ID!) {
  campaign(id: $id) {
    analytics {
      funnel { targeted sent delivered read replied clicked converted failed skipped unknown remaining }
      rates { deliveryRate readRate replyRate clickRate conversionRate }
      revenue { cost conversionValue roi costPerConversion }
    }
  }
}`;

const ROW = `query BenchCampaignRow($id: ID!) { campaign(id: $id) { id name status startedAt completedAt } }`;

const say = (line: string) => process.stderr.write(`[bench:analytics] ${line}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number;
const ms = (x: number) => (x >= 100 ? `${fmt(x)} ms` : `${x.toFixed(2)} ms`);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

/** Equal, numbers within a relative 1e-9 (float aggregates may differ in their last bits between plans). */
function differences(got: unknown, want: unknown, path = ''): string[] {
  if (typeof got === 'number' && typeof want === 'number') return Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)) ? [] : [`${path}: ${got} ≠ ${want}`];
  if (Array.isArray(got) && Array.isArray(want)) {
    if (got.length !== want.length) return [`${path}: ${got.length} entries ≠ ${want.length}`];
    return got.flatMap((g, i) => differences(g, want[i], `${path}[${i}]`));
  }
  if (got && want && typeof got === 'object' && typeof want === 'object') {
    return Object.keys(want).flatMap((k) => differences((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return Object.is(got, want) ? [] : [`${path}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`];
}

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');
// As many connections as the API's Prisma pool, so both sides can run their statements side by side alike.
const POOL_SIZE = Number(env.DATABASE_POOL_SIZE);
const pool = new pg.Pool({ connectionString: db.url, max: POOL_SIZE });
pool.on('error', () => undefined); // connections ended by DROP DATABASE … WITH (FORCE) after a failure
let api: { child: ChildProcess; info: { port: number } } | null = null;

try {
  const { tenant, key } = await createTenant({ name: 'analytics bench', timezone: TIMEZONE });
  const gen = new pg.Client({ connectionString: db.url });
  gen.on('error', () => undefined);
  await gen.connect();
  let main: GeneratedCampaign;
  try {
    await gen.query('SELECT setseed(0.42)');
    say(`generating ${fmt(RECIPIENTS)} recipients (+ ${fmt(OTHER_RECIPIENTS)} of an earlier campaign)${MESSAGE_LOGS ? ' with their message log entries' : ''}…`);
    ({ main } = await generateAnalyticsData(gen, tenant.id, { recipients: RECIPIENTS, otherRecipients: OTHER_RECIPIENTS, messageLogs: MESSAGE_LOGS, timezone: TIMEZONE, say }));
    const sizes = await gen.query<{ recipients: string; logs: string }>(
      `SELECT pg_size_pretty(pg_total_relation_size('recipient')) AS recipients, pg_size_pretty(pg_total_relation_size('campaign_log')) AS logs`,
    );
    say(`recipient table ${sizes.rows[0]?.recipients}, campaign_log ${sizes.rows[0]?.logs} (with indexes)`);
  } finally {
    await gen.end();
  }
  const campaignId = main.campaignId;
  const globalId = Buffer.from(`Campaign:${campaignId}`).toString('base64');

  // Without the response cache (src/api/schema/response-cache.ts): it would answer (b)'s baseline, the
  // campaign row, from memory, while analytics are never cached; (b) compares executions.
  api = await startChild<{ port: number }>('bench/lib/api-server.ts', { ...env, RESPONSE_CACHE_TTL_MS: '0' });
  const url = `http://127.0.0.1:${api.info.port}/graphql`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const graphql = async (query: string) => {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables: { id: globalId } }) });
    const body = (await res.json()) as { data?: { campaign: Record<string, unknown> | null }; errors?: unknown };
    if (res.status !== 200 || body.errors || !body.data?.campaign) throw new Error(`GraphQL answered ${res.status}: ${JSON.stringify(body).slice(0, 800)}`);
    return body.data.campaign;
  };

  // ── the API computes the same figures as the hand-written SQL, and the counters match the rows ──
  const [firstApiMs, answer] = await timed(() => graphql(FULL));
  const [firstSqlMs, rows] = await timed(() => handWrittenAnalytics(pool, tenant.id, campaignId));
  say(`first (cold) run: API ${ms(firstApiMs)}, hand-written SQL ${ms(firstSqlMs)}`);
  const a = answer.analytics as Record<string, unknown> & { instances: Array<Record<string, unknown>>; variations: Array<Record<string, unknown>>; abVariants: Array<Record<string, unknown>>; timeline: Array<Record<string, unknown>> };
  const got = {
    ...a,
    instances: a.instances.map((i) => ({ ...i, name: (i.instance as { name: string } | null)?.name })),
    variations: a.variations.map((v) => ({ ...v, ...(v.message as object) })),
  };
  const want = expectedAnalytics(rows);
  const diff = differences(got, want);
  const [recount] = (
    await pool.query(
      `SELECT count(*)::int AS targeted, count(sent_at)::int AS sent, count(delivered_at)::int AS delivered, count(read_at)::int AS read,
              count(replied_at)::int AS replied, count(clicked_at)::int AS clicked, count(converted_at)::int AS converted,
              count(*) FILTER (WHERE status = 'FAILED')::int AS failed, count(*) FILTER (WHERE status = 'SKIPPED')::int AS skipped,
              count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown, count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'SENDING'))::int AS remaining
       FROM recipient WHERE campaign_id = $1`,
      [campaignId],
    )
  ).rows;
  diff.push(...differences(a.funnel, recount, '.funnel (vs recount)'));
  if (a.instances.length !== 3 || a.variations.length !== 3 || a.abVariants.length !== 3 || a.timeline.length < 10) diff.push('unexpected shape of the generated campaign');
  if (diff.length) throw new Error(`the API and the hand-written SQL disagree:\n  ${diff.slice(0, 20).join('\n  ')}`);
  say(`checked: the API's answer equals the hand-written SQL's figures; the funnel equals a recount of ${fmt(RECIPIENTS)} recipients`);

  // ── (a) full analytics: API vs hand-written SQL, interleaved ──
  const apiTimes: number[] = [];
  const sqlTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    apiTimes.push((await timed(() => graphql(FULL)))[0]);
    sqlTimes.push((await timed(() => handWrittenAnalytics(pool, tenant.id, campaignId)))[0]);
  }
  say(`full analytics, API runs (ms): ${apiTimes.map((t) => t.toFixed(0)).join(' ')}`);
  say(`full analytics, SQL runs (ms): ${sqlTimes.map((t) => t.toFixed(0)).join(' ')}`);

  // ── (b) summary from counters vs the campaign row, both through GraphQL, interleaved ──
  const summaryTimes: number[] = [];
  const rowTimes: number[] = [];
  const sqlRowTimes: number[] = [];
  const pk = 'SELECT id, name, status, started_at, completed_at FROM campaign WHERE id = $1 AND tenant_id = $2';
  for (let i = 0; i < Math.max(20, SUMMARY_RUNS / 10); i++) {
    await graphql(SUMMARY);
    await graphql(ROW);
    await pool.query(pk, [campaignId, tenant.id]);
  }
  for (let i = 0; i < SUMMARY_RUNS; i++) {
    summaryTimes.push((await timed(() => graphql(SUMMARY)))[0]);
    rowTimes.push((await timed(() => graphql(ROW)))[0]);
    sqlRowTimes.push((await timed(() => pool.query(pk, [campaignId, tenant.id])))[0]);
  }

  const full = median(apiTimes);
  const base = median(sqlTimes);
  const summary = median(summaryTimes);
  const row = median(rowTimes);
  const ratioA = full / base;
  const ratioB = summary / row;
  const spread = (xs: number[]) => `min ${ms(Math.min(...xs))}, max ${ms(Math.max(...xs))}`;
  process.stdout.write(`campaign analytics, ${fmt(RECIPIENTS)} recipients (+ ${fmt(OTHER_RECIPIENTS)} in another campaign)\n`);
  table([
    ['measure', 'median', 'spread'],
    [`hand-written SQL, same figures, pg pool of ${POOL_SIZE} (baseline, ${RUNS} runs)`, ms(base), spread(sqlTimes)],
    [`full campaign.analytics over HTTP (${RUNS} runs)`, ms(full), spread(apiTimes)],
    ['(a) ratio (goal ≤ 2×)', `${ratioA.toFixed(2)}×`, ratioA <= 2 ? 'goal met' : 'GOAL MISSED'],
    [`campaign row by primary key through GraphQL (baseline, ${SUMMARY_RUNS} runs)`, ms(row), `p90 ${ms(quantile(rowTimes, 0.9))}`],
    [`summary: funnel, rates, revenue over HTTP (${SUMMARY_RUNS} runs)`, ms(summary), `p90 ${ms(quantile(summaryTimes, 0.9))}`],
    ['(b) ratio (goal ≤ 3×)', `${ratioB.toFixed(2)}×`, ratioB <= 3 ? 'goal met' : 'GOAL MISSED'],
    ['  for reference: the same row by primary key in plain SQL', ms(median(sqlRowTimes)), `p90 ${ms(quantile(sqlRowTimes, 0.9))}`],
  ]);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  if (api) await stopChild(api.child);
  await pool.end().catch(() => undefined);
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(process.exitCode ?? 0);
