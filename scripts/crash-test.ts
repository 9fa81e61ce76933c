/**
 * `npm run test:crash`: a 10,000-recipient campaign sent by two worker processes that are each
 * killed with SIGKILL several times at random moments and restarted. At the end every recipient must
 * be accounted for (sent, failed or unknown), the simulator's record must show no phone that received
 * the campaign twice, and the campaign's counters must equal a recount. Prints the number of unknown
 * outcomes. Uses its own database and Redis prefix (removed at the end) and the Evolution simulator.
 *
 * Options (environment): CRASH_RECIPIENTS (10000), CRASH_KILLS (4 per worker), CRASH_SEED.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { drawPortBase, workerPort } from '../test/helpers/ports.js';
import { COUNTERS_AND_RECOUNT, type Proc, sleep, startProcess, waitFor } from './lib/long-run.js';

const RECIPIENTS = Number(process.env.CRASH_RECIPIENTS ?? 10_000);
const KILLS_PER_WORKER = Number(process.env.CRASH_KILLS ?? 4);
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const database = `wc_crash_${runId}`;
const prefix = `wcc_${runId}`;
let seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const log = (msg: string) => process.stdout.write(`[crash-test ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function dbUrl(db: string) {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(sql);
  await c.end();
}

async function main() {
  await admin(`CREATE DATABASE "${database}"`);
  const cleanups: Array<() => Promise<unknown>> = [() => admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)];
  const procs: Proc[] = [];
  try {
    const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], {
      env: { ...process.env, DATABASE_URL: dbUrl(database) },
      encoding: 'utf8',
    });
    if (migrate.status !== 0) throw new Error(`migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`);

    // Below the ephemeral range, where no outgoing connection can take it before the server listens.
    const port = await workerPort(drawPortBase(), 0);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: dbUrl(database),
      DATABASE_POOL_SIZE: '10',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      EVOLUTION_TIMEOUT_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    Object.assign(process.env, env);
    cleanups.push(async () => {
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
      await redis.quit();
    });

    // The product's modules read the environment when first imported.
    const { prisma } = await import('../src/infra/db/client.js');
    const { createTenant } = await import('../src/features/auth/api-keys.js');
    const { registerEvolutionServer, registerInstance } = await import('../src/features/senders/service.js');
    const { createCampaign } = await import('../src/features/campaigns/service.js');
    const { startCampaign } = await import('../src/features/campaigns/lifecycle.js');
    const { startSimulator } = await import('../tools/evolution-simulator/server.js');
    const { closeQueues } = await import('../src/infra/queues/index.js');
    const { closePubsub } = await import('../src/infra/realtime/pubsub.js');
    cleanups.unshift(async () => {
      await closeQueues();
      await closePubsub();
      await prisma.$disconnect();
    });

    const simKey = 'crash-sim-key';
    const sim = await startSimulator({ apiKey: simKey, seed: 99, latencyMs: 15, ackDelayMs: 50, deliveryDelayMs: 200, readDelayMs: 400, noReadRate: 0.5 });
    cleanups.unshift(() => sim.close());

    const api = startProcess('api', 'src/main.ts', env);
    procs.push(api);
    await waitFor(async () => (await fetch(`${env.PUBLIC_URL}/health`).catch(() => null))?.ok, 60_000, 500);

    const { tenant } = await createTenant({ name: 'Crash test' });
    const server = await registerEvolutionServer(tenant.id, { name: 'sim', baseUrl: sim.url, apiKey: simKey });
    const instanceIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const name = `crash-${i}`;
      const inst = await registerInstance(tenant.id, { serverId: server.id, name, limitPerMinute: 1000, limitPerHour: 60_000, limitPerDay: 1_000_000, minDelayMs: 0, maxDelayMs: 0 });
      await prisma.whatsAppInstance.update({ where: { id: inst.id }, data: { limitPerMinute: 100_000, limitPerHour: 1_000_000 } });
      sim.createInstance(name, {
        number: `5511900000${i}`,
        state: 'open',
        webhook: { url: `${env.PUBLIC_URL}/webhooks/evolution/${inst.webhookSecret}`, events: ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'CONNECTION_UPDATE'] },
      });
      instanceIds.push(inst.id);
    }
    await prisma.$executeRaw`
      INSERT INTO contact (tenant_id, phone, name, updated_at)
      SELECT ${tenant.id}::uuid, '+55119' || lpad(g::text, 8, '0'), 'Contato ' || g, now() FROM generate_series(1, ${RECIPIENTS}) g`;
    const campaign = await createCampaign(
      tenant.id,
      { name: 'Crash', messages: [{ text: '{{saudacao}}, {{primeiro_nome}}!' }, { text: 'Oi {{primeiro_nome}}' }], audience: { all: true }, instanceIds, rotationMode: 'ROUND_ROBIN' },
      'crash-test',
    );

    const workerEnv = { ...env, LOG_LEVEL: 'info' };
    const workers = [0, 1].map((i) => startProcess(`worker-${i}`, 'src/workers/main.ts', workerEnv));
    procs.push(...workers);
    await waitFor(() => workers.every((w) => w.output.includes('workers started')), 60_000);
    const started = Date.now();
    await startCampaign(tenant.id, campaign.id, 'crash-test');
    log(`campaign started: ${RECIPIENTS} recipients, 2 workers, 4 instances`);

    // Chaos: each worker is killed KILLS_PER_WORKER times at random moments, and restarted.
    const kills = [0, 0];
    const chaos = [0, 1].map(async (i) => {
      while (kills[i]! < KILLS_PER_WORKER) {
        // Spread over the run: the first kill a few seconds in, then every 5–25 s.
        await sleep(kills[i] === 0 ? 2000 + random() * 6000 : 5000 + random() * 20_000);
        const status = await prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id }, select: { status: true, remainingCount: true } });
        if (status.status !== 'RUNNING' || status.remainingCount < RECIPIENTS * 0.05) break;
        const w = workers[i] as Proc;
        w.child.kill('SIGKILL');
        await w.exited;
        kills[i]!++;
        log(`worker-${i} killed (${kills[i]}/${KILLS_PER_WORKER}), ${status.remainingCount} recipients left`);
        await sleep(300 + random() * 1500);
        const again = startProcess(`worker-${i}`, 'src/workers/main.ts', workerEnv);
        workers[i] = again;
        procs.push(again);
      }
    });
    await Promise.all(chaos);

    const done = await waitFor(async () => {
      const c = await prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } });
      return c.status === 'COMPLETED' ? c : null;
    }, 15 * 60_000, 1000);
    log(`campaign completed in ${Math.round((Date.now() - started) / 1000)} s (worker kills: ${kills.join(' + ')})`);
    // Let the receipts land: the simulator has nothing left to post and the webhook queue is empty.
    await sim.drain(120_000);
    await waitFor(async () => {
      const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM webhook_inbox WHERE failed_at IS NULL`;
      return row?.n === 0;
    }, 120_000, 500);

    // ─── checks ───
    const problems: string[] = [];
    const byStatus = await prisma.$queryRaw<Array<{ status: string; n: number }>>`
      SELECT status::text, count(*)::int AS n FROM recipient WHERE campaign_id = ${campaign.id}::uuid GROUP BY 1 ORDER BY 1`;
    const statuses = Object.fromEntries(byStatus.map((r) => [r.status, r.n]));
    const total = byStatus.reduce((a, r) => a + r.n, 0);
    if (total !== RECIPIENTS) problems.push(`${total} recipients instead of ${RECIPIENTS}`);
    for (const s of ['PENDING', 'QUEUED', 'SENDING']) if (statuses[s]) problems.push(`${statuses[s]} recipients still ${s}`);

    const perNumber = new Map<string, number>();
    for (const s of sim.sends) perNumber.set(s.number, (perNumber.get(s.number) ?? 0) + 1);
    const twice = [...perNumber].filter(([, n]) => n > 1);
    if (twice.length) problems.push(`${twice.length} phones received the campaign more than once (e.g. ${twice.slice(0, 3).map(([n, k]) => `${n}×${k}`).join(', ')})`);

    const recipients = await prisma.recipient.findMany({ where: { campaignId: campaign.id }, select: { phone: true, status: true, providerMessageId: true } });
    const simKeys = new Set(sim.sends.map((s) => s.keyId));
    const simNumbers = new Set(sim.sends.map((s) => s.number));
    let sentWithoutRecord = 0;
    let unknownThatLeft = 0;
    let failedThatLeft = 0;
    for (const r of recipients) {
      const digits = r.phone.replace(/\D/g, '');
      if (['SENT', 'DELIVERED', 'READ'].includes(r.status) && !(r.providerMessageId && simKeys.has(r.providerMessageId))) sentWithoutRecord++;
      if (r.status === 'UNKNOWN' && simNumbers.has(digits)) unknownThatLeft++;
      if (r.status === 'FAILED' && simNumbers.has(digits)) failedThatLeft++;
    }
    if (sentWithoutRecord) problems.push(`${sentWithoutRecord} recipients marked sent have no matching send in the simulator`);
    const neverSent = recipients.filter((r) => !simNumbers.has(r.phone.replace(/\D/g, '')) && ['SENT', 'DELIVERED', 'READ'].includes(r.status)).length;
    if (neverSent) problems.push(`${neverSent} recipients marked sent never reached the simulator`);

    const [check] = await prisma.$queryRawUnsafe<Array<{ counters: Record<string, number>; recount: Record<string, number> }>>(COUNTERS_AND_RECOUNT, campaign.id);
    if (JSON.stringify(check?.counters) !== JSON.stringify(check?.recount)) problems.push(`counters ${JSON.stringify(check?.counters)} != recount ${JSON.stringify(check?.recount)}`);

    log(`recipients by status: ${JSON.stringify(statuses)}`);
    log(`simulator: ${sim.sends.length} sends to ${perNumber.size} distinct phones; phones with more than one: ${twice.length}`);
    log(`counters: ${JSON.stringify(check?.counters)}`);
    log(`recount:  ${JSON.stringify(check?.recount)}`);
    // Counted at the end: an unknown outcome that Evolution's send.message proves left is SENT by then.
    const unknownAtEnd = statuses.UNKNOWN ?? 0;
    const reconciled = done.unknownCount - unknownAtEnd;
    log(
      `unknown outcomes: ${unknownAtEnd} (of which ${unknownThatLeft} did reach the simulator, ${unknownAtEnd - unknownThatLeft} did not)` +
        (reconciled > 0 ? `; ${done.unknownCount} when the campaign completed, ${reconciled} of them reconciled to SENT by send.message since` : '') +
        `; failed that reached it: ${failedThatLeft}`,
    );
    if (problems.length) {
      for (const p of problems) log(`PROBLEM: ${p}`);
      process.exitCode = 1;
    } else {
      log('OK: every recipient accounted for, no phone received the campaign twice, counters equal the recount');
    }
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => Promise.race([p.exited, sleep(10_000)])));
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    for (const c of cleanups) await c().catch((err) => log(`cleanup: ${(err as Error).message}`));
  }
}

main().catch((err) => {
  log(`failed: ${(err as Error).stack}`);
  process.exitCode = 1;
});
