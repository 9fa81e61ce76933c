import { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import { builder } from './builder.js';

export const OrderDirectionEnum = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

/** Parses with a zod schema, turning its issues into one ValidationError with input paths under `base`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, base: Array<string | number>): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => ({ path: [...base, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message })));
}

/**
 * The Pothos `query` for reloading a mutation's result. A client that selects nothing of the result
 * (only `__typename`) yields an empty selection, which Prisma refuses: select the id instead.
 */
export function reloadQuery<Q extends { select?: object; include?: object }>(query: Q): Q {
  return query.select && Object.keys(query.select).length === 0 ? ({ ...query, select: { id: true } } as Q) : query;
}

export const FrequencyCapRef = builder.objectRef<{ messages: number; periodHours: number }>('FrequencyCap').implement({
  description: 'At most `messages` campaign messages per contact in any `periodHours` (rolling), across all campaigns.',
  fields: (t) => ({ messages: t.exposeInt('messages'), periodHours: t.exposeInt('periodHours') }),
});

export const FrequencyCapInput = builder.inputType('FrequencyCapInput', {
  description: 'At most `messages` campaign messages per contact in any `periodHours` (rolling), counted across all campaigns.',
  fields: (t) => ({
    messages: t.int({ required: true, validate: z.number().int().min(1).max(1000) }),
    periodHours: t.int({ required: true, validate: z.number().int().min(1).max(24 * 366) }),
  }),
});
