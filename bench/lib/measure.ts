import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';

export const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Starts a TypeScript file in its own Node process and resolves with the first JSON line it prints. */
/**
 * Starts a benchmark's server process; it prints one JSON line when ready. With BENCH_CPU_PROF=<dir>
 * each child writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
 */
export async function startChild<T>(file: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; info: T }> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const info = await new Promise<T>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
  });
  return { child, info };
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

export interface HttpLoad {
  requestsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Closed-loop load (N connections, as fast as the server answers) for `seconds`. */
export async function httpLoad(opts: { url: string; connections?: number; seconds?: number; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }): Promise<HttpLoad> {
  const r = await autocannon({
    url: opts.url,
    connections: opts.connections ?? 50,
    duration: opts.seconds ?? 10,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
  });
  return { requestsPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

/** A bare node:http 200 handler's req/s, server in its own process. */
export async function bareHttpRps(seconds = 10, connections = 50): Promise<HttpLoad> {
  const { child, info } = await startChild<{ port: number }>('bench/lib/bare-http-server.ts');
  try {
    await httpLoad({ url: `http://127.0.0.1:${info.port}/`, seconds: 2, connections }); // warm-up
    return await httpLoad({ url: `http://127.0.0.1:${info.port}/`, seconds, connections });
  } finally {
    await stopChild(child);
  }
}

/** Redis SETs per second: `clients` connections each issuing SETs one after another (no pipelining). */
export async function redisSetOps(total = 100_000, clients = 32): Promise<number> {
  const conns = Array.from({ length: clients }, () => new Redis(REDIS_URL));
  const prefix = `bench:${randomBytes(4).toString('hex')}`;
  try {
    await Promise.all(conns.map((c) => c.ping()));
    const per = Math.ceil(total / clients);
    const started = performance.now();
    await Promise.all(
      conns.map(async (c, k) => {
        for (let i = 0; i < per; i++) await c.set(`${prefix}:${k}:${i}`, 'x', 'EX', 60);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return (per * clients) / seconds;
  } finally {
    await Promise.all(conns.map((c) => c.quit()));
  }
}

/** A scratch database for a benchmark, dropped by the returned cleanup. */
export async function scratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `wc_bench_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(ADMIN_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Single-row INSERTs per second (autocommit), from `clients` connections. */
export async function pgInsertRows(total = 20_000, clients = 8): Promise<number> {
  const db = await scratchDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: clients });
  pool.on('error', () => undefined); // connections ended by DROP DATABASE … WITH (FORCE)
  try {
    await pool.query('CREATE TABLE bench_row (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');
    const per = Math.ceil(total / clients);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        const c = await pool.connect();
        try {
          for (let i = 0; i < per; i++) await c.query('INSERT INTO bench_row (tenant_id, payload) VALUES (gen_random_uuid(), $1)', [`row ${i}`]);
        } finally {
          c.release();
        }
      }),
    );
    return (per * clients) / ((performance.now() - started) / 1000);
  } finally {
    await pool.end();
    await db.drop();
  }
}

export function table(rows: Array<[string, string, string]>) {
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ')}\n`);
}

/**
 * The whole machine's busy CPU time so far, in core-milliseconds (every process: ours, PostgreSQL,
 * Redis), from /proc/stat; the difference over a run is what that run cost the machine. Null off Linux.
 */
export function machineBusyMs(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const cpu = text.split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  const hz = 100; // USER_HZ on Linux
  return ((user + nice + system + irq + softirq + steal) * 1000) / hz;
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * One process's CPU time so far (user + system), in ms, from /proc/<pid>/stat (utime and stime, in
 * USER_HZ ticks); null off Linux or once the process is gone.
 */
export function processCpuMs(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / 100; // USER_HZ on Linux
}

/** One process's resident set size in bytes (VmRSS of /proc/<pid>/status); null off Linux or once it is gone. */
export function processRssBytes(pid: number): number | null {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
