import { describe, expect, it } from 'vitest';
import { type PlanInstance, planCampaign } from '../../src/domain/plan.js';
import { holidayCalendar, type WindowRules } from '../../src/domain/window.js';

const SP = 'America/Sao_Paulo';
const none = () => false;
const businessHours: WindowRules = { startMinute: 540, endMinute: 1080, weekdays: [1, 2, 3, 4, 5], isHoliday: none };

function instance(over: Partial<PlanInstance> = {}): PlanInstance {
  return {
    id: over.id ?? 'i1',
    name: over.name ?? 'inst-1',
    unusable: null,
    healthScore: 100,
    autoPaused: false,
    sentToday: 0,
    limitPerMinute: 20,
    limitPerHour: 500,
    limitPerDay: 5000,
    minDelayMs: 0,
    maxDelayMs: 0,
    warmupEnabled: false,
    warmupStartPerDay: 50,
    warmupIncrementPerDay: 50,
    warmupStartedAt: null,
    readmittedAt: null,
    ...over,
  };
}

const base = {
  start: new Date('2026-06-01T12:00:00Z'), // Monday 09:00 in São Paulo
  tenantZone: SP,
  window: businessHours,
  campaignDelay: { minDelayMs: null, maxDelayMs: null },
};

describe('campaign plan', () => {
  it('paces at the per-minute limit and waits for the next hour when the hourly limit is used up', () => {
    const plan = planCampaign({ ...base, audience: [{ zone: SP, count: 1000 }], instances: [instance()] });
    // 500 in the first hour at 20/min (25 min), the next 500 from 10:00: done at 10:25.
    expect(plan.expectedFinish?.toISOString()).toBe('2026-06-01T13:25:00.000Z');
    expect(plan).toMatchObject({ audience: 1000, fits: true, days: 1, perDay: [{ date: '2026-06-01', volume: 1000 }] });
    expect(plan.dailyCapacity).toBe(5000);
    expect(plan.warnings).toEqual([]);
  });

  it('the random delay slows an instance below its per-minute limit', () => {
    const plan = planCampaign({ ...base, audience: [{ zone: SP, count: 100 }], instances: [instance({ limitPerMinute: 1000, minDelayMs: 2000, maxDelayMs: 4000 })] });
    expect(plan.expectedFinish?.toISOString()).toBe('2026-06-01T12:05:00.000Z'); // 20 a minute
    const slower = planCampaign({ ...base, audience: [{ zone: SP, count: 100 }], instances: [instance({ limitPerMinute: 1000 })], campaignDelay: { minDelayMs: 6000, maxDelayMs: 6000 } });
    expect(slower.expectedFinish?.toISOString()).toBe('2026-06-01T12:10:00.000Z');
  });

  it('spreads over days by the daily limits, skipping holidays, and says so', () => {
    const plan = planCampaign({
      ...base,
      start: new Date('2026-04-20T12:00:00Z'), // Monday; Tuesday 21 April is Tiradentes
      window: { ...businessHours, isHoliday: holidayCalendar({ country: 'BR', region: null, own: [] }) },
      audience: [{ zone: SP, count: 1500 }],
      instances: [instance({ id: 'a', name: 'a', limitPerMinute: 100, limitPerDay: 300 }), instance({ id: 'b', name: 'b', limitPerMinute: 100, limitPerDay: 300 })],
    });
    expect(plan.perDay).toEqual([
      { date: '2026-04-20', volume: 600 },
      { date: '2026-04-22', volume: 600 },
      { date: '2026-04-23', volume: 300 },
    ]);
    expect(plan.days).toBe(3);
    expect(plan.fits).toBe(true);
    expect(plan.expectedFinish?.toISOString().slice(0, 10)).toBe('2026-04-23');
    expect(plan.warnings).toEqual(expect.arrayContaining(['no sending on holidays: 2026-04-21', "sending spans 3 days at the instances' limits and window"]));
  });

  it('a warming-up instance grows its daily volume day by day', () => {
    const plan = planCampaign({
      ...base,
      audience: [{ zone: SP, count: 300 }],
      instances: [instance({ warmupEnabled: true, warmupStartedAt: new Date('2026-06-01T00:00:00Z'), warmupStartPerDay: 50, warmupIncrementPerDay: 50, limitPerDay: 1000 })],
    });
    expect(plan.perDay.map((d) => d.volume)).toEqual([50, 100, 150]);
    expect(plan.warnings).toEqual(expect.arrayContaining(['inst-1 is warming up: 50 messages today, growing by 50 a day up to 1000']));
  });

  it('warns about unhealthy and unusable instances; with none usable it does not fit', () => {
    const five = [
      instance({ id: '1', name: 'one' }),
      instance({ id: '2', name: 'two' }),
      instance({ id: '3', name: 'three', healthScore: 40, autoPaused: true, unusable: 'paused by the health rules' }),
      instance({ id: '4', name: 'four', healthScore: 45, autoPaused: true, unusable: 'paused by the health rules' }),
      instance({ id: '5', name: 'five', healthScore: 60 }),
    ];
    const plan = planCampaign({ ...base, audience: [{ zone: SP, count: 10 }], instances: five });
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        '3 of 5 instances are unhealthy: three (health 40), four (health 45), five (health 60)',
        '2 of 5 instances cannot send: three (paused by the health rules), four (paused by the health rules)',
      ]),
    );
    expect(plan.fits).toBe(true);
    const none = planCampaign({ ...base, audience: [{ zone: SP, count: 10 }], instances: five.slice(2, 4) });
    expect(none).toMatchObject({ fits: false, expectedFinish: null });
    expect(none.warnings).toContain('no instance can send: the campaign cannot run');
  });

  it("in each contact's zone: the other zone's share goes out when its window opens", () => {
    const plan = planCampaign({
      ...base,
      audience: [
        { zone: SP, count: 20 },
        { zone: 'Asia/Tokyo', count: 20 },
      ],
      instances: [instance()],
    });
    // São Paulo's 20 by 09:01; Tokyo opens at 09:00 JST (Tuesday 00:00Z) and is done a minute later.
    expect(plan.expectedFinish?.toISOString()).toBe('2026-06-02T00:01:00.000Z');
    expect(plan.perDay).toEqual([{ date: '2026-06-01', volume: 40 }]);
  });

  it('does not fit when it would still be sending at the next occurrence, or beyond the horizon', () => {
    const late = planCampaign({ ...base, audience: [{ zone: SP, count: 6000 }], instances: [instance({ limitPerMinute: 100, limitPerHour: 6000 })], deadline: new Date('2026-06-02T12:00:00Z') });
    expect(late.fits).toBe(false);
    expect(late.expectedFinish?.toISOString().slice(0, 10)).toBe('2026-06-02');
    expect(late.warnings.some((w) => w.startsWith('the campaign would still be sending when its next occurrence starts'))).toBe(true);
    const never = planCampaign({ ...base, audience: [{ zone: SP, count: 100_000 }], instances: [instance({ limitPerDay: 100 })], horizonDays: 10 });
    expect(never).toMatchObject({ fits: false, expectedFinish: null });
    expect(never.warnings.some((w) => w.startsWith('the audience does not fit in 10 days'))).toBe(true);
  });
});
