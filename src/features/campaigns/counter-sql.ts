import { COUNTERS, type CounterKey, type CounterSpec, type StepKey } from '../../domain/counters.js';
import { Prisma } from '../../generated/prisma/client.js';

/**
 * SQL for the counters declared in src/domain/counters.ts. Every fragment is built from that
 * declaration's constant names only (never from input), so `Prisma.raw` is safe here.
 */

const qualified = (alias: string | null, name: string) => (alias ? `${alias}.${name}` : name);
const list = <K extends CounterKey>(keys: readonly K[], item: (k: K) => string) => Prisma.raw(keys.map(item).join(', '));

/** `c.targeted_count, c.sent_count, …`: the counters' columns of `campaign`. */
export function counterColumns(keys: readonly CounterKey[], alias: string | null = null): Prisma.Sql {
  return list(keys, (k) => qualified(alias, COUNTERS[k].column));
}

/** `COALESCE(sum(c.sent_count), 0)::int AS sent, …`: the counters summed over campaigns (or `column`'s rows). */
export function counterSums<K extends CounterKey>(keys: readonly K[], alias: string | null = null, column = (k: K) => COUNTERS[k].column as string): Prisma.Sql {
  return list(keys, (k) => `COALESCE(sum(${qualified(alias, column(k))}), 0)::int AS ${k}`);
}

/** `count(*)::int AS targeted, count(r.sent_at)::int AS sent, …`: the counters recounted over recipients. */
export function recount(keys: readonly CounterKey[], alias: string | null = null): Prisma.Sql {
  return list(keys, (k) => `${recountOf(COUNTERS[k], alias)}::int AS ${k}`);
}

function recountOf(spec: CounterSpec, alias: string | null): string {
  const status = qualified(alias, 'status');
  if (spec.statuses?.length === 1) return `count(*) FILTER (WHERE ${status} = '${spec.statuses[0]}')`;
  if (spec.statuses) return `count(*) FILTER (WHERE ${status} IN (${spec.statuses.map((s) => `'${s}'`).join(', ')}))`;
  if (spec.at) return `count(${qualified(alias, spec.at)})`;
  return 'count(*)';
}

/** `COALESCE(a.sent, 0) AS sent, …`: the counts of an outer-joined aggregate, 0 where it has no row. */
export function coalescedCounts(keys: readonly CounterKey[], alias: string): Prisma.Sql {
  return list(keys, (k) => `COALESCE(${alias}.${k}, 0) AS ${k}`);
}

/**
 * A recipient's steps as events, one row each: `values` for `CROSS JOIN LATERAL (VALUES …) AS
 * v(kind, at)` over recipients `alias`, and `counts` to count them per group (`… AS sent, …`).
 */
export function stepEvents(keys: readonly StepKey[], alias: string) {
  return {
    values: list(keys, (k) => `('${k}', ${alias}.${COUNTERS[k].at})`),
    counts: list(keys, (k) => `count(*) FILTER (WHERE v.kind = '${k}')::int AS ${k}`),
  };
}
