import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, whileDatabaseRecovers } from '../../src/infra/db/outage.js';
import { NameAsTextClient, poolConfigFromUrl } from '../../src/infra/db/pg-client.js';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-services.js';
import { waitFor } from '../helpers/stack.js';

/**
 * The product's pg clients against a PostgreSQL cluster of this test's own, restarted (fast shutdown:
 * every session ends with 57P01, as in a managed database's maintenance restart) while one connection
 * is checked out in the middle of a transaction.
 */
describe("the product's database connections across a PostgreSQL restart", () => {
  let postgres: PrivatePostgres;
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it('a client checked out mid-transaction always has an error listener; a plain pg client has none (the crash)', async () => {
    const plainPool = new pg.Pool({ connectionString: postgres.url(), max: 1 });
    const productPool = new pg.Pool(poolConfigFromUrl(postgres.url(), 1));
    try {
      const plain = await plainPool.connect();
      const ours = await productPool.connect();
      expect(ours).toBeInstanceOf(NameAsTextClient);
      // Checked out, the pool's idle listener is removed: an 'error' with no listener ends the process.
      expect(plain.listenerCount('error')).toBe(0);
      expect(ours.listenerCount('error')).toBeGreaterThan(0);
      plain.release();
      ours.release();
    } finally {
      await plainPool.end();
      await productPool.end();
    }
  });

  it('survives the restart: the transaction fails cleanly, the broken connection is dropped, and the pool works again', async () => {
    const pool = new pg.Pool(poolConfigFromUrl(postgres.url(), 4));
    const idleErrors: string[] = [];
    pool.on('error', (err) => idleErrors.push(err.message));
    try {
      await pool.query('CREATE TABLE IF NOT EXISTS t (n int)');
      const busy = await pool.connect();
      await busy.query('BEGIN');
      await busy.query('INSERT INTO t VALUES (1)');
      const idle = await pool.connect();
      idle.release(); // one idle connection in the pool too

      await postgres.restart(500);

      // The transaction's next statement fails (it never commits); the process is still here.
      await expect(busy.query('INSERT INTO t VALUES (2)')).rejects.toThrow();
      busy.release(true);
      // The pool hands out working connections again, by itself.
      const row = await waitFor(async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0], 20_000, 200);
      expect(row.n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('a write that must not be lost is tried again while the database is down, and made once it is back', async () => {
    const pool = new pg.Pool(poolConfigFromUrl(postgres.url(), 2));
    pool.on('error', () => undefined);
    try {
      await pool.query('CREATE TABLE IF NOT EXISTS w (n int)');
      await postgres.down();
      const refused = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(isDatabaseUnavailable(refused)).toBe(true);
      let tries = 0;
      const write = whileDatabaseRecovers(
        async () => {
          tries++;
          await pool.query('INSERT INTO w VALUES (7)');
        },
        { what: 'a test write', maxMs: 30_000 },
      );
      await new Promise((r) => setTimeout(r, 1500));
      await postgres.up();
      await write;
      expect(tries).toBeGreaterThan(1);
      expect((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM w WHERE n = 7')).rows[0]?.n).toBe(1);
      // A statement the database refuses is not retried.
      await expect(whileDatabaseRecovers(() => pool.query('SELECT * FROM no_such_table'), { what: 'a bad statement' })).rejects.toThrow(/no_such_table/);
    } finally {
      await pool.end();
    }
  });
});
