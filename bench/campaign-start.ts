// `npm run bench:start`: starting a campaign on BENCH_ROWS (100,000) contacts through GraphQL
// (startCampaign over HTTP to the API server in its own process: lock and checks, the audience frozen
// into recipients with one INSERT … SELECT, counters, the log entry, the pump request) against a bare
// INSERT … SELECT of the same rows, with the same columns the product fills (tenant, campaign,
// contact, seq in contact order, phone, zone, status, variation, queued_at), into recipient for
// another campaign of the same tenant, in the same run. Ratio = product time / bare time; goal ≤ 2×.
//
// BENCH_RUNS (3) pairs are measured, alternating which side goes first, each on fresh DRAFT campaigns;
// the medians are compared. A CHECKPOINT before each timed statement starts both from the same state.
// No worker runs: the pump job the start enqueues stays queued (sending is bench:dispatch's job).
import pg from 'pg';
import { createCampaign, gql, registerSenders, seedContacts, startCampaign } from './lib/campaign-setup.js';
import { fmt, startChild, stopChild, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');

const client = new pg.Client({ connectionString: db.url });
client.on('error', () => undefined); // ended by DROP DATABASE … WITH (FORCE) after a failure
await client.connect();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;

let api: Awaited<ReturnType<typeof startChild<{ port: number }>>> | null = null;
let cleaning: Promise<void> | null = null;
/** Stops the API server, drops the database and the Redis prefix; once, on success, failure or Ctrl-C. */
function cleanup() {
  cleaning ??= (async () => {
    if (api && api.child.exitCode === null && api.child.signalCode === null) await stopChild(api.child);
    await client.end().catch(() => undefined);
    await prisma.$disconnect();
    await db.drop();
    await dropRedisPrefix(env.REDIS_PREFIX as string);
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

try {
  const { tenant, key } = await createTenant({ name: 'start bench' });
  api = await startChild<{ port: number }>('bench/lib/api-server.ts', env);
  const apiUrl = `http://127.0.0.1:${api.info.port}`;
  // An instance the start accepts; nothing is sent, so its server need not answer.
  const [sender] = await registerSenders(apiUrl, key, client, { baseUrl: 'http://127.0.0.1:9', apiKey: 'unused-key', count: 1, prefix: 'start' });
  if (!sender) throw new Error('no sender');
  await seedContacts(client, tenant.id, ROWS);
  await client.query('VACUUM ANALYZE contact');
  await gql(apiUrl, key, '{ __typename }'); // warm the connection

  const bareInsert = async (campaignId: string, messageId: string) => {
    const zone = 'America/Sao_Paulo';
    const r = await client.query(
      `INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, timezone, status, message_id, queued_at, updated_at)
       SELECT $1::uuid, $2::uuid, c.id, row_number() OVER (ORDER BY c.created_at, c.id)::int, c.phone, $3::text, 'QUEUED', $4::uuid, now(), now()
       FROM contact c WHERE c.tenant_id = $1::uuid`,
      [tenant.id, campaignId, zone, messageId],
    );
    return r.rowCount ?? 0;
  };

  const product: number[] = [];
  const bare: number[] = [];
  const checked: Array<{ uuid: string }> = [];
  for (let run = 0; run < RUNS; run++) {
    const sides = run % 2 === 0 ? (['bare', 'product'] as const) : (['product', 'bare'] as const);
    for (const side of sides) {
      const campaign = await createCampaign(apiUrl, key, `start ${side} ${run}`, [sender.id]);
      checked.push(campaign);
      await client.query('CHECKPOINT');
      const started = performance.now();
      if (side === 'product') {
        await startCampaign(apiUrl, key, campaign.id, ROWS);
        product.push(performance.now() - started);
      } else {
        const n = await bareInsert(campaign.uuid, campaign.messageUuid);
        bare.push(performance.now() - started);
        if (n !== ROWS) throw new Error(`the bare INSERT … SELECT wrote ${n} rows`);
      }
    }
  }
  const { rows: counts } = await client.query<{ campaign_id: string; n: number }>(
    'SELECT campaign_id, count(*)::int AS n FROM recipient WHERE campaign_id = ANY($1::uuid[]) GROUP BY campaign_id',
    [checked.map((c) => c.uuid)],
  );
  if (counts.length !== checked.length || counts.some((c) => c.n !== ROWS)) throw new Error(`not every campaign has ${ROWS} recipients: ${JSON.stringify(counts)}`);

  const p = median(product);
  const b = median(bare);
  const ratio = p / b;
  const ms = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
  table([
    ['measure', 'time', 'detail'],
    [`bare INSERT … SELECT of ${fmt(ROWS)} recipients (baseline)`, `${(b / 1000).toFixed(2)} s`, `median of ${RUNS}: ${ms(bare)} ms; ${fmt(ROWS / (b / 1000))} rows/s`],
    [`startCampaign through GraphQL, ${fmt(ROWS)} contacts`, `${(p / 1000).toFixed(2)} s`, `median of ${RUNS}: ${ms(product)} ms; ${fmt(ROWS / (p / 1000))} rows/s`],
    ['ratio product / bare (goal ≤ 2×)', `${ratio.toFixed(2)}×`, ratio <= 2 ? 'goal met' : 'GOAL MISSED'],
  ]);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode ?? 0);
