// Runs the Prisma CLI without native engines: the client uses the pg driver adapter and Migrate the
// bundled WebAssembly schema engine (prisma.config.ts). The CLI still checks that engine files exist
// unless these variables name one, so they point at a placeholder committed in the repo.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment } from '../src/infra/config/env-source.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const placeholder = join(root, 'prisma', 'engines', 'placeholder');
const cli = join(dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');
const args = process.argv.slice(2);

// `generate`, `validate` and `format` never connect, but the schema's env("DATABASE_URL") must resolve.
const offline = ['generate', 'validate', 'format'].includes(args[0] ?? '');
const databaseUrl = environment().DATABASE_URL ?? (offline ? 'postgresql://offline@localhost/offline' : undefined);

const result = spawnSync(process.execPath, [cli, ...args], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    PRISMA_QUERY_ENGINE_LIBRARY: placeholder,
    PRISMA_SCHEMA_ENGINE_BINARY: placeholder,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
process.exit(result.status ?? 1);
