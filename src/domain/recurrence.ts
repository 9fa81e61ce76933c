/**
 * Recurring campaigns: when the next occurrence starts. Occurrence k of a series starts at the first
 * start plus (k − 1) intervals in the tenant's zone, so a campaign at 09:00 stays at 09:00 local
 * across DST changes and a monthly one on the 31st falls on the last day of shorter months without
 * drifting. Pure.
 */
import { DateTime } from 'luxon';

export type Recurrence = 'NONE' | 'DAILY' | 'WEEKLY' | 'MONTHLY';

export interface RecurrenceRule {
  recurrence: Recurrence;
  interval: number;
  /** Stop after this many occurrences (null: no limit). */
  endAfter: number | null;
  /** No occurrence starts after this instant (null: no end). */
  endAt: Date | null;
}

export function occurrenceStart(rule: RecurrenceRule, firstStart: Date, occurrence: number, zone: string): Date {
  const first = DateTime.fromJSDate(firstStart, { zone });
  const n = (occurrence - 1) * Math.max(1, rule.interval);
  const at =
    rule.recurrence === 'DAILY'
      ? first.plus({ days: n })
      : rule.recurrence === 'WEEKLY'
        ? first.plus({ weeks: n })
        : rule.recurrence === 'MONTHLY'
          ? first.plus({ months: n })
          : first;
  return at.toJSDate();
}

/**
 * The occurrence after `current` that starts after `now` (occurrences whose time passed while nothing
 * ran are skipped, not counted), or null when the series has ended.
 */
export function nextOccurrence(
  rule: RecurrenceRule,
  firstStart: Date,
  current: number,
  now: Date,
  zone: string,
): { occurrence: number; startAt: Date } | null {
  if (rule.recurrence === 'NONE') return null;
  let k = current + 1;
  let at = occurrenceStart(rule, firstStart, k, zone);
  for (let guard = 0; at.getTime() <= now.getTime() && guard < 100_000; guard++) at = occurrenceStart(rule, firstStart, ++k, zone);
  const occurrence = current + 1;
  if (rule.endAfter !== null && occurrence > rule.endAfter) return null;
  if (rule.endAt !== null && at.getTime() > rule.endAt.getTime()) return null;
  return { occurrence, startAt: at };
}
