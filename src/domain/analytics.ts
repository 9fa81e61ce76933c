import { rate } from './counters.js';

/**
 * Definitions shared by every analytics figure beyond the counters and their rates
 * (src/domain/counters.ts). Pure, no I/O.
 */

/** ROI = (conversion value − cost) / cost, only when the campaign has a positive cost. */
export function roi(conversionValue: number, cost: number | null): number | null {
  if (cost === null || !(cost > 0)) return null;
  return rate(conversionValue - cost, cost);
}

export const TIME_BUCKETS = { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' } as const;
export type TimeBucket = keyof typeof TIME_BUCKETS;

export const TREND_BUCKETS = { DAY: 'day', WEEK: 'week', MONTH: 'month' } as const;
export type TrendBucket = keyof typeof TREND_BUCKETS;

/** Most buckets a time series returns; a wider request must narrow its range or widen its bucket. */
export const MAX_SERIES_BUCKETS = 5000;

/** Fills the hours 0–23 (or ISO weekdays 1–7) that had no event with zeros, in order. */
export function fillSlots<T extends { slot: number }>(rows: readonly T[], from: number, to: number, empty: (slot: number) => T): T[] {
  const bySlot = new Map(rows.map((r) => [r.slot, r]));
  const out: T[] = [];
  for (let s = from; s <= to; s++) out.push(bySlot.get(s) ?? empty(s));
  return out;
}
