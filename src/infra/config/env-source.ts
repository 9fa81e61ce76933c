import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { z } from 'zod';

/**
 * The process environment, plus `.env` from the working directory for variables not already set.
 * This module and its siblings are the only readers of `process.env`.
 */
export function environment(): Record<string, string | undefined> {
  const file = resolve(process.cwd(), '.env');
  if (process.env.NODE_ENV === 'test' || !existsSync(file)) return process.env;
  const fromFile = parseEnv(readFileSync(file, 'utf8'));
  return { ...fromFile, ...process.env };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with `schema`, naming every missing or bad variable in the error. */
export function parseConfig<S extends z.ZodType>(schema: S, env = environment()): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(root)';
      const value = env[name];
      return value === undefined || value === ''
        ? `${name} is missing: ${issue.message}`
        : `${name} is invalid: ${issue.message}`;
    }),
  );
}

/** Loads config or stops the process with a message that names the variable. */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable.\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
