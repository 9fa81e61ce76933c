// `npm run db:migrate:prod` (node dist/scripts/migrate.js): applies prisma/migrations to DATABASE_URL
// with production dependencies only (no Prisma CLI). Run it once per release, before the new API
// servers and workers start. Development keeps `npm run db:migrate` (the Prisma CLI); both keep the
// same `_prisma_migrations` records. See docs/deployment.md.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadDatabaseConfig } from '../src/infra/config/database.js';
import { loadOrExit } from '../src/infra/config/env-source.js';
import { applyMigrations, MigrationError } from '../src/infra/db/migrations.js';
import { poolConfigFromUrl } from '../src/infra/db/pg-client.js';

/** prisma/migrations of the nearest folder above this file that has one (the repo, or the image's /app). */
function migrationsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new MigrationError('no prisma/migrations folder above this script');
  }
}

const { databaseUrl } = loadOrExit(() => loadDatabaseConfig());
const say = (line: string) => process.stdout.write(`${line}\n`);
const client = new pg.Client(poolConfigFromUrl(databaseUrl));
try {
  await client.connect();
  const dir = migrationsDir();
  const result = await applyMigrations(client, dir, say);
  for (const name of result.modified) say(`warning: ${name} was changed after it was applied (not run again)`);
  for (const name of result.unknown) say(`warning: ${name} is applied in the database but not in ${dir} (a newer release?)`);
  say(result.applied.length ? `applied ${result.applied.length} migration(s); ${result.alreadyApplied} were already applied` : `the database is up to date (${result.alreadyApplied} migrations)`);
} catch (err) {
  process.stderr.write(`${err instanceof MigrationError ? err.message : (err as Error).stack}\n`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => undefined);
}
