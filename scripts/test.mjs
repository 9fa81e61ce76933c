#!/usr/bin/env node
// `npm test`: the whole test suite from a fresh clone. Installs what is missing, makes sure
// PostgreSQL and Redis answer (starting local ones if needed), then runs every check and the tests.
// Extra arguments go to vitest (e.g. `npm test -- test/e2e`).
import { join } from 'node:path';
import { bootstrap, root, run, say } from './bootstrap.mjs';

const databaseUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);

await bootstrap({ databaseUrl, redisUrl });

if (args.length === 0) {
  say('type-checking');
  run(bin('tsc'), ['-p', '.']);
  say('checking that schema.graphql and the typed test documents are up to date (codegen --check)');
  run(process.execPath, ['--import', 'tsx', 'node_modules/@graphql-codegen/cli/cjs/bin.js', '--config', 'codegen.ts', '--check'], { quiet: true });
  say('checking that prisma/migrations matches prisma/schema.prisma');
  run(
    process.execPath,
    ['--import', 'tsx', 'scripts/prisma.ts', 'migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema-datamodel', 'prisma/schema.prisma', '--exit-code'],
    { env: { ...process.env, DATABASE_URL: databaseUrl }, quiet: true },
  );
  say('checking for circular imports');
  run(bin('madge'), ['--circular', '--extensions', 'ts', '--ts-config', 'tsconfig.json', '--exclude', '^(src/)?generated/', '--no-spinner', 'src', 'tools'], { quiet: true });
}

say('running the tests (vitest)');
run(bin('vitest'), ['run', ...args], { env: { ...process.env, TEST_DATABASE_ADMIN_URL: databaseUrl, TEST_REDIS_URL: redisUrl } });
