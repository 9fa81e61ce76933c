// Writes a new migration with the SQL that takes prisma/migrations to prisma/schema.prisma.
//
// `prisma migrate dev` does not work with the WebAssembly schema engine of Prisma 6.19 (it can use the
// driver adapter's shadow database only once per run; see docs/decisions.md). `migrate diff` needs it
// once, so: diff the existing migrations (replayed on a temporary shadow database) against the schema.
//
//   npm run db:migration -- add_click_tracking
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run db:migration -- <snake_case_name>');
  process.exit(64);
}

const diff = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    'scripts/prisma.ts',
    'migrate',
    'diff',
    '--from-migrations',
    'prisma/migrations',
    '--to-schema-datamodel',
    'prisma/schema.prisma',
    '--script',
    '--exit-code',
  ],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
if (diff.status === 0) {
  console.log('prisma/schema.prisma matches the migrations: nothing to write.');
  process.exit(0);
}
if (diff.status !== 2) {
  console.error(diff.stdout);
  process.exit(diff.status ?? 1);
}
const sql = diff.stdout.replace(/^Loaded Prisma config.*\n+/m, '');
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const dir = join('prisma', 'migrations', `${stamp}_${name}`);
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'migration.sql'), sql);
console.log(`wrote ${dir}/migration.sql; review it, then apply with: npm run db:migrate`);
