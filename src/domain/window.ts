/**
 * Sending windows: business hours, allowed weekdays and holidays, evaluated in a time zone.
 *
 * A window is a set of daily spans in local time. A span belongs to the local day it starts on: its
 * weekday and its holidays decide whether it exists, so an overnight window (20:00–02:00) that opens
 * on Friday runs into Saturday even when Saturday is not allowed. Local times that do not exist (the
 * hour skipped by a DST change) move to the first instant after the gap; ambiguous ones (the hour
 * repeated) take the first occurrence. Pure: holiday data is date-holidays' built-in tables.
 */
import Holidays from 'date-holidays';
import { DateTime, IANAZone } from 'luxon';

export interface WindowRules {
  /** Minutes after local midnight when sending opens; null (with endMinute null) = the whole day. */
  startMinute: number | null;
  /** Minutes after local midnight when sending stops (exclusive); 1440 = midnight. Before start = overnight. */
  endMinute: number | null;
  /** ISO weekdays (1 = Monday … 7 = Sunday) on which a span may start. */
  weekdays: readonly number[];
  /** Local dates (yyyy-MM-dd) on which no span starts. */
  isHoliday: (localDate: string) => boolean;
}

export interface Span {
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;
const noHolidays = () => false;

export function isValidZone(zone: string | null | undefined): zone is string {
  return !!zone && IANAZone.isValidZone(zone);
}

/** `zone` when it is a valid IANA zone, else `fallback`. */
export function zoneOr(zone: string | null | undefined, fallback: string): string {
  return isValidZone(zone) ? zone : fallback;
}

// ───────────────────────────── holidays ─────────────────────────────

export interface OwnHoliday {
  /** yyyy-MM-dd */
  date: string;
  /** Repeats every year on the same month and day. */
  yearly: boolean;
}

export interface HolidaySettings {
  /** ISO 3166 country for national holidays (null: none). */
  country: string | null;
  /** Subdivision for regional holidays (e.g. "SP"). */
  region: string | null;
  /** The tenant's own holidays. */
  own: readonly OwnHoliday[];
}

const publicHolidays = new Map<string, Set<string>>();

/** Public holidays (date-holidays type "public") of a country/region in a year, as local dates. */
export function publicHolidayDates(country: string, region: string | null, year: number): Set<string> {
  const key = `${country}:${region ?? ''}:${year}`;
  let dates = publicHolidays.get(key);
  if (!dates) {
    const hd = region ? new Holidays(country, region) : new Holidays(country);
    const list = hd.getHolidays(year) || [];
    dates = new Set(list.filter((h) => h.type === 'public').map((h) => h.date.slice(0, 10)));
    if (publicHolidays.size > 2000) publicHolidays.clear();
    publicHolidays.set(key, dates);
  }
  return dates;
}

/** Whether a local date is a holiday: the country's (and region's) public holidays, or one of the tenant's own. */
export function holidayCalendar(s: HolidaySettings): (localDate: string) => boolean {
  const exact = new Set(s.own.filter((h) => !h.yearly).map((h) => h.date));
  const yearly = new Set(s.own.filter((h) => h.yearly).map((h) => h.date.slice(5)));
  return (localDate: string) => {
    if (exact.has(localDate) || yearly.has(localDate.slice(5))) return true;
    if (!s.country) return false;
    return publicHolidayDates(s.country, s.region, Number(localDate.slice(0, 4))).has(localDate);
  };
}

// ───────────────────────────── window rules ─────────────────────────────

export interface WindowColumns {
  windowStartMinute: number | null;
  windowEndMinute: number | null;
  windowWeekdays: readonly number[];
  respectHolidays: boolean;
  holidayCountry: string | null;
  holidayRegion: string | null;
}

/**
 * The rules of a campaign's stored window. With holidays respected, the country is the campaign's
 * (or the tenant's), the region the campaign's (or the tenant's when the campaign names no country),
 * and the tenant's own holidays apply too.
 */
export function campaignWindow(c: WindowColumns, tenant: { country: string; region: string | null }, own: readonly OwnHoliday[]): WindowRules {
  const allDay = c.windowStartMinute === null || c.windowEndMinute === null;
  return {
    startMinute: allDay ? null : c.windowStartMinute,
    endMinute: allDay ? null : c.windowEndMinute,
    weekdays: c.windowWeekdays.length ? c.windowWeekdays : [1, 2, 3, 4, 5, 6, 7],
    isHoliday: c.respectHolidays
      ? holidayCalendar({
          country: c.holidayCountry ?? tenant.country,
          region: c.holidayCountry ? c.holidayRegion : (c.holidayRegion ?? tenant.region),
          own,
        })
      : noHolidays,
  };
}

/** True when the window never closes (every day, all day, no holidays): callers may skip the checks. */
export function isAlwaysOpen(w: WindowRules): boolean {
  return (w.startMinute === null || w.endMinute === null) && w.weekdays.length >= 7 && w.isHoliday === noHolidays;
}

export const ALWAYS_OPEN: WindowRules = { startMinute: null, endMinute: null, weekdays: [1, 2, 3, 4, 5, 6, 7], isHoliday: noHolidays };

// ───────────────────────────── evaluation ─────────────────────────────

/** The first instant whose wall time in `zone` is `minute` on `day` (or the first after a DST gap). */
function wallTime(day: DateTime, minute: number, zone: string): number {
  if (minute >= 1440) return wallTime(day.plus({ days: 1 }), minute - 1440, zone);
  const hour = Math.floor(minute / 60);
  const min = minute % 60;
  const t = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour, minute: min }, { zone });
  // A repeated hour: Luxon may pick the later offset; take the earlier occurrence when it exists.
  const earlier = DateTime.fromMillis(t.toMillis() - 3_600_000, { zone });
  if (earlier.day === day.day && earlier.hour === hour && earlier.minute === min) return earlier.toMillis();
  if (t.hour === hour && t.minute === min) return t.toMillis();
  // Inside a DST gap Luxon shifts by the gap's length; the first instant after the gap is the
  // transition itself: the earliest minute whose wall time is past the one asked for.
  const wanted = `${day.toISODate()}T${String(hour).padStart(2, '0')}:${String(min).padStart(2, '0')}`;
  const wall = (ms: number) => DateTime.fromMillis(ms, { zone }).toFormat("yyyy-LL-dd'T'HH:mm");
  let lo = Math.floor((t.toMillis() - 4 * 3_600_000) / 60_000);
  let hi = Math.floor(t.toMillis() / 60_000);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (wall(mid * 60_000) >= wanted) hi = mid;
    else lo = mid + 1;
  }
  return hi * 60_000;
}

function dayAllowed(w: WindowRules, day: DateTime): boolean {
  return w.weekdays.includes(day.weekday) && !w.isHoliday(day.toISODate() as string);
}

/** The span that starts on local `day` (ignoring whether the day is allowed). */
function spanOf(w: WindowRules, day: DateTime, zone: string): Span {
  if (w.startMinute === null || w.endMinute === null) {
    return { start: wallTime(day, 0, zone), end: wallTime(day, 1440, zone) };
  }
  const endMinute = w.endMinute <= w.startMinute ? w.endMinute + 1440 : w.endMinute;
  return { start: wallTime(day, w.startMinute, zone), end: wallTime(day, endMinute, zone) };
}

function localDayOf(at: number, zone: string): DateTime {
  return DateTime.fromMillis(at, { zone }).startOf('day');
}

/** Spans of allowed days starting from the local day before `from`, in time order. */
function* spans(w: WindowRules, from: number, zone: string, maxDays: number): Generator<Span> {
  const first = localDayOf(from, zone).minus({ days: 1 });
  for (let i = 0; i <= maxDays + 1; i++) {
    const day = first.plus({ days: i });
    if (dayAllowed(w, day)) yield spanOf(w, day, zone);
  }
}

export function isOpen(w: WindowRules, at: Date, zone: string): boolean {
  const t = at.getTime();
  const today = localDayOf(t, zone);
  for (const day of [today.minus({ days: 1 }), today]) {
    if (!dayAllowed(w, day)) continue;
    const s = spanOf(w, day, zone);
    if (s.start <= t && t < s.end) return true;
  }
  return false;
}

/** `at` when the window is open then, otherwise its next opening (null when none within `maxDays`). */
export function nextOpening(w: WindowRules, at: Date, zone: string, maxDays = 400): Date | null {
  const t = at.getTime();
  for (const s of spans(w, t, zone, maxDays)) {
    if (s.end <= t) continue;
    return new Date(Math.max(s.start, t));
  }
  return null;
}

/** When the open period containing `at` ends (null when closed at `at`). */
export function currentClosing(w: WindowRules, at: Date, zone: string, maxDays = 400): Date | null {
  const t = at.getTime();
  let closing: number | null = null;
  for (const s of spans(w, t, zone, maxDays)) {
    if (s.end <= t) continue;
    if (closing === null) {
      if (s.start > t) return null;
      closing = s.end;
    } else if (s.start <= closing) closing = Math.max(closing, s.end);
    else break;
  }
  return closing === null ? null : new Date(closing);
}

/** Open periods between `from` and `to`, clipped and merged, in time order. */
export function openSpans(w: WindowRules, from: Date, to: Date, zone: string): Span[] {
  const a = from.getTime();
  const b = to.getTime();
  const out: Span[] = [];
  const days = Math.ceil((b - a) / DAY_MS) + 2;
  for (const s of spans(w, a, zone, days)) {
    if (s.start >= b) break;
    const start = Math.max(s.start, a);
    const end = Math.min(s.end, b);
    if (end <= start) continue;
    const last = out.at(-1);
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else out.push({ start, end });
  }
  return out;
}
