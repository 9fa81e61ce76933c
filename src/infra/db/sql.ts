import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Prisma } from '../../generated/prisma/client.js';
import { pgPool } from './client.js';
import { withConflictRetries } from './transaction.js';

/**
 * Statements on the dispatch hot path (claiming recipients, recording sends) run on pg directly:
 * the same SQL, built with `Prisma.sql` as everywhere else, without Prisma's per-statement work.
 * Measured on this project's machines: `$queryRaw` costs about 0.3 ms more CPU per statement than
 * pg, and an interactive `$transaction` of two statements about 0.6 ms more (docs/decisions.md 45).
 * Result columns come back as pg parses them: bigint as a string, json as values, timestamps as Dates.
 */
export async function sqlRows<T>(q: Prisma.Sql, client: pg.ClientBase | pg.Pool = pgPool()): Promise<T[]> {
  const r = await client.query<T & pg.QueryResultRow>(prepared(q));
  return r.rows;
}

/** Rows changed by one statement. */
export async function sqlExecute(q: Prisma.Sql, client: pg.ClientBase | pg.Pool = pgPool()): Promise<number> {
  const r = await client.query(prepared(q));
  return r.rowCount ?? 0;
}

const names = new Map<string, string>();

/**
 * A named (server-side prepared) statement: each connection parses and plans it once, not on every
 * call. The name is derived from the text, so the few variants of a statement each get their own.
 */
function prepared(q: Prisma.Sql): pg.QueryConfig {
  let name = names.get(q.text);
  if (!name) {
    name = `wc_${createHash('sha1').update(q.text).digest('hex').slice(0, 20)}`;
    names.set(q.text, name);
  }
  return { name, text: q.text, values: q.values };
}

/** What a transaction body returns to have its work rolled back instead of committed. */
export const ROLLBACK = Symbol('rollback');

/**
 * Runs `fn` in a transaction on one pooled connection: committed when it returns a value, rolled
 * back when it returns ROLLBACK (the result is then ROLLBACK) or throws. Like `inTransaction`, a
 * transaction PostgreSQL aborted to break a deadlock is run again.
 */
export function sqlTransaction<T>(fn: (client: pg.PoolClient) => Promise<T | typeof ROLLBACK>): Promise<T | typeof ROLLBACK> {
  return withConflictRetries(async () => {
    const client = await pgPool().connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query(result === ROLLBACK ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e; // the connection is unusable: the pool must not hand it out again
      });
      throw err;
    } finally {
      client.release(broken);
    }
  });
}
