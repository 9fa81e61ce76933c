import { describe, expect, it } from 'vitest';
import {
  ALWAYS_OPEN,
  campaignWindow,
  currentClosing,
  holidayCalendar,
  isAlwaysOpen,
  isOpen,
  nextOpening,
  openSpans,
  type WindowRules,
} from '../../src/domain/window.js';

const SP = 'America/Sao_Paulo';
const NY = 'America/New_York';
const none = () => false;
const at = (iso: string) => new Date(iso);
const businessHours: WindowRules = { startMinute: 9 * 60, endMinute: 18 * 60, weekdays: [1, 2, 3, 4, 5], isHoliday: none };

describe('sending window: business hours and weekdays', () => {
  it('is open inside business hours on an allowed weekday, closed at and after the end', () => {
    // 2026-06-01 is a Monday; São Paulo is UTC−3.
    expect(isOpen(businessHours, at('2026-06-01T13:00:00Z'), SP)).toBe(true); // 10:00
    expect(isOpen(businessHours, at('2026-06-01T11:59:00Z'), SP)).toBe(false); // 08:59
    expect(isOpen(businessHours, at('2026-06-01T12:00:00Z'), SP)).toBe(true); // 09:00
    expect(isOpen(businessHours, at('2026-06-01T21:00:00Z'), SP)).toBe(false); // 18:00 (end is exclusive)
    expect(isOpen(businessHours, at('2026-06-06T13:00:00Z'), SP)).toBe(false); // Saturday 10:00
  });

  it('gives the next opening: Friday evening → Monday 09:00; inside the window → now', () => {
    expect(nextOpening(businessHours, at('2026-06-05T21:30:00Z'), SP)?.toISOString()).toBe('2026-06-08T12:00:00.000Z');
    expect(nextOpening(businessHours, at('2026-06-03T05:00:00Z'), SP)?.toISOString()).toBe('2026-06-03T12:00:00.000Z');
    const inside = at('2026-06-03T15:00:00Z');
    expect(nextOpening(businessHours, inside, SP)?.getTime()).toBe(inside.getTime());
  });

  it('an overnight window belongs to the day it opens on', () => {
    const fridayNights: WindowRules = { startMinute: 20 * 60, endMinute: 2 * 60, weekdays: [5], isHoliday: none };
    expect(isOpen(fridayNights, at('2026-06-06T00:00:00Z'), SP)).toBe(true); // Friday 21:00
    expect(isOpen(fridayNights, at('2026-06-06T04:00:00Z'), SP)).toBe(true); // Saturday 01:00, Friday's span
    expect(isOpen(fridayNights, at('2026-06-06T05:00:00Z'), SP)).toBe(false); // Saturday 02:00
    expect(isOpen(fridayNights, at('2026-06-07T00:00:00Z'), SP)).toBe(false); // Saturday 21:00
    expect(isOpen(fridayNights, at('2026-06-04T04:00:00Z'), SP)).toBe(false); // Thursday 01:00 (Wednesday not allowed)
    expect(nextOpening(fridayNights, at('2026-06-06T05:00:00Z'), SP)?.toISOString()).toBe('2026-06-12T23:00:00.000Z');
    expect(currentClosing(fridayNights, at('2026-06-06T00:00:00Z'), SP)?.toISOString()).toBe('2026-06-06T05:00:00.000Z');
  });

  it('evaluates the same instant in each zone', () => {
    const noonUtc = at('2026-06-01T12:30:00Z');
    expect(isOpen(businessHours, noonUtc, SP)).toBe(true); // 09:30
    expect(isOpen(businessHours, noonUtc, 'Asia/Tokyo')).toBe(false); // 21:30
    expect(isOpen(businessHours, noonUtc, 'Europe/Lisbon')).toBe(true); // 13:30
    expect(nextOpening(businessHours, noonUtc, 'Asia/Tokyo')?.toISOString()).toBe('2026-06-02T00:00:00.000Z'); // Tuesday 09:00 JST
  });

  it('an all-day window on every day is always open and merges into one span', () => {
    expect(isAlwaysOpen(ALWAYS_OPEN)).toBe(true);
    expect(isAlwaysOpen(businessHours)).toBe(false);
    expect(openSpans(ALWAYS_OPEN, at('2026-06-01T00:00:00Z'), at('2026-06-04T00:00:00Z'), SP)).toEqual([
      { start: at('2026-06-01T00:00:00Z').getTime(), end: at('2026-06-04T00:00:00Z').getTime() },
    ]);
    const weekdaysAllDay: WindowRules = { startMinute: null, endMinute: null, weekdays: [1, 2, 3, 4, 5], isHoliday: none };
    expect(currentClosing(weekdaysAllDay, at('2026-06-01T13:00:00Z'), SP)?.toISOString()).toBe('2026-06-06T03:00:00.000Z'); // Saturday 00:00
  });
});

describe('sending window: holidays', () => {
  const br = holidayCalendar({ country: 'BR', region: null, own: [] });
  const brSp = holidayCalendar({ country: 'BR', region: 'SP', own: [] });

  it('skips national public holidays and opens the next allowed day', () => {
    expect(br('2026-04-21')).toBe(true); // Tiradentes, a Tuesday
    expect(br('2026-04-22')).toBe(false);
    const w: WindowRules = { ...businessHours, isHoliday: br };
    expect(isOpen(w, at('2026-04-21T13:00:00Z'), SP)).toBe(false);
    expect(nextOpening(w, at('2026-04-20T21:30:00Z'), SP)?.toISOString()).toBe('2026-04-22T12:00:00.000Z');
  });

  it('regional holidays apply only with the region; optional and bank holidays do not count', () => {
    expect(brSp('2026-07-09')).toBe(true); // Revolução Constitucionalista (SP)
    expect(br('2026-07-09')).toBe(false);
    expect(br('2026-02-16')).toBe(false); // Carnival Monday is a bank holiday, not public
  });

  it("the tenant's own holidays: exact dates and yearly ones", () => {
    const own = holidayCalendar({ country: null, region: null, own: [{ date: '2026-12-08', yearly: true }, { date: '2026-06-03', yearly: false }] });
    expect(own('2026-12-08')).toBe(true);
    expect(own('2031-12-08')).toBe(true);
    expect(own('2026-06-03')).toBe(true);
    expect(own('2027-06-03')).toBe(false);
    expect(own('2026-01-01')).toBe(false); // no country: no national holidays
  });

  it("a campaign window uses its own country, else the tenant's, and the tenant's own list", () => {
    const columns = { windowStartMinute: 540, windowEndMinute: 1080, windowWeekdays: [1, 2, 3, 4, 5], respectHolidays: true, holidayCountry: null, holidayRegion: null };
    const w = campaignWindow(columns, { country: 'BR', region: 'SP' }, [{ date: '2026-06-03', yearly: false }]);
    expect(w.isHoliday('2026-07-09')).toBe(true); // tenant's region
    expect(w.isHoliday('2026-06-03')).toBe(true); // tenant's own
    const us = campaignWindow({ ...columns, holidayCountry: 'US' }, { country: 'BR', region: 'SP' }, []);
    expect(us.isHoliday('2026-07-04')).toBe(true);
    expect(us.isHoliday('2026-07-09')).toBe(false); // the tenant's region belongs to BR
    const ignored = campaignWindow({ ...columns, respectHolidays: false }, { country: 'BR', region: null }, [{ date: '2026-06-03', yearly: false }]);
    expect(ignored.isHoliday('2026-04-21')).toBe(false);
    expect(ignored.isHoliday('2026-06-03')).toBe(false);
  });
});

describe('sending window: DST changes', () => {
  it('business hours keep their local time across the spring-forward change', () => {
    // New York: EST (−5) until 2026-03-08 02:00, then EDT (−4).
    expect(nextOpening(businessHours, at('2026-03-06T12:00:00Z'), NY)?.toISOString()).toBe('2026-03-06T14:00:00.000Z');
    expect(nextOpening(businessHours, at('2026-03-06T23:00:00Z'), NY)?.toISOString()).toBe('2026-03-09T13:00:00.000Z');
  });

  it('an opening inside the skipped hour opens at the first instant after the gap', () => {
    const early: WindowRules = { startMinute: 2 * 60 + 30, endMinute: 5 * 60, weekdays: [1, 2, 3, 4, 5, 6, 7], isHoliday: none };
    expect(nextOpening(early, at('2026-03-08T05:00:00Z'), NY)?.toISOString()).toBe('2026-03-08T07:00:00.000Z'); // 03:00 EDT
    expect(isOpen(early, at('2026-03-08T07:30:00Z'), NY)).toBe(true);
  });

  it('a window in the repeated hour opens at its first occurrence and spans the extra hour', () => {
    // 2026-11-01 01:00–02:00 happens twice in New York (EDT, then EST).
    const w: WindowRules = { startMinute: 90, endMinute: 180, weekdays: [1, 2, 3, 4, 5, 6, 7], isHoliday: none };
    expect(nextOpening(w, at('2026-11-01T04:00:00Z'), NY)?.toISOString()).toBe('2026-11-01T05:30:00.000Z'); // 01:30 EDT
    expect(isOpen(w, at('2026-11-01T06:45:00Z'), NY)).toBe(true); // 01:45 EST, the second time round
    expect(currentClosing(w, at('2026-11-01T05:30:00Z'), NY)?.toISOString()).toBe('2026-11-01T08:00:00.000Z'); // 03:00 EST
  });

  it('a day whose midnight does not exist (Brazil, 2018) opens at 01:00', () => {
    const sundays: WindowRules = { startMinute: null, endMinute: null, weekdays: [7], isHoliday: none };
    expect(nextOpening(sundays, at('2018-11-03T15:00:00Z'), SP)?.toISOString()).toBe('2018-11-04T03:00:00.000Z');
  });
});
