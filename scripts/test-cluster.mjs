#!/usr/bin/env node
// `npm run test:cluster`: the tests of everything that touches several Redis keys at once (limiter,
// pace gate and go marks, campaign caps, phone locks, fair share, BullMQ) and of pub/sub, run on a
// Redis Cluster of three masters started here from this machine's redis-server (cluster mode, free
// 127.0.0.1 ports, a temporary directory), and removed afterwards. Every connection of the app is
// then an ioredis Cluster (REDIS_CLUSTER_NODES); a CROSSSLOT error anywhere fails a test.
// Extra arguments go to vitest in place of the default files (e.g. `npm run test:cluster -- test/dispatch/limiter.test.ts`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { die, ensureServices, root, say } from './bootstrap.mjs';

const FILES = [
  'test/dispatch/limiter.test.ts',
  'test/dispatch/limiter-wipe.test.ts',
  'test/dispatch/pace.test.ts',
  'test/dispatch/phone-lock.test.ts',
  'test/dispatch/campaign-caps.test.ts',
  'test/dispatch/send-time-limit.test.ts',
  'test/dispatch/fair-share.test.ts',
  'test/dispatch/follow-ups.test.ts',
  'test/dispatch/processes.test.ts',
  'test/realtime/subscriptions.test.ts',
  'test/realtime/shared-subscriptions.test.ts',
  'test/realtime/topics.test.ts',
  'test/realtime/multi-process.test.ts',
  'test/api/response-cache.test.ts',
  'test/webhooks/inbox.test.ts',
  'test/platform/processes.test.ts',
  'test/platform/workers-health.test.ts',
  'test/platform/redis-cluster.test.ts',
];
const MASTERS = 3;

const databaseUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const args = process.argv.slice(2);

for (const bin of ['redis-server', 'redis-cli']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) die(`${bin} is needed to start a local Redis Cluster (apt-get install redis-server).`);
}

/** Whether `port` can be listened on at 127.0.0.1 now. */
function free(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `n` ports, each free with its cluster bus port (+10000) free too. */
async function freePorts(n) {
  const ports = [];
  for (let tries = 0; ports.length < n && tries < 500; tries++) {
    const port = 21000 + Math.floor(Math.random() * 20000);
    if (ports.includes(port) || ports.includes(port + 10000) || ports.includes(port - 10000)) continue;
    if ((await free(port)) && (await free(port + 10000))) ports.push(port);
  }
  if (ports.length < n) die('no free ports for the Redis Cluster');
  return ports;
}

const cli = (port, ...a) => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...a], { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, seconds) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const dir = mkdtempSync(join(tmpdir(), 'wc-redis-cluster-'));
const ports = await freePorts(MASTERS);
const servers = [];
let cleaned = false;

const running = (s) => s.exitCode === null && s.signalCode === null;

/** Stops the servers started here (each by its own pid) and removes their directory. */
function teardown() {
  if (cleaned) return;
  cleaned = true;
  for (const s of servers) if (running(s)) s.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

/** The same, waiting (up to 10 s) for the servers to exit before their directory goes. */
async function stopServers() {
  const exited = servers.filter(running).map((s) => new Promise((r) => s.once('exit', r)));
  for (const s of servers) if (running(s)) s.kill('SIGTERM');
  await Promise.race([Promise.all(exited), sleep(10_000)]);
  teardown();
}
process.on('exit', teardown);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    teardown();
    process.exit(130);
  });
}

let status = 1;
try {
  say(`starting a Redis Cluster of ${MASTERS} masters on 127.0.0.1:${ports.join(', ')} (in ${dir})`);
  for (const port of ports) {
    const server = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '5000',
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--logfile', join(dir, `redis-${port}.log`),
      ],
      { stdio: 'ignore' },
    );
    servers.push(server);
  }
  for (const port of ports) await until(`redis-server on ${port}`, () => cli(port, 'PING').stdout.trim() === 'PONG', 15);
  const create = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8' },
  );
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
  for (const port of ports) await until(`cluster_state:ok on ${port}`, () => /cluster_state:ok/.test(cli(port, 'CLUSTER', 'INFO').stdout), 30);

  const redisUrl = `redis://127.0.0.1:${ports[0]}`;
  // PostgreSQL must answer; dependencies and generated code are `npm test`'s (run it first).
  await ensureServices({ databaseUrl, redisUrl });
  say(`running the tests on the cluster (vitest, ${args.length ? args.join(' ') : `${FILES.length} files`})`);
  const vitest = spawnSync(join(root, 'node_modules', '.bin', 'vitest'), ['run', ...(args.length ? args : FILES)], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEST_DATABASE_ADMIN_URL: databaseUrl,
      TEST_REDIS_URL: redisUrl,
      TEST_REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(','),
    },
  });
  status = vitest.status ?? 1;
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  status = 1;
} finally {
  await stopServers();
}
process.exit(status);
