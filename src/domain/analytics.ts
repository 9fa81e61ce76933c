/**
 * Definitions shared by every analytics figure. Pure, no I/O.
 *
 * Rates: delivery = delivered / sent; read, reply, click and conversion = that step / delivered.
 * ROI = (conversion value − cost) / cost, only when the campaign has a positive cost.
 */

/** numerator / denominator rounded to 4 decimals; null when there is nothing to divide by. */
export function rate(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 10000) / 10000 : null;
}

export function roi(conversionValue: number, cost: number | null): number | null {
  if (cost === null || !(cost > 0)) return null;
  return Math.round(((conversionValue - cost) / cost) * 10000) / 10000;
}

export interface FunnelCounts {
  sent: number;
  delivered: number;
  read: number;
  replied: number;
  clicked: number;
  converted: number;
}

export interface Rates {
  deliveryRate: number | null;
  readRate: number | null;
  replyRate: number | null;
  clickRate: number | null;
  conversionRate: number | null;
}

export function ratesOf(c: FunnelCounts): Rates {
  return {
    deliveryRate: rate(c.delivered, c.sent),
    readRate: rate(c.read, c.delivered),
    replyRate: rate(c.replied, c.delivered),
    clickRate: rate(c.clicked, c.delivered),
    conversionRate: rate(c.converted, c.delivered),
  };
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
