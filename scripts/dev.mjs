#!/usr/bin/env node
// `npm run dev`: the whole product on this machine, from a fresh clone. Installs what is missing,
// makes sure PostgreSQL and Redis answer, creates and migrates the database, starts the Evolution
// simulator, the API server and the worker, then runs a demo campaign you can watch. Ctrl-C stops all.
//
// Stopping: SIGINT or SIGTERM to this process, or to the `npm run dev` process (npm forwards both to
// its child; the script is `exec node …`, so no shell stands in between to swallow them), stops the
// API server, then the worker, then the simulator, each once the previous one has exited, with their
// shutdown lines in .tmp/logs/. The three run in process groups of their own: a Ctrl-C in the terminal
// (SIGINT to the whole foreground group) reaches only this process, which stops them in that order.
//
// DEV_SERVICES_ONLY=1 skips creating .env, the install and generation checks, and the demo: the three
// services only (test/platform/dev.test.ts; dependencies are installed by then).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, die, ensureEnvFile, ensureServices, readEnvFile, root, run, say } from './bootstrap.mjs';

const servicesOnly = process.env.DEV_SERVICES_ONLY === '1';
if (!servicesOnly) ensureEnvFile();
const env = { ...readEnvFile(), ...process.env };
const databaseUrl = env.DATABASE_URL;
const redisUrl = env.REDIS_URL;
if (!databaseUrl || !redisUrl) die('DATABASE_URL and REDIS_URL must be set in .env');
if (servicesOnly) await ensureServices({ databaseUrl, redisUrl });
else await bootstrap({ databaseUrl, redisUrl });

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

// DEV_LOG_DIR: elsewhere than .tmp/logs (test/platform/dev.test.ts).
const logs = env.DEV_LOG_DIR ?? join(root, '.tmp', 'logs');
mkdirSync(logs, { recursive: true });
const children = [];
/**
 * Starts a service and keeps it running: a child that dies is started again (after 1 s, doubling up
 * to 30 s while it keeps dying within a minute of its start), with a line saying so, as a supervisor
 * would. Only Ctrl-C stops them.
 */
function start(name, file) {
  const out = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
  const entry = { name, child: null, delayMs: 1000, out };
  const launch = () => {
    const startedAt = Date.now();
    // detached: a process group of its own, so a terminal's Ctrl-C does not reach it before its turn.
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
let demo = null;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping the API server, the worker, then the simulator`);
  if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGTERM');
  for (const { name, child } of [...children].reverse()) {
    if (!child || child.exitCode !== null || child.signalCode !== null) continue;
    // 'close': exited, and its last output (the shutdown lines) read into its log.
    const closed = new Promise((resolve) => child.once('close', (code, sig) => resolve(code ?? sig)));
    child.kill('SIGTERM');
    say(`${name} stopped (${await closed})`);
  }
  await Promise.all(children.map(({ out }) => new Promise((resolve) => out.end(resolve))));
  process.exit(0);
}
// SIGHUP: the terminal closed (the services, in their own groups, would not hear it).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));
// A dev.mjs that dies some other way (an error here, SIGKILL aside) takes the services with it.
process.on('exit', () => {
  for (const { child } of children) if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

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
  if (stopping) await new Promise(() => undefined); // stop() exits
  if (i > 120) die('the API server or the simulator did not start; see .tmp/logs/');
  await new Promise((r) => setTimeout(r, 500));
}
if (servicesOnly) {
  say(`ready: API ${apiUrl}, simulator ${simUrl}`);
} else {
  startDemo();
}

function startDemo() {
  demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...env, DEMO_API_URL: apiUrl, DEMO_SIM_URL: simUrl, DEMO_SIM_API_KEY: env.SIM_API_KEY ?? 'sim-global-api-key' },
  });
  demo.on('exit', (code) => {
    if (stopping) return;
    if (code !== 0) say(`the demo script failed (exit ${code}); the services keep running`);
    say('everything keeps running: open GraphiQL, or press Ctrl-C to stop');
  });
}
