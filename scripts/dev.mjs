#!/usr/bin/env node
// `npm run dev`: the whole product on this machine, from a fresh clone. Installs what is missing,
// makes sure PostgreSQL and Redis answer, creates and migrates the database, starts the Evolution
// simulator, the API server and the worker, then runs a demo campaign you can watch. Ctrl-C stops all.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, die, ensureEnvFile, readEnvFile, root, run, say } from './bootstrap.mjs';

ensureEnvFile();
const env = { ...readEnvFile(), ...process.env };
const databaseUrl = env.DATABASE_URL;
const redisUrl = env.REDIS_URL;
if (!databaseUrl || !redisUrl) die('DATABASE_URL and REDIS_URL must be set in .env');
await bootstrap({ databaseUrl, redisUrl });

// The database itself, when the server has none of that name yet.
{
  const { default: pg } = await import('pg');
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (!rowCount) {
    say(`creating database ${name}`);
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  }
  await client.end();
}
say('applying migrations');
run(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], { quiet: true, env });

const logs = join(root, '.tmp', 'logs');
mkdirSync(logs, { recursive: true });
const children = [];
/**
 * Starts a service and keeps it running: a child that dies is started again (after 1 s, doubling up
 * to 30 s while it keeps dying within a minute of its start), with a line saying so, as a supervisor
 * would. Only Ctrl-C stops them.
 */
function start(name, file) {
  const out = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
  const entry = { name, child: null, delayMs: 1000 };
  const launch = () => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt > 60_000) entry.delayMs = 1000;
      say(`${name} exited (${code ?? signal}); starting it again in ${entry.delayMs / 1000} s (see .tmp/logs/${name}.log)`);
      setTimeout(() => {
        if (!stopping) launch();
      }, entry.delayMs);
      entry.delayMs = Math.min(30_000, entry.delayMs * 2);
    });
    entry.child = child;
  };
  launch();
  children.push(entry);
  return entry;
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  say('stopping (API server, worker, simulator)');
  for (const { child } of [...children].reverse()) {
    if (!child || child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

say(`starting the Evolution simulator, the API server and the worker (logs in .tmp/logs/)`);
start('simulator', 'tools/evolution-simulator/main.ts');
start('worker', 'src/workers/main.ts');
start('api', 'src/main.ts');

const apiUrl = `http://127.0.0.1:${env.PORT ?? 4000}`;
const simUrl = `http://${env.SIM_HOST ?? '127.0.0.1'}:${env.SIM_PORT ?? 8080}`;
for (let i = 0; ; i++) {
  const ok = await Promise.all([
    fetch(`${apiUrl}/ready`).then((r) => r.ok, () => false),
    fetch(`${simUrl}/`).then((r) => r.ok, () => false),
  ]);
  if (ok.every(Boolean)) break;
  if (i > 120) die('the API server or the simulator did not start; see .tmp/logs/');
  await new Promise((r) => setTimeout(r, 500));
}

const demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...env, DEMO_API_URL: apiUrl, DEMO_SIM_URL: simUrl, DEMO_SIM_API_KEY: env.SIM_API_KEY ?? 'sim-global-api-key' },
});
demo.on('exit', (code) => {
  if (code !== 0) say(`the demo script failed (exit ${code}); the services keep running`);
  say('everything keeps running: open GraphiQL, or press Ctrl-C to stop');
});
