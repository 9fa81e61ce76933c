/**
 * `npm run test:pause-load`: the three-process pause test of test/dispatch/processes.test.ts, ten times
 * in a row (PAUSE_LOAD_RUNS), each with two extra processes keeping both cores busy. Every run must
 * be green: pauseCampaign returns only once no send of the campaign can still reach Evolution (or
 * reports the ones still in a call), and resume completes the campaign with no duplicate.
 */
import { spawn } from 'node:child_process';

const runs = Number(process.env.PAUSE_LOAD_RUNS ?? 10);
const child = spawn(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', 'test/dispatch/processes.test.ts', '-t', 'pause with both cores busy', '--reporter', 'verbose'],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      PAUSE_LOAD_RUNS: String(runs),
      TEST_DATABASE_ADMIN_URL: process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
      TEST_REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.stdout.write(`\n[pause-load] ${runs} loaded pause runs: ${code === 0 ? 'all green' : `FAILED (exit ${code ?? signal})`}\n`);
  process.exit(code ?? 1);
});
