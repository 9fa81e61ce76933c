import { prisma } from '../../src/db/client.js';

/** Every SQL statement Prisma sends while `fn` runs (the API server runs in the test's process). */
export async function prismaStatements(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  let on = true;
  prisma.$on('query', (e: { query: string }) => {
    if (on) seen.push(e.query);
  });
  try {
    await fn();
  } finally {
    on = false;
  }
  return seen;
}
