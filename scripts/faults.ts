/**
 * `npm run test:faults`: the product's guarantees while what it stands on blinks. Starts its own
 * PostgreSQL cluster and Redis servers on free local ports (never the machine's), an API server and two
 * worker processes as in production, and the Evolution simulator; then, for each fault, runs a campaign
 * of FAULT_RECIPIENTS recipients over four instances limited to FAULT_PER_MINUTE each (sends at least
 * FAULT_MIN_DELAY_MS apart), injects the fault
 * at about a third of the campaign, ends it, and checks:
 *
 * - no phone got the campaign twice (the simulator's record);
 * - every recipient ends in a final state with no manual step, and UNKNOWN only with its evidence;
 * - every receipt the simulator's webhook delivered (answered 2xx) is applied: the recipient's status
 *   is at least the highest one it acknowledged;
 * - the campaign's counters equal a recount of its recipients;
 * - no instance sent more than its per-minute limit in any 60 s (by the simulator's clock);
 * - the campaign completes within FAULT_COMPLETE_S seconds of the fault's end, plus the time its
 *   remaining sends need at the paced rate.
 *
 * Faults (FAULTS, comma-separated, all by default): postgres-restart, redis-restart (no persistence:
 * every key lost), redis-restart-aof (appendonly, graceful restart), evolution-killed (connections
 * reset, unanswered sends never made, queued webhooks lost; restarted after FAULT_DOWN_S), and
 * evolution-hung (connections accepted, nothing answered for FAULT_HANG_S, longer than the send timeout).
 *
 * Prints a table: fault, lost, duplicated, unknown, recovery seconds. Exit code 1 on any problem.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type EvolutionSimulator, startSimulator } from '../tools/evolution-simulator/server.js';
import { gql } from './lib/gql.js';
import { COUNTERS_AND_RECOUNT, type Proc, sleep, startProcess, stopProcess, waitFor } from './lib/long-run.js';
import { freePort, type PrivatePostgres, type PrivateRedis, startPrivatePostgres, startPrivateRedis } from '../test/helpers/private-services.js';

const RECIPIENTS = Number(process.env.FAULT_RECIPIENTS ?? 2400);
/** Binding: 2,400 recipients over four instances need two minutes at 300/min each. */
const PER_MINUTE = Number(process.env.FAULT_PER_MINUTE ?? 300);
/** A send every 100 ms at most per instance: a minute's 300 go in its first 30 s, then the limit holds them. */
const MIN_DELAY_MS = Number(process.env.FAULT_MIN_DELAY_MS ?? 100);
const INSTANCES = 4;
const DOWN_S = Number(process.env.FAULT_DOWN_S ?? 5);
const HANG_S = Number(process.env.FAULT_HANG_S ?? 12);
const COMPLETE_S = Number(process.env.FAULT_COMPLETE_S ?? 90);
const EVOLUTION_TIMEOUT_MS = 4000;
const ALL = ['postgres-restart', 'redis-restart', 'redis-restart-aof', 'evolution-killed', 'evolution-hung'] as const;
type Fault = (typeof ALL)[number];
const FAULTS = (process.env.FAULTS ? process.env.FAULTS.split(',').map((f) => f.trim()) : [...ALL]) as Fault[];
for (const f of FAULTS) if (!ALL.includes(f)) throw new Error(`unknown fault "${f}"; known: ${ALL.join(', ')}`);

const SIM_KEY = 'faults-sim-global-key';
const log = (msg: string) => process.stdout.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Row {
  fault: Fault;
  lost: number;
  duplicated: number;
  unknown: number;
  requeued: number;
  recoveryS: number | null;
  completeS: number | null;
  problems: string[];
}

const STATUS_RANK: Record<string, number> = { SENT: 1, DELIVERED: 2, READ: 3, FAILED: 0 };
const SIM_RANK: Record<string, number> = { SERVER_ACK: 1, DELIVERY_ACK: 2, READ: 3, PLAYED: 3, ERROR: -1 };

async function main() {
  log('starting a private PostgreSQL cluster and Redis servers');
  const postgres: PrivatePostgres = await startPrivatePostgres();
  const redisPlain: PrivateRedis = await startPrivateRedis();
  const redisAof: PrivateRedis = await startPrivateRedis({ appendonly: true });
  const services = [postgres, redisPlain, redisAof];
  const database = 'wc_faults';
  const admin = new pg.Client({ connectionString: postgres.url() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const dbUrl = postgres.url(database);
  const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], {
    env: { ...process.env, DATABASE_URL: dbUrl },
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const db = new pg.Pool({ connectionString: dbUrl, max: 4 });
  db.on('error', () => undefined); // the harness's own connections break on purpose

  const sim = await startSimulator({
    apiKey: SIM_KEY,
    seed: 11,
    latencyMs: 20,
    ackDelayMs: 150,
    deliveryDelayMs: 400,
    readDelayMs: 800,
    noReadRate: 0.4,
    // Evolution's real retry schedule, compressed: 10 attempts from 1 s, doubling, at most 8 s apart.
    webhookRetry: { attempts: 10, baseDelayMs: 1000, maxDelayMs: 8000 },
    webhookTimeoutMs: 10_000,
  });

  const rows: Row[] = [];
  let procs: Proc[] = [];
  // Ctrl-C or a kill: stop the product's processes and the private services before leaving.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void Promise.all(procs.map((p) => stopProcess(p, 3000)))
        .then(() => Promise.all(services.map((s) => s.stop().catch(() => undefined))))
        .finally(() => process.exit(130));
    });
  }
  try {
    for (const fault of FAULTS) {
      const redis = fault === 'redis-restart-aof' ? redisAof : redisPlain;
      const r = new Redis(redis.url);
      await r.flushall();
      r.disconnect();
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: dbUrl,
        DATABASE_POOL_SIZE: '10',
        REDIS_URL: redis.url,
        REDIS_PREFIX: `wcf_${fault.replace(/-/g, '_')}`,
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        EVOLUTION_TIMEOUT_MS: String(EVOLUTION_TIMEOUT_MS),
        SHUTDOWN_TIMEOUT_MS: '8000',
        RECONCILE_GRACE_MS: process.env.RECONCILE_GRACE_MS ?? '20000',
      };
      const api = startProcess('api', 'src/main.ts', env);
      const workers = [0, 1].map((i) => startProcess(`worker-${i}`, 'src/workers/main.ts', env));
      procs = [api, ...workers];
      await waitFor(async () => (await fetch(`${env.PUBLIC_URL}/health`).catch(() => null))?.ok, 60_000, 300);
      await waitFor(async () => workers.every((w) => w.output.includes('workers started')), 60_000);
      try {
        rows.push(await scenario(fault, { env, db, sim, postgres, redis, procs }));
      } finally {
        const dead = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
        for (const p of dead) log(`${p.name} had exited (${p.child.exitCode ?? p.child.signalCode}); its last output:\n${p.output.slice(-3000)}`);
        await Promise.all(procs.map(stopProcess));
        procs = [];
      }
    }
  } finally {
    await Promise.all(procs.map(stopProcess));
    await sim.close();
    await db.end().catch(() => undefined);
    for (const s of services) await s.stop().catch(() => undefined);
  }

  log('');
  const header = ['fault', 'lost', 'duplicated', 'unknown', 'requeued', 'recovery s', 'completed s', 'result'];
  const table = rows.map((r) => [
    r.fault,
    String(r.lost),
    String(r.duplicated),
    String(r.unknown),
    String(r.requeued),
    r.recoveryS === null ? '-' : r.recoveryS.toFixed(1),
    r.completeS === null ? '-' : r.completeS.toFixed(1),
    r.problems.length ? 'FAIL' : 'ok',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] as string).length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  process.stdout.write(`${fmt(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${table.map(fmt).join('\n')}\n`);
  process.stdout.write(
    '\nlost: recipients not in a final state, or a delivered receipt not applied; duplicated: phones the simulator got the campaign twice;\n' +
      'unknown: recipients left UNKNOWN (each with its evidence); requeued: unknown outcomes proven not sent and sent again;\n' +
      'recovery: from the end of the fault to the first send after it; completed: from the end of the fault to COMPLETED.\n',
  );
  for (const r of rows) for (const p of r.problems) log(`PROBLEM (${r.fault}): ${p}`);
  if (rows.some((r) => r.problems.length)) process.exitCode = 1;
}

interface Ctx {
  env: NodeJS.ProcessEnv;
  db: pg.Pool;
  sim: EvolutionSimulator;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  procs: Proc[];
}

async function scenario(fault: Fault, ctx: Ctx): Promise<Row> {
  const { env, db, sim } = ctx;
  const api = env.PUBLIC_URL as string;
  const problems: string[] = [];
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'tenant:create', '--name', `Faults ${fault}`], { env: { ...env, LOG_LEVEL: 'silent' }, encoding: 'utf8' });
  if (cli.status !== 0) throw new Error(`tenant:create failed: ${cli.stderr}`);
  const { tenantId, apiKey } = JSON.parse(cli.stdout) as { tenantId: string; apiKey: string };

  const server = await gql(api, apiKey, `mutation($i: RegisterEvolutionServerInput!) { registerEvolutionServer(input: $i) { ... on RegisterEvolutionServerSuccess { data { id } } ... on Error { message } } }`, {
    i: { name: 'simulator', baseUrl: sim.url, apiKey: SIM_KEY },
  });
  const serverId = server.registerEvolutionServer.data.id as string;
  const instanceIds: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const name = `f-${fault}-${i}-${randomBytes(2).toString('hex')}`;
    const r = await gql(api, apiKey, `mutation($i: RegisterInstanceInput!) { registerInstance(input: $i) { ... on RegisterInstanceSuccess { data { id webhookUrl } } ... on Error { message } } }`, {
      i: { serverId, name, limitPerMinute: PER_MINUTE, limitPerHour: 60_000, limitPerDay: 1_000_000, minDelayMs: MIN_DELAY_MS, maxDelayMs: MIN_DELAY_MS },
    });
    const { id, webhookUrl } = r.registerInstance.data as { id: string; webhookUrl: string };
    sim.createInstance(name, { number: `55119000${String(i).padStart(5, '0')}`, state: 'open', webhook: { url: webhookUrl, events: ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'CONNECTION_UPDATE'] } });
    instanceIds.push(id);
    names.push(name);
  }
  const phoneBase = 80_000_000 + Math.floor(Math.random() * 10_000_000);
  await db.query(
    `INSERT INTO contact (tenant_id, phone, name, updated_at)
     SELECT $1::uuid, '+55119' || lpad(($2::int + g)::text, 8, '0'), 'Contato ' || g, now() FROM generate_series(1, $3::int) g`,
    [tenantId, phoneBase, RECIPIENTS],
  );
  const created = await gql(api, apiKey, `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { ... on CreateCampaignSuccess { data { id } } ... on ValidationError { issues { path message } } } }`, {
    i: { name: `Faults: ${fault}`, messages: [{ text: '{{saudacao}}, {{primeiro_nome}}!' }, { text: 'Oi {{primeiro_nome}}, tudo bem?' }], audience: { all: true }, instanceIds, rotationMode: 'ROUND_ROBIN' },
  });
  const campaignGlobalId = created.createCampaign.data.id as string;
  // Relay global ids are base64 of `Type:uuid`.
  const campaignId = Buffer.from(campaignGlobalId, 'base64').toString('utf8').split(':')[1] as string;
  const simBefore = sim.sends.length;
  const started = Date.now();
  await gql(api, apiKey, `mutation($id: ID!) { startCampaign(id: $id) { __typename ... on Error { message } } }`, { id: campaignGlobalId });
  log(`${fault}: campaign of ${RECIPIENTS} started (${INSTANCES} instances at ${PER_MINUTE}/min, ${MIN_DELAY_MS} ms apart)`);

  const progress = async () => {
    const { rows } = await db.query<{ status: string; remaining: number; sent: number }>(
      'SELECT status::text, remaining_count AS remaining, sent_count AS sent FROM campaign WHERE id = $1',
      [campaignId],
    );
    return rows[0];
  };
  await waitFor(async () => ((await progress())?.sent ?? 0) >= RECIPIENTS / 3, 5 * 60_000, 200).catch((err) => {
    for (const p of ctx.procs) log(`${p.name} output:\n${p.output.slice(-4000)}`);
    throw err;
  });

  // ─── the fault ───
  const faultStart = Date.now();
  log(`${fault}: injecting at ${(await progress())?.sent} sent`);
  switch (fault) {
    case 'postgres-restart':
      await ctx.postgres.restart(DOWN_S * 1000);
      break;
    case 'redis-restart':
    case 'redis-restart-aof':
      await ctx.redis.restart(DOWN_S * 1000);
      break;
    case 'evolution-killed':
      await sim.crash();
      await sleep(DOWN_S * 1000);
      await sim.restart();
      break;
    case 'evolution-hung':
      sim.hang();
      await sleep(HANG_S * 1000);
      sim.unhang();
      break;
  }
  const faultEnd = Date.now();
  const sendsAtEnd = sim.sends.length;
  log(`${fault}: fault over after ${((faultEnd - faultStart) / 1000).toFixed(1)} s`);

  // ─── recovery ───
  const remainingAtEnd = await waitFor(async () => (await progress())?.remaining, 60_000).catch(() => RECIPIENTS);
  const budgetMs = (COMPLETE_S + (remainingAtEnd / (PER_MINUTE * INSTANCES)) * 60) * 1000;
  let completeS: number | null = null;
  const ticker = setInterval(() => {
    void db
      .query<{ status: string; n: number }>('SELECT status::text, count(*)::int AS n FROM recipient WHERE campaign_id = $1 GROUP BY 1 ORDER BY 1', [campaignId])
      .then((r) => log(`${fault}: +${Math.round((Date.now() - faultEnd) / 1000)} s ${r.rows.map((x) => `${x.status} ${x.n}`).join(', ')}; simulator ${sim.sends.length - simBefore}`))
      .catch(() => undefined);
  }, 15_000);
  try {
    await waitFor(async () => (await progress())?.status === 'COMPLETED', budgetMs, 500);
    completeS = (Date.now() - faultEnd) / 1000;
    log(`${fault}: COMPLETED ${completeS.toFixed(1)} s after the fault's end`);
  } catch {
    const p = await progress().catch(() => null);
    const why = await db.query<{ pause_reason: string | null }>('SELECT pause_reason FROM campaign WHERE id = $1', [campaignId]).catch(() => null);
    if (why?.rows[0]?.pause_reason) log(`${fault}: the campaign says: ${why.rows[0].pause_reason}`);
    problems.push(`not COMPLETED within ${Math.round(budgetMs / 1000)} s of the fault's end (status ${p?.status}, ${p?.remaining} remaining)`);
  } finally {
    clearInterval(ticker);
  }
  const firstAfter = sim.sends.slice(sendsAtEnd).find((s) => Date.parse(s.at) >= faultEnd);
  const recoveryS = firstAfter ? (Date.parse(firstAfter.at) - faultEnd) / 1000 : null;

  // Receipts: the simulator has nothing left to post, and every acknowledged webhook is applied.
  await sim.drain(120_000);
  await waitFor(async () => {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_inbox WHERE failed_at IS NULL`);
    return rows[0]?.n === 0;
  }, 120_000).catch(() => problems.push('the webhook inbox did not drain'));

  // ─── checks ───
  const sends = sim.sends.slice(simBefore).filter((s) => names.includes(s.instance));
  const perNumber = new Map<string, number>();
  for (const s of sends) perNumber.set(s.number, (perNumber.get(s.number) ?? 0) + 1);
  const duplicated = [...perNumber].filter(([, n]) => n > 1);
  if (duplicated.length) problems.push(`${duplicated.length} phones got the campaign more than once (e.g. ${duplicated.slice(0, 3).map(([n, k]) => `${n}×${k}`).join(', ')})`);

  const { rows: recipients } = await db.query<{ id: string; phone: string; status: string; provider_message_id: string | null; error_code: string | null; evidence: unknown }>(
    `SELECT id, phone, status::text, provider_message_id, error_code, evidence FROM recipient WHERE campaign_id = $1`,
    [campaignId],
  );
  const byKey = new Map(sends.map((s) => [s.keyId, s]));
  let lost = 0;
  const notFinal = recipients.filter((r) => ['PENDING', 'QUEUED', 'SENDING'].includes(r.status));
  if (notFinal.length) problems.push(`${notFinal.length} recipients not in a final state`);
  lost += notFinal.length;
  let receiptsLost = 0;
  for (const r of recipients) {
    const s = r.provider_message_id ? byKey.get(r.provider_message_id) : undefined;
    if (!s) continue;
    const acked = Math.max(0, ...s.acked.map((a) => SIM_RANK[a] ?? 0));
    const errorAcked = s.acked.includes('ERROR');
    const have = STATUS_RANK[r.status] ?? 0;
    if (errorAcked ? r.status !== 'FAILED' && have < 2 : have < acked) receiptsLost++;
  }
  if (receiptsLost) problems.push(`${receiptsLost} recipients below the status their acknowledged receipts say`);
  lost += receiptsLost;
  const unknown = recipients.filter((r) => r.status === 'UNKNOWN');
  const noEvidence = unknown.filter((r) => !r.evidence);
  if (noEvidence.length) problems.push(`${noEvidence.length} UNKNOWN recipients without evidence`);
  const sentNoRecord = recipients.filter((r) => ['SENT', 'DELIVERED', 'READ'].includes(r.status) && !(r.provider_message_id && byKey.has(r.provider_message_id)));
  if (sentNoRecord.length) problems.push(`${sentNoRecord.length} recipients marked sent with no matching send in the simulator`);

  const { rows: check } = await db.query<{ counters: Record<string, number>; recount: Record<string, number> }>(COUNTERS_AND_RECOUNT, [campaignId]);
  if (JSON.stringify(check[0]?.counters) !== JSON.stringify(check[0]?.recount)) {
    problems.push(`counters ${JSON.stringify(check[0]?.counters)} differ from the recount ${JSON.stringify(check[0]?.recount)}`);
  }

  // Limits by the simulator's clock: at most PER_MINUTE sends of one instance in any 60 s.
  for (const name of names) {
    const times = sends.filter((s) => s.instance === name).map((s) => Date.parse(s.at)).sort((a, b) => a - b);
    let worst = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 60_000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    if (worst > PER_MINUTE) problems.push(`instance ${name} sent ${worst} in one 60 s window (limit ${PER_MINUTE})`);
  }

  const { rows: requeuedRows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM campaign_log WHERE campaign_id = $1 AND type = 'OUTCOME_RECONCILED' AND details->>'decision' = 'NOT_SENT'`,
    [campaignId],
  );
  const byStatus: Record<string, number> = {};
  for (const r of recipients) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  log(`${fault}: recipients ${JSON.stringify(byStatus)}; simulator sends ${sends.length}; total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const p of ctx.procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) problems.push(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode})`);
    // What each process said at warn level and above, by message: what the fault looked like from inside.
    const counts = new Map<string, number>();
    for (const line of p.output.split('\n')) {
      const m = line.match(/"level":(\d+).*"msg":"([^"]*)"/);
      if (m && Number(m[1]) >= 40) counts.set(m[2] as string, (counts.get(m[2] as string) ?? 0) + 1);
    }
    if (counts.size) log(`${fault}: ${p.name} warnings: ${[...counts].map(([m, n]) => `${n}× ${m}`).join('; ').slice(0, 1500)}`);
  }
  return {
    fault,
    lost,
    duplicated: duplicated.length,
    unknown: unknown.length,
    requeued: requeuedRows[0]?.n ?? 0,
    recoveryS,
    completeS,
    problems,
  };
}

main().catch((err) => {
  log(`failed: ${(err as Error).stack}`);
  process.exitCode = 1;
});
