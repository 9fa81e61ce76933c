// The production path, as the Dockerfile runs it: the build (tsc to dist/), production dependencies
// only (`npm ci --omit=dev`) in a folder outside the repository, the compiled migration runner on an
// empty database, then the compiled API server and worker against it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { workerPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/stack.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

describe('the production build', () => {
  let dir: string;
  let databaseUrl: string;
  let database: string;
  let env: NodeJS.ProcessEnv;
  const started: ChildProcess[] = [];

  function admin() {
    return new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  }

  /** A compiled entry point, run from the production folder with production dependencies only. */
  function start(file: string, extraEnv: Record<string, string> = {}): Started {
    const child = spawn(process.execPath, [file], { cwd: dir, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => output, exited };
  }

  beforeAll(async () => {
    // `npm run build` is the Prisma client (already generated for the tests) and this; incremental, so
    // a build that is up to date costs seconds (its record lives in dist/: no dist, a full build).
    // The install into a folder outside the repository (nothing can be resolved from the repo's
    // node_modules there) runs meanwhile: one is CPU, the other mostly disk.
    dir = mkdtempSync(join(tmpdir(), 'wc-prod-'));
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    cpSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    await Promise.all([
      run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root }),
      run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: dir,
        env: { ...process.env, NODE_ENV: 'production' },
      }),
    ]);
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
    cpSync(join(root, 'prisma', 'migrations'), join(dir, 'prisma', 'migrations'), { recursive: true });

    // An empty database (named after the run's template, so the run's teardown removes it if we cannot).
    database = `${inject('templateDatabase')}_prod_${randomBytes(3).toString('hex')}`;
    const a = admin();
    await a.connect();
    await a.query(`CREATE DATABASE "${database}"`);
    await a.end();
    const u = new URL(inject('databaseUrl'));
    u.pathname = `/${database}`;
    databaseUrl = u.toString();

    // This file's environment (its Redis prefix included), as production sets it.
    const { NODE_OPTIONS: _ignored, ...rest } = process.env;
    env = { ...rest, NODE_ENV: 'production', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '4' };
  }, 240_000);

  afterAll(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (database) {
      const a = admin();
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await a.end();
    }
  });

  it('installs without devDependencies', () => {
    expect(existsSync(join(dir, 'node_modules', 'pg'))).toBe(true);
    for (const dev of ['tsx', 'vitest', '@graphql-codegen/cli', 'autocannon', 'pino-pretty']) {
      expect(existsSync(join(dir, 'node_modules', dev)), dev).toBe(false);
    }
  });

  it('migrates an empty database with the compiled runner, as Prisma Migrate records it', async () => {
    const first = await run(process.execPath, ['dist/scripts/migrate.js'], { cwd: dir, env });
    expect(first.stdout).toMatch(/applied \d+ migration\(s\); 0 were already applied/);
    const again = await run(process.execPath, ['dist/scripts/migrate.js'], { cwd: dir, env });
    expect(again.stdout).toMatch(/the database is up to date/);

    // The same records (names and checksums) as `prisma migrate deploy` left in the run's template.
    const records = async (url: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const { rows } = await c.query('SELECT migration_name, checksum, applied_steps_count FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name');
      await c.end();
      return rows;
    };
    const ours = await records(databaseUrl);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours).toEqual(await records(inject('databaseUrl')));
  });

  it('runs the API server and the worker from dist: /health, /ready, /metrics, and the worker reported alive', async () => {
    const port = await workerPort(inject('portBase'), 3);
    const metricsPort = await workerPort(inject('portBase'), 4);
    const url = `http://127.0.0.1:${port}`;
    const api = start('dist/src/main.js', { PORT: String(port), PUBLIC_URL: url });
    const worker = start('dist/src/workers/main.js', { WORKER_METRICS_PORT: String(metricsPort) });

    await waitFor(async () => api.output().includes('API server listening') || api.child.exitCode !== null, 30_000);
    expect(api.child.exitCode, api.output()).toBeNull();
    const health = await fetch(`${url}/health`);
    expect(health.status, api.output()).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status, api.output()).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });

    // The worker's heartbeat reaches the API server through the database and Redis.
    let last = '';
    const report = await waitFor(async () => {
      const res = await fetch(`${url}/health/workers`);
      last = `${res.status} ${await res.clone().text()}`;
      if (res.status !== 200) return null;
      return (await res.json()) as { workers: Array<{ pid: number; queues: string[] }> };
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; last /health/workers: ${last}\nworker:\n${worker.output()}`);
    });
    expect(report.workers, last).toEqual([expect.objectContaining({ pid: worker.child.pid, queues: expect.arrayContaining(['sends', 'webhooks']) })]);
    const readyAgain = await (await fetch(`${url}/ready`)).text();
    expect(JSON.parse(readyAgain), readyAgain).toMatchObject({ workers: 1 });

    // Prometheus' text format from both processes (prom-client ships as a production dependency).
    for (const target of [`${url}/metrics`, `http://127.0.0.1:${metricsPort}/metrics`]) {
      const res = await fetch(target);
      const text = await res.text();
      expect(res.status, `${target}: ${text.slice(0, 300)}`).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(text).toMatch(/^# HELP process_cpu_user_seconds_total /m);
    }

    worker.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    expect(await api.exited, api.output()).toBe(0);
    expect(worker.output()).toContain('workers stopped');
    expect(api.output()).toContain('API server stopped');
  });
});
