import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

/**
 * The pg adapter factory for Prisma Migrate, mending two defects of @prisma/adapter-pg 6.19:
 *
 * - `executeScript` splits a migration on every `;`, which breaks any function or trigger body, and
 *   runs the pieces one by one outside a transaction. Here the script goes to PostgreSQL whole, as one
 *   simple-protocol query: bodies stay intact and the migration applies atomically.
 * - the shadow database of `migrate diff --from-migrations` is dropped while its own pool still holds
 *   a connection ("database … is being accessed by other users") and is left behind. Here the shadow
 *   pool is closed first, then the database dropped, then the main pool closed.
 */
export class MigratePgAdapterFactory extends PrismaPg {
  constructor(private readonly poolSettings: pg.PoolConfig) {
    super(poolSettings);
  }

  override async connect(): Promise<PgAdapter> {
    const adapter = await super.connect();
    const pool = adapter.underlyingDriver();
    // onError maps a pg error to Prisma's DriverAdapterError (and always throws).
    const onError = (adapter as unknown as { onError(e: unknown): never }).onError.bind(adapter);
    adapter.executeScript = async (script: string) => {
      try {
        await pool.query(script);
      } catch (error) {
        onError(error);
      }
    };
    return adapter;
  }

  override async connectToShadowDb(): Promise<PgAdapter> {
    const main = await this.connect();
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await main.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = await new MigratePgAdapterFactory({ ...this.poolSettings, database }).connect();
    const disposeShadowPool = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await disposeShadowPool();
      await main.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
      await main.dispose();
    };
    return shadow;
  }
}
