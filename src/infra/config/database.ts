import { z } from 'zod';
import { parseConfig } from './env-source.js';

export const databaseSchema = z.object({
  DATABASE_URL: z
    .string({ error: 'set it to a postgres:// URL' })
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
});

export function loadDatabaseConfig(env?: Record<string, string | undefined>) {
  const c = parseConfig(databaseSchema, env);
  return { databaseUrl: c.DATABASE_URL, poolSize: c.DATABASE_POOL_SIZE };
}
