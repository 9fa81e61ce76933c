// Applies prisma/migrations with nothing but pg: production runs it from the compiled build
// (`npm run db:migrate:prod`), where the Prisma CLI (a devDependency) is not installed. It keeps
// Prisma Migrate's own bookkeeping (the `_prisma_migrations` table, the same checksums and the same
// advisory lock), so `prisma migrate deploy` and this runner can take turns on one database.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

/** The advisory lock key Prisma Migrate takes on PostgreSQL: two runners never migrate at once. */
const PRISMA_MIGRATE_LOCK = 72707369;

/** Prisma Migrate's table, exactly as it creates it. */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface LocalMigration {
  name: string;
  sql: string;
  /** sha256 of the file, hex: what Prisma stores as the checksum. */
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The migrations of a `prisma/migrations` folder, in the order Prisma applies them (by folder name). */
export function readMigrations(dir: string): LocalMigration[] {
  if (!existsSync(dir)) throw new MigrationError(`no migrations folder at ${dir}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name, 'migration.sql'));
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    });
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
  /** Applied migrations whose file changed since (Prisma warns about them too; they are not run again). */
  modified: string[];
  /** Migrations recorded in the database that this folder does not have (a newer release ran them). */
  unknown: string[];
}

/**
 * Applies every migration of `dir` not yet recorded as finished, in order, each script as one
 * statement batch (an implicit transaction, as Prisma runs it). Refuses to start while a failed
 * migration is recorded (Prisma's P3009: resolve it first with `prisma migrate resolve`).
 */
export async function applyMigrations(client: pg.ClientBase, dir: string, say: (line: string) => void = () => undefined): Promise<MigrateResult> {
  const local = readMigrations(dir);
  await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
  try {
    await client.query(CREATE_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
    );
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed.length) {
      throw new MigrationError(
        `migration ${failed.map((r) => r.migration_name).join(', ')} failed earlier and is not resolved; ` +
          'fix the database, then mark it with `prisma migrate resolve --applied|--rolled-back <name>`',
      );
    }
    const done = new Map(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => [r.migration_name, r.checksum]));
    const known = new Set(local.map((m) => m.name));
    const result: MigrateResult = {
      applied: [],
      alreadyApplied: 0,
      modified: local.filter((m) => done.has(m.name) && done.get(m.name) !== m.checksum).map((m) => m.name),
      unknown: [...done.keys()].filter((name) => !known.has(name)),
    };
    for (const m of local) {
      if (done.has(m.name)) {
        result.alreadyApplied++;
        continue;
      }
      const id = randomUUID();
      await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)', [id, m.checksum, m.name]);
      say(`applying ${m.name}`);
      try {
        await client.query(m.sql); // no parameters: the simple protocol, every statement of the file in one batch
      } catch (err) {
        const message = (err as Error).message;
        await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, message]);
        throw new MigrationError(`migration ${m.name} failed: ${message}`);
      }
      await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      result.applied.push(m.name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => undefined);
  }
}
