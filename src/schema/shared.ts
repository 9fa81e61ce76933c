import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { builder } from './builder.js';

export const OrderDirectionEnum = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

/** Parses with a zod schema, turning its issues into one ValidationError with input paths under `base`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, base: Array<string | number>): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => ({ path: [...base, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message })));
}
