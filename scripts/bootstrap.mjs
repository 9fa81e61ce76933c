// Set-up shared by `npm run dev` and `npm test`, in plain Node (it runs before dependencies exist):
// Node version, dependencies, generated code, and reachable PostgreSQL and Redis.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function say(line) {
  process.stdout.write(`\x1b[36m▸\x1b[0m ${line}\n`);
}

export function die(message) {
  process.stderr.write(`\n\x1b[31m✖ ${message}\x1b[0m\n`);
  process.exit(1);
}

/** Runs a command; `quiet` keeps its output unless it fails. */
export function run(cmd, args, { quiet = false, ...opts } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    if (quiet) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    die(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`);
  }
  return r;
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 12)) die(`Node.js 20.12 or later is required (found ${process.versions.node}).`);
}

/**
 * Installs dependencies when node_modules is missing or was installed from another lockfile.
 * `npm install` rather than `npm ci`: the lockfile cannot list msgpackr's optional builds for other
 * platforms when the registry in use lacks them, and `npm ci` refuses such a lockfile (see
 * docs/decisions.md). With a lockfile in sync, `npm install` installs exactly what it lists.
 */
function ensureDependencies() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex');
  const marker = join(root, 'node_modules', '.installed-lock-hash');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === hash) return;
  say('installing dependencies (npm install from package-lock.json)');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(marker, hash);
}

/** Prisma client and Pothos types, regenerated when the Prisma schema changed. */
function ensureGenerated() {
  const schema = join(root, 'prisma', 'schema.prisma');
  const out = join(root, 'src', 'generated', 'pothos-types.ts');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(schema).mtimeMs) return;
  say('generating the Prisma client');
  run(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'generate'], { quiet: true });
}

/** .env from .env.example, with a fresh encryption key, when there is none. */
export function ensureEnvFile() {
  const env = join(root, '.env');
  if (existsSync(env)) return;
  const example = readFileSync(join(root, '.env.example'), 'utf8');
  writeFileSync(env, example.replace(/^ENCRYPTION_KEY=.*$/m, `ENCRYPTION_KEY=${randomBytes(32).toString('base64')}`));
  say('created .env from .env.example (with a new ENCRYPTION_KEY)');
}

export function readEnvFile() {
  const env = join(root, '.env');
  return existsSync(env) ? parseEnv(readFileSync(env, 'utf8')) : {};
}

function reachable(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const isLocal = (host) => ['127.0.0.1', 'localhost', '::1'].includes(host);
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;

async function waitReachable(host, port, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await reachable(host, port)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * PostgreSQL and Redis must answer. Local ones that are installed but stopped are started (the same
 * commands this machine's services use); otherwise say exactly what to do.
 */
export async function ensureServices({ databaseUrl, redisUrl }) {
  const pg = new URL(databaseUrl);
  const pgHost = pg.hostname || '127.0.0.1';
  const pgPort = Number(pg.port || 5432);
  if (!(await reachable(pgHost, pgPort))) {
    if (isLocal(pgHost) && which('pg_ctlcluster') && existsSync('/etc/postgresql')) {
      say('starting the local PostgreSQL');
      const version = spawnSync('ls', ['/etc/postgresql'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
      spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
    }
    if (!(await waitReachable(pgHost, pgPort, 20))) {
      die(
        `PostgreSQL is not reachable at ${pgHost}:${pgPort}.\n` +
          '  With Docker:  docker compose up -d postgres redis\n' +
          '  On Debian:    sudo apt-get install postgresql && sudo pg_ctlcluster 15 main start\n' +
          '  Or point DATABASE_URL (in .env) at a running server.',
      );
    }
  }
  const redis = new URL(redisUrl);
  const redisHost = redis.hostname || '127.0.0.1';
  const redisPort = Number(redis.port || 6379);
  if (!(await reachable(redisHost, redisPort))) {
    if (isLocal(redisHost) && which('redis-server')) {
      say('starting the local Redis');
      spawnSync(
        'redis-server',
        ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'],
        { stdio: 'inherit' },
      );
    }
    if (!(await waitReachable(redisHost, redisPort, 10))) {
      die(
        `Redis is not reachable at ${redisHost}:${redisPort}.\n` +
          '  With Docker:  docker compose up -d postgres redis\n' +
          '  On Debian:    sudo apt-get install redis-server && redis-server --daemonize yes\n' +
          '  Or point REDIS_URL (in .env) at a running server.',
      );
    }
  }
}

export async function bootstrap({ databaseUrl, redisUrl }) {
  checkNode();
  ensureDependencies();
  ensureGenerated();
  await ensureServices({ databaseUrl, redisUrl });
}
