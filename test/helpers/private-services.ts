import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { ephemeralLow } from './ports.js';

/**
 * A PostgreSQL cluster and a Redis server of our own, on free local ports, for fault tests: they are
 * stopped and restarted at will, which the machine's shared services never may be. Both live in a
 * temporary directory removed by `stop()`.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port below the ephemeral range (no outgoing connection can take it meanwhile). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow() - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error('no free port');
}

function postgresBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config on PATH
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  }
  throw new Error('PostgreSQL server binaries (initdb, postgres) not found: set PG_BIN_DIR');
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user. */
function runAs(): { uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

export interface PrivatePostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** Fast shutdown (sessions are terminated with 57P01, as in a maintenance restart), then start again after `downMs`. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server (fast shutdown) and leaves it down. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const owner = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'wc-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    stdio: 'pipe',
    ...(owner ?? {}),
  });
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';

  const url = (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`;

  async function up() {
    const c = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) },
    );
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child = c;
    const { default: pg } = await import('pg');
    for (let i = 0; ; i++) {
      if (c.exitCode !== null) throw new Error(`postgres exited (${c.exitCode}):\n${output}`);
      const client = new pg.Client({ connectionString: url() });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
        if (i > 200) throw new Error(`postgres did not start:\n${output}`);
        await sleep(100);
      }
    }
  }

  async function down() {
    const c = child;
    child = null;
    if (!c) return;
    c.kill('SIGINT'); // fast shutdown
    await waitExit(c);
  }

  await up();
  return serviceHandle(port, url, dir, up, down);
}

export interface PrivateRedis {
  port: number;
  url: string;
  /**
   * Stops Redis and starts it again after `downMs`. Without persistence every key is gone afterwards,
   * as on a managed Redis that fails over to an empty replica; with `appendonly`, what the AOF holds
   * comes back.
   */
  restart(downMs?: number): Promise<void>;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(opts: { appendonly?: boolean } = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wc-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;

  async function up() {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', ''];
    args.push('--appendonly', opts.appendonly ? 'yes' : 'no');
    if (opts.appendonly) args.push('--appendfsync', 'everysec');
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    const { Redis } = await import('ioredis');
    for (let i = 0; ; i++) {
      if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode})`);
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        await r.connect();
        // With an AOF, Redis answers LOADING until the file is read.
        if ((await r.ping()) === 'PONG') {
          r.disconnect();
          return;
        }
      } catch {
        // not yet
      }
      r.disconnect();
      if (i > 200) throw new Error('redis-server did not start');
      await sleep(50);
    }
  }

  async function down() {
    const c = child;
    child = null;
    if (!c) return;
    // SIGTERM: Redis flushes its AOF (when on) and exits; nothing is saved without it (--save "").
    c.kill('SIGTERM');
    await waitExit(c);
  }

  await up();
  return serviceHandle(port, url, dir, up, down);
}

/** A started server: restartable (down, then up on the same port and data directory), stopped for good with its data removed. */
function serviceHandle<U>(port: number, url: U, dir: string, up: () => Promise<void>, down: () => Promise<void>) {
  return {
    port,
    url,
    up,
    down,
    async restart(downMs = 0) {
      await down();
      if (downMs > 0) await sleep(downMs);
      await up();
    },
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
