import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { loadDatabaseConfig } from './src/infra/config/database.js';
import { MigratePgAdapterFactory } from './src/infra/db/migrate-adapter.js';
import { poolConfigFromUrl } from './src/infra/db/pg-client.js';

// Prisma's native engines cannot be downloaded on our machines: Migrate runs on the bundled
// WebAssembly schema engine through the pg driver adapter (see docs/decisions.md).
export default defineConfig({
  experimental: { adapter: true },
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  engine: 'js',
  async adapter() {
    const { databaseUrl } = loadDatabaseConfig();
    return new MigratePgAdapterFactory(poolConfigFromUrl(databaseUrl, 2));
  },
});
