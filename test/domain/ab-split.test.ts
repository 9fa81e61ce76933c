import { describe, expect, it } from 'vitest';
import { abAssignment, inTestGroup, variantIndex, variantLowerBounds } from '../../src/domain/ab-split.js';
import { nextOccurrence, occurrenceStart } from '../../src/domain/recurrence.js';

describe('A/B split at start', () => {
  it('splits by the weights, close to exact on every prefix of the audience', () => {
    const bounds = variantLowerBounds([30, 70]);
    expect(bounds).toEqual([0, 0.3]);
    const counts = [0, 0];
    for (let k = 1; k <= 10_000; k++) {
      counts[variantIndex(k, bounds)]!++;
      if (k % 100 === 0) expect(Math.abs((counts[0] as number) - k * 0.3)).toBeLessThanOrEqual(2);
    }
    expect(counts).toEqual([3000, 7000]);
  });

  it('equal weights when none is given; a zero weight gets nobody', () => {
    expect(variantLowerBounds([null, null, null])).toEqual([0, 1 / 3, 2 / 3]);
    const bounds = variantLowerBounds([50, 0, 50]);
    const seen = new Set(Array.from({ length: 1000 }, (_, k) => variantIndex(k + 1, bounds)));
    expect(seen).toEqual(new Set([0, 2]));
  });

  it('a test share picks that share of recipients, spread over the audience, and holds out the rest', () => {
    const bounds = variantLowerBounds([50, 50]);
    const inTest = Array.from({ length: 1000 }, (_, i) => inTestGroup(i + 1, 0.2));
    expect(inTest.filter(Boolean)).toHaveLength(200);
    // Spread: every block of 50 consecutive recipients has its 10 test recipients.
    for (let b = 0; b < 1000; b += 50) expect(inTest.slice(b, b + 50).filter(Boolean)).toHaveLength(10);
    const assigned = Array.from({ length: 1000 }, (_, i) => abAssignment(i + 1, 0.2, bounds));
    expect(assigned.filter((a) => a === null)).toHaveLength(800);
    expect(assigned.filter((a) => a === 0)).toHaveLength(100);
    expect(assigned.filter((a) => a === 1)).toHaveLength(100);
  });

  it('without a test share everyone gets a variant', () => {
    const bounds = variantLowerBounds([25, 25, 50]);
    const assigned = Array.from({ length: 400 }, (_, i) => abAssignment(i + 1, 0, bounds));
    expect(assigned.every((a) => a !== null)).toBe(true);
    // Low discrepancy: within one recipient of the exact share.
    expect(Math.abs(assigned.filter((a) => a === 2).length - 200)).toBeLessThanOrEqual(1);
  });
});

describe('recurring campaigns', () => {
  const zone = 'America/New_York';
  const daily = { recurrence: 'DAILY' as const, interval: 1, endAfter: null, endAt: null };

  it('a daily 09:00 campaign stays at 09:00 local across the DST change', () => {
    const first = new Date('2026-03-06T14:00:00Z'); // Friday 09:00 EST
    expect(occurrenceStart(daily, first, 4, zone).toISOString()).toBe('2026-03-09T13:00:00.000Z'); // Monday 09:00 EDT
    expect(nextOccurrence(daily, first, 1, new Date('2026-03-06T14:00:01Z'), zone)).toEqual({
      occurrence: 2,
      startAt: new Date('2026-03-07T14:00:00Z'),
    });
  });

  it('monthly on the 31st falls on the last day of shorter months without drifting', () => {
    const monthly = { ...daily, recurrence: 'MONTHLY' as const };
    const first = new Date('2026-01-31T14:00:00Z');
    expect(occurrenceStart(monthly, first, 2, zone).toISOString().slice(0, 10)).toBe('2026-02-28');
    expect(occurrenceStart(monthly, first, 3, zone).toISOString().slice(0, 10)).toBe('2026-03-31');
  });

  it('weekly every 2 weeks; ends after N occurrences or at a date', () => {
    const biweekly = { ...daily, recurrence: 'WEEKLY' as const, interval: 2 };
    const first = new Date('2026-06-01T12:00:00Z');
    expect(nextOccurrence(biweekly, first, 1, first, 'UTC')?.startAt.toISOString()).toBe('2026-06-15T12:00:00.000Z');
    expect(nextOccurrence({ ...biweekly, endAfter: 3 }, first, 2, first, 'UTC')?.occurrence).toBe(3);
    expect(nextOccurrence({ ...biweekly, endAfter: 3 }, first, 3, first, 'UTC')).toBeNull();
    expect(nextOccurrence({ ...biweekly, endAt: new Date('2026-06-20T00:00:00Z') }, first, 2, first, 'UTC')).toBeNull();
    expect(nextOccurrence({ ...biweekly, recurrence: 'NONE' }, first, 1, first, 'UTC')).toBeNull();
  });

  it('occurrences whose time passed while nothing ran are skipped, not counted', () => {
    const first = new Date('2026-06-01T12:00:00Z');
    const next = nextOccurrence(daily, first, 1, new Date('2026-06-04T13:00:00Z'), 'UTC');
    expect(next).toEqual({ occurrence: 2, startAt: new Date('2026-06-05T12:00:00Z') });
  });
});
