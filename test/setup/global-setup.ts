import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { drawPortBase } from '../helpers/ports.js';
import { clusterSeeds, deleteKeysMatching } from '../helpers/redis-keys.js';

/**
 * One migrated template database and one Redis namespace per test run, so that runs never see each
 * other's data; both are removed at the end. Each test file then gets its own database, copied from
 * the template, and its own Redis prefix (test/setup/env.ts): a worker started by one file only ever
 * sees that file's campaigns.
 */
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Set (host:port,…): the tests run on that Redis Cluster (npm run test:cluster), REDIS_URL one of its nodes. */
const redisClusterNodes = process.env.TEST_REDIS_CLUSTER_NODES ?? '';
const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const database = `wc_test_${runId}`;
const redisPrefix = `wct_${runId}`;

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** The migrated template each test file's database is created from. */
    templateDatabase: string;
    adminDatabaseUrl: string;
    redisUrl: string;
    redisPrefix: string;
    /** Empty: one Redis. */
    redisClusterNodes: string;
    /** This run's server ports start here (test/helpers/ports.ts). */
    portBase: number;
  }
}

function urlFor(db: string) {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function setup(project: TestProject) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'deploy'], {
    env: { ...process.env, DATABASE_URL: urlFor(database) },
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`);
  project.provide('databaseUrl', urlFor(database));
  project.provide('templateDatabase', database);
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('redisPrefix', redisPrefix);
  project.provide('redisClusterNodes', redisClusterNodes);
  project.provide('portBase', drawPortBase());
}

export async function teardown() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const copies = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${database}_%`]);
  for (const { datname } of copies.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
  const redis = redisClusterNodes ? new Cluster(clusterSeeds(redisClusterNodes)) : new Redis(redisUrl);
  await deleteKeysMatching(redis, `${redisPrefix}*`);
  await redis.quit();
}
