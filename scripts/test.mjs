#!/usr/bin/env node
// `npm test`: the whole test suite from a fresh clone. Installs what is missing, makes sure
// PostgreSQL and Redis answer (starting local ones if needed), then runs every check and the tests.
// Extra arguments go to vitest (e.g. `npm test -- test/e2e`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, die, root, run, say } from './bootstrap.mjs';

const databaseUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);

/**
 * The browser test (test/api/graphiql-browser.test.ts) drives Debian's Chromium. When it is missing it
 * is installed with apt-get (as root, or through passwordless sudo), without the recommended packages
 * (a desktop's worth) but with one font so that pages render text.
 */
function ensureChromium() {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ['sudo', '-n'];
  const apt = (args) =>
    spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  const install = ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-liberation'];
  say(`installing Chromium for the browser test (apt-get ${install.join(' ')})`);
  // The package lists may be missing or stale in a fresh container: update them once and try again.
  if (!apt(install) && !(apt(['update', '-q']) && apt(install))) {
    die(`Chromium is not installed at ${path} and apt-get could not install it.\n  On Debian: sudo apt-get install chromium\n  Or set CHROMIUM_PATH to a Chromium or Chrome binary.`);
  }
  if (!existsSync(path)) die(`apt-get installed chromium, but there is no ${path}; set CHROMIUM_PATH to the browser binary.`);
}

await bootstrap({ databaseUrl, redisUrl });
ensureChromium();

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
