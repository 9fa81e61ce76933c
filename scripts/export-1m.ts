// `npm run export:1m`: the CSV export of a 1,000,000-recipient campaign, end to end and with flat memory.
//
// In a database of its own (created, migrated, dropped at the end) it generates a tenant, 1,000,000
// contacts and a campaign whose 1,000,000 recipients have varied statuses (INSERT … SELECT
// generate_series), starts the real API server as a child process, streams the report over HTTP with
// the API key, and checks it while it arrives: the header, the number of rows, one row per recipient
// (in keyset order), and a sample of rows against the database. It samples the server's resident
// memory (/proc/<pid>/status) throughout and reports the peak growth over its idle baseline.
// Not part of `npm test`: it takes minutes.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { Redis } from 'ioredis';
import pg from 'pg';

const ROWS = Number(process.env.EXPORT_ROWS ?? 1_000_000);
const SAMPLE = 200;
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const database = `wc_export_${runId}`;
const redisPrefix = `wcx_${runId}`;

function dbUrl(db: string) {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) : Number.NaN;
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const say = (line: string) => console.log(`[export:1m] ${line}`);
const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

async function generate(db: pg.Client, tenantId: string) {
  const t0 = performance.now();
  await db.query(`INSERT INTO evolution_server (id, tenant_id, name, base_url, api_key_encrypted, updated_at)
    VALUES ('00000000-0000-4000-8000-000000000001', $1, 'evo', 'http://evolution.invalid', 'v1.x.x.x', now())`, [tenantId]);
  await db.query(`INSERT INTO whatsapp_instance (id, tenant_id, server_id, name, webhook_secret, updated_at)
    SELECT ('00000000-0000-4000-8000-00000000010' || g)::uuid, $1, '00000000-0000-4000-8000-000000000001', 'inst-' || g, 'secret-' || g || '-' || md5(random()::text), now()
    FROM generate_series(1, 3) g`, [tenantId]);
  await db.query(`INSERT INTO campaign (id, tenant_id, name, status, started_at, ab_enabled, updated_at)
    VALUES ('00000000-0000-4000-8000-000000000201', $1, 'One million', 'COMPLETED', now() - interval '3 days', true, now())`, [tenantId]);
  await db.query(`INSERT INTO campaign_message (id, tenant_id, campaign_id, sort_order, text, ab_variant, updated_at) VALUES
    ('00000000-0000-4000-8000-000000000301', $1, '00000000-0000-4000-8000-000000000201', 0, 'Variante A', 'A', now()),
    ('00000000-0000-4000-8000-000000000302', $1, '00000000-0000-4000-8000-000000000201', 1, 'Variante B', 'B', now())`, [tenantId]);
  await db.query(`INSERT INTO contact (tenant_id, phone, name, created_at, updated_at)
    SELECT $1, '+5511' || (900000000 + g)::text, 'Contato ' || g, now(), now() FROM generate_series(1, ${ROWS}) g`, [tenantId]);
  say(`${ROWS} contacts in ${elapsed(t0)}`);
  const t1 = performance.now();
  // Statuses by g: 0–5 READ, 6 DELIVERED, 7 SENT, 8 FAILED, 9 SKIPPED; every 7th read one replied,
  // every 50th clicked, every 200th converted with a value.
  await db.query(`
    INSERT INTO recipient (tenant_id, campaign_id, contact_id, seq, phone, status, instance_id, message_id, ab_variant, attempts,
      queued_at, sending_at, sent_at, delivered_at, read_at, failed_at, skipped_at, replied_at, clicked_at, converted_at,
      conversion_value, send_duration_ms, error_code, error, provider_message_id, updated_at)
    SELECT $1, '00000000-0000-4000-8000-000000000201', c.id, s.g, c.phone,
      (CASE WHEN s.k <= 5 THEN 'READ' WHEN s.k = 6 THEN 'DELIVERED' WHEN s.k = 7 THEN 'SENT' WHEN s.k = 8 THEN 'FAILED' ELSE 'SKIPPED' END)::"RecipientStatus",
      CASE WHEN s.k <= 8 THEN ('00000000-0000-4000-8000-00000000010' || (s.g % 3 + 1))::uuid END,
      CASE WHEN s.g % 2 = 0 THEN '00000000-0000-4000-8000-000000000301'::uuid ELSE '00000000-0000-4000-8000-000000000302'::uuid END,
      CASE WHEN s.g % 2 = 0 THEN 'A' ELSE 'B' END,
      CASE WHEN s.k <= 8 THEN 1 ELSE 0 END,
      s.t0, CASE WHEN s.k <= 8 THEN s.t0 + interval '1 minute' END,
      CASE WHEN s.k <= 7 THEN s.t0 + interval '1 minute' END,
      CASE WHEN s.k <= 6 THEN s.t0 + interval '3 minutes' END,
      CASE WHEN s.k <= 5 THEN s.t0 + interval '1 hour' END,
      CASE WHEN s.k = 8 THEN s.t0 + interval '1 minute' END,
      CASE WHEN s.k = 9 THEN s.t0 + interval '2 days' END,
      CASE WHEN s.k <= 5 AND s.g % 7 = 0 THEN s.t0 + interval '2 hours' END,
      CASE WHEN s.k <= 5 AND s.g % 50 = 0 THEN s.t0 + interval '90 minutes' END,
      CASE WHEN s.k <= 5 AND s.g % 200 = 0 THEN s.t0 + interval '5 hours' END,
      CASE WHEN s.k <= 5 AND s.g % 200 = 0 THEN (s.g % 1000) / 10.0 ELSE 0 END,
      CASE WHEN s.k <= 7 THEN 80 + s.g % 900 END,
      CASE WHEN s.k = 8 THEN 'REJECTED' END,
      CASE WHEN s.k = 8 THEN 'Evolution refused the message (400): Bad Request' END,
      CASE WHEN s.k <= 7 THEN '3EB0' || upper(md5(s.g::text)) END,
      now()
    FROM (SELECT id, phone, row_number() OVER (ORDER BY phone)::int AS g FROM contact WHERE tenant_id = $1) c
    CROSS JOIN LATERAL (SELECT c.g AS g, c.g % 10 AS k, now() - interval '3 days' + (c.g % 4320) * interval '1 minute' AS t0) s`, [tenantId]);
  await db.query(`
    UPDATE campaign c SET targeted_count = r.targeted, sent_count = r.sent, delivered_count = r.delivered, read_count = r.read,
      replied_count = r.replied, clicked_count = r.clicked, converted_count = r.converted, failed_count = r.failed, skipped_count = r.skipped
    FROM (SELECT count(*) AS targeted, count(sent_at) AS sent, count(delivered_at) AS delivered, count(read_at) AS read, count(replied_at) AS replied,
                 count(clicked_at) AS clicked, count(converted_at) AS converted, count(*) FILTER (WHERE status = 'FAILED') AS failed,
                 count(*) FILTER (WHERE status = 'SKIPPED') AS skipped
          FROM recipient WHERE campaign_id = '00000000-0000-4000-8000-000000000201') r
    WHERE c.id = '00000000-0000-4000-8000-000000000201'`);
  await db.query('VACUUM ANALYZE recipient');
  await db.query('VACUUM ANALYZE contact');
  say(`${ROWS} recipients in ${elapsed(t1)}`);
}

let server: ChildProcess | null = null;
async function main() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  try {
    const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], {
      env: { ...process.env, DATABASE_URL: dbUrl(database) },
      encoding: 'utf8',
    });
    if (migrate.status !== 0) throw new Error(`migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`);

    const port = await freePort();
    const env = {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: dbUrl(database),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    // The tenant and its API key through the product's own code (it reads the same environment).
    Object.assign(process.env, env);
    const { createTenant } = await import('../src/features/auth/api-keys.js');
    const { prisma } = await import('../src/infra/db/client.js');
    const { tenant, key } = await createTenant({ name: 'Export 1M' });
    await prisma.$disconnect();

    const db = new pg.Client({ connectionString: dbUrl(database) });
    await db.connect();
    await generate(db, tenant.id);
    const campaignId = '00000000-0000-4000-8000-000000000201';
    const sample = await db.query<Record<string, unknown>>(
      `SELECT r.id, r.phone, ct.name, r.status::text AS status, r.sent_at, r.read_at, r.error, r.conversion_value::text AS conversion_value, r.ab_variant,
              i.name AS instance
       FROM recipient r JOIN contact ct ON ct.id = r.contact_id LEFT JOIN whatsapp_instance i ON i.id = r.instance_id
       WHERE r.campaign_id = $1 ORDER BY random() LIMIT ${SAMPLE}`,
      [campaignId],
    );
    const expected = new Map(sample.rows.map((r) => [r.id as string, r]));

    server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const pid = server.pid as number;
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch {}
      if (i > 300) throw new Error('the API server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Warm up the route (and its code) on an empty campaign, then take the idle baseline.
    await db.query(`INSERT INTO campaign (id, tenant_id, name, updated_at) VALUES ('00000000-0000-4000-8000-000000000202', $1, 'empty', now())`, [tenant.id]);
    await (await fetch(`${base}/exports/campaigns/00000000-0000-4000-8000-000000000202/report.csv`, { headers: { authorization: `Bearer ${key}` } })).text();
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = rssKb(pid);
    const hwmBefore = rssKb(pid, 'VmHWM');
    say(`server pid ${pid}: idle RSS ${mb(baseline)} (high-water mark so far ${mb(hwmBefore)})`);

    let peak = baseline;
    const samples: Array<{ rows: number; rss: number }> = [];
    let rows = 0;
    const timer = setInterval(() => {
      const now = rssKb(pid);
      peak = Math.max(peak, now);
      samples.push({ rows, rss: now });
    }, 50);

    const t0 = performance.now();
    const res = await fetch(`${base}/exports/campaigns/${campaignId}/report.csv`, { headers: { authorization: `Bearer ${key}` } });
    if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
    let header: string[] | null = null;
    let lastContact = '';
    let outOfOrder = 0;
    let checked = 0;
    const mismatches: string[] = [];
    const parser = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).pipe(parse());
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = record;
        continue;
      }
      rows++;
      const row = Object.fromEntries(header.map((h, i) => [h, record[i] ?? '']));
      if ((row.contact_id as string) <= lastContact) outOfOrder++;
      lastContact = row.contact_id as string;
      const want = expected.get(row.recipient_id as string);
      if (want) {
        checked++;
        const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : '');
        const same =
          row.phone === want.phone &&
          row.contact_name === want.name &&
          row.status === want.status &&
          row.sent_at === iso(want.sent_at) &&
          row.read_at === iso(want.read_at) &&
          row.error === (want.error ?? '') &&
          row.conversion_value === want.conversion_value &&
          row.variation === want.ab_variant &&
          row.instance === (want.instance ?? '');
        if (!same) mismatches.push(`${row.recipient_id}: got ${JSON.stringify(row)} want ${JSON.stringify(want)}`);
      }
    }
    clearInterval(timer);
    const seconds = (performance.now() - t0) / 1000;
    const hwmAfter = rssKb(pid, 'VmHWM');
    const [count] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM recipient WHERE campaign_id = $1', [campaignId])).rows;
    await db.end();

    const at = (fraction: number) => samples.find((s) => s.rows >= ROWS * fraction)?.rss ?? Number.NaN;
    say(`exported ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s); the database holds ${count?.n}`);
    say(`header: ${header?.length} columns; rows in keyset order: ${outOfOrder === 0 ? 'yes' : `no (${outOfOrder} out of order)`}`);
    say(`sample check: ${checked} of ${SAMPLE} sampled recipients found, ${mismatches.length} mismatches`);
    for (const m of mismatches.slice(0, 5)) say(`  mismatch ${m}`);
    say(`server RSS: idle ${mb(baseline)}, at 25% ${mb(at(0.25))}, 50% ${mb(at(0.5))}, 75% ${mb(at(0.75))}, end ${mb(samples.at(-1)?.rss ?? Number.NaN)}`);
    say(`server RSS peak during the export ${mb(peak)}: growth ${mb(peak - baseline)} over idle (high-water mark ${mb(hwmBefore)} → ${mb(hwmAfter)})`);
    const ok = rows === ROWS && rows === count?.n && outOfOrder === 0 && checked === SAMPLE && mismatches.length === 0;
    say(ok ? 'OK' : 'FAILED');
    process.exitCode = ok ? 0 : 1;
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server?.once('exit', r));
    }
    const admin2 = new pg.Client({ connectionString: adminUrl });
    await admin2.connect();
    await admin2.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin2.end();
    const redis = new Redis(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
