import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { workerPort } from '../helpers/ports.js';

/** This test file's own database: a copy of the run's migrated template (fast: no migrations). */
async function fileDatabase(): Promise<string> {
  const template = inject('templateDatabase');
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (err) {
        // Another file copying the template at the same moment: try again shortly.
        if (attempt > 50 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

// Runs in every test file's process before the file imports anything: the app's config reads these.
// Slot 0 of this worker's ports: the API server of this test file listens on it; webhook URLs point at it.
const port = await workerPort(inject('portBase'), 0);
const databaseUrl = await fileDatabase();
Object.assign(process.env, {
  NODE_ENV: 'test',
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_SIZE: '8',
  REDIS_URL: inject('redisUrl'),
  REDIS_CLUSTER_NODES: inject('redisClusterNodes'),
  REDIS_PREFIX: `${inject('redisPrefix')}_${randomBytes(4).toString('hex')}`,
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  HOST: '127.0.0.1',
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  PROGRESS_INTERVAL_MS: '50',
  EVOLUTION_TIMEOUT_MS: '5000',
  SHUTDOWN_TIMEOUT_MS: '5000',
  // Tests write the database directly, which no event announces: no response cache, but in
  // test/api/response-cache.test.ts.
  RESPONSE_CACHE_TTL_MS: '0',
  // Unknown outcomes are resolved within seconds in tests (a request the simulator holds is answered
  // or dropped well within the grace).
  RECONCILE_GRACE_MS: '1000',
  RECONCILE_MAX_MS: '40000',
});
