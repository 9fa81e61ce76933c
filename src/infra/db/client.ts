import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { config } from '../config/index.js';
import { PrismaClient } from '../../generated/prisma/client.js';
import { logger } from '../lib/logger.js';
import { poolConfigFromUrl } from './pg-client.js';

export type { Prisma } from '../../generated/prisma/client.js';

/**
 * This process's PostgreSQL connections (`DATABASE_POOL_SIZE`), shared by Prisma and by the few
 * hot statements that run on pg directly (see `src/infra/db/sql.ts`). `prisma.$disconnect()` ends it.
 */
export const pool = new pg.Pool(poolConfigFromUrl(config.databaseUrl, config.databasePoolSize));
// An idle connection that breaks (a database restart) is dropped by the pool; unheard, it would end the process.
pool.on('error', (err) => logger.warn({ err: err.message }, 'an idle database connection failed'));

let replacement: pg.Pool | null = null;

/**
 * The pool for statements on pg directly: `pool`, or, once `prisma.$disconnect()` ended it (Prisma
 * then opens a pool of its own; tests that stop and start the product in one process), a new one
 * that never holds the process open.
 */
export function pgPool(): pg.Pool {
  if (!pool.ended) return pool;
  if (!replacement || replacement.ended) {
    replacement = new pg.Pool({ ...poolConfigFromUrl(config.databaseUrl, config.databasePoolSize), allowExitOnIdle: true });
    replacement.on('error', (err) => logger.warn({ err: err.message }, 'an idle database connection failed'));
  }
  return replacement;
}

function createPrismaClient() {
  return new PrismaClient({
    adapter: new PrismaPg(pool, { disposeExternalPool: true }),
    log: [{ emit: 'event', level: 'query' }],
  });
}

export type Db = ReturnType<typeof createPrismaClient>;
/** A transaction client: what `prisma.$transaction(async (tx) => …)` hands to its callback. */
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

/** The one Prisma client of this process (a module, not a context member: see conventions). */
export const prisma: Db = createPrismaClient();
