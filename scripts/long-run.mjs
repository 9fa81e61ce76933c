#!/usr/bin/env node
// Runs one long run or benchmark (`npm run bench:*`, `test:crash`, `export:1m`) from a fresh clone:
// the same set-up as `npm test` (dependencies, generated Prisma client, PostgreSQL and Redis), then
// the script itself under tsx. Usage: node scripts/long-run.mjs bench/api-list.ts
import { spawn } from 'node:child_process';
import { bootstrap, die } from './bootstrap.mjs';

const [file, ...args] = process.argv.slice(2);
if (!file) die('usage: node scripts/long-run.mjs <script.ts> [args…]');

await bootstrap({
  databaseUrl: process.env.BENCH_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
});
const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
// Ctrl-C or a kill reaches the script, which cleans up (its scratch database, Redis keys, processes).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
