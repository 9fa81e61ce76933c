import { prisma } from '../../src/infra/db/client.js';

/**
 * The key's lastUsedAt write: authenticateApiKey fires it without awaiting, at most once a minute per
 * key, so the write a request starts may reach PostgreSQL while the next request is being measured
 * (it did in CI: one statement more than the request ran).
 */
const KEY_BOOKKEEPING = /^UPDATE "public"\."api_key" SET "last_used_at" = /;

/**
 * Every SQL statement Prisma sends while `fn` runs (the API server runs in the test's process), but
 * for the API key's lastUsedAt bookkeeping, which belongs to no request in particular.
 */
export async function prismaStatements(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  let on = true;
  prisma.$on('query', (e: { query: string }) => {
    if (on && !KEY_BOOKKEEPING.test(e.query)) seen.push(e.query);
  });
  try {
    await fn();
  } finally {
    on = false;
  }
  return seen;
}
