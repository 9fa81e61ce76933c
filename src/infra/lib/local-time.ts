import { DateTime } from 'luxon';

/** The calendar day (yyyy-MM-dd) of `at` in `zone`. */
export function localDay(at: Date, zone: string): string {
  const d = DateTime.fromJSDate(at, { zone });
  return (d.isValid ? d : DateTime.fromJSDate(at, { zone: 'UTC' })).toFormat('yyyy-LL-dd');
}
