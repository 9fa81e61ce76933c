import { describe, expect, it } from 'vitest';
import {
  belowThreshold,
  clampHealth,
  foldHealth,
  healthDelta,
  healthStatus,
  readmissionDue,
  recoveredScore,
} from '../../src/domain/health.js';
import { effectiveLimits, readmissionFactor, unusableReason, usableForStart, warmupDailyLimit } from '../../src/domain/instances.js';
import { intelligentWeight, planRotation, type RotationCandidate } from '../../src/domain/rotation.js';
import { renderTemplate } from '../../src/domain/template.js';

const DAY = 86_400_000;

describe('health rules', () => {
  it('delivered +0.5, read +1, failed −10, clamped to 0–100 as each change applies', () => {
    expect(healthDelta(['delivered'])).toBe(0.5);
    expect(healthDelta(['delivered', 'read'])).toBe(1.5);
    expect(healthDelta(['failed'])).toBe(-10);
    expect(healthDelta(['sent', 'unfailed'])).toBe(0);
    expect(clampHealth(104)).toBe(100);
    expect(clampHealth(-3)).toBe(0);
    // Clamped per step: 100 + 1 stays 100, then −10 gives 90 (not 91).
    expect(foldHealth(100, [1, -10])).toBe(90);
    expect(foldHealth(5, [-10, 0.5])).toBe(0.5);
  });

  it('statuses: excellent ≥ 90, good ≥ 70, warning ≥ 50, critical below', () => {
    expect([100, 90, 89.5, 70, 69, 50, 49.9, 0].map(healthStatus)).toEqual([
      'EXCELLENT', 'EXCELLENT', 'GOOD', 'GOOD', 'WARNING', 'WARNING', 'CRITICAL', 'CRITICAL',
    ]);
  });

  it('an instance is paused strictly below the threshold', () => {
    expect(belowThreshold(49.5, 50)).toBe(true);
    expect(belowThreshold(50, 50)).toBe(false);
  });

  it('a resting instance recovers at the tenant rate, never past 100', () => {
    expect(recoveredScore(40, 10, 90 * 60_000)).toBe(55);
    expect(recoveredScore(95, 10, 10 * 3_600_000)).toBe(100);
    expect(recoveredScore(40, 10, -5)).toBe(40);
  });

  it('re-admission needs the cool-down over, the score back, a connection and no operator pause', () => {
    const pausedAt = new Date('2026-06-01T12:00:00Z');
    const policy = { cooldownMinutes: 60, threshold: 50 };
    const base = { autoPausedAt: pausedAt, healthScore: 60, connectionState: 'OPEN', manuallyPaused: false };
    const later = new Date(pausedAt.getTime() + 61 * 60_000);
    expect(readmissionDue(base, policy, later)).toBe(true);
    expect(readmissionDue(base, policy, new Date(pausedAt.getTime() + 59 * 60_000))).toBe(false);
    expect(readmissionDue({ ...base, healthScore: 49 }, policy, later)).toBe(false);
    expect(readmissionDue({ ...base, connectionState: 'CLOSE' }, policy, later)).toBe(false);
    expect(readmissionDue({ ...base, connectionState: 'UNKNOWN' }, policy, later)).toBe(true);
    expect(readmissionDue({ ...base, manuallyPaused: true }, policy, later)).toBe(false);
  });
});

describe('instance limits: warm-up and gradual re-admission', () => {
  const settings = {
    limitPerMinute: 20,
    limitPerHour: 500,
    limitPerDay: 1000,
    minDelayMs: 1000,
    maxDelayMs: 3000,
    warmupEnabled: true,
    warmupStartPerDay: 50,
    warmupIncrementPerDay: 100,
    warmupStartedAt: new Date('2026-06-01T00:00:00Z'),
    readmittedAt: null,
  };

  it('a warming-up instance starts at its start volume and grows by the increment each full day, up to its limit', () => {
    expect(warmupDailyLimit(settings, new Date('2026-06-01T10:00:00Z'))).toBe(50);
    expect(warmupDailyLimit(settings, new Date('2026-06-02T00:00:00Z'))).toBe(150);
    expect(warmupDailyLimit(settings, new Date('2026-06-04T12:00:00Z'))).toBe(350);
    expect(warmupDailyLimit(settings, new Date('2026-07-01T00:00:00Z'))).toBe(1000);
    expect(warmupDailyLimit({ ...settings, warmupEnabled: false }, new Date('2026-06-01T10:00:00Z'))).toBe(1000);
  });

  it('a re-admitted instance uses a quarter of its limits on the first day, +25 % a day', () => {
    const back = new Date('2026-06-10T00:00:00Z');
    expect(readmissionFactor({ readmittedAt: back }, new Date(back.getTime() + 3_600_000))).toBe(0.25);
    expect(readmissionFactor({ readmittedAt: back }, new Date(back.getTime() + 2 * DAY))).toBe(0.75);
    expect(readmissionFactor({ readmittedAt: back }, new Date(back.getTime() + 10 * DAY))).toBe(1);
    expect(effectiveLimits({ ...settings, warmupEnabled: false, readmittedAt: back }, new Date(back.getTime() + 60_000))).toEqual({
      perMinute: 5,
      perHour: 125,
      perDay: 250,
      minDelayMs: 1000,
      maxDelayMs: 3000,
    });
  });

  it('why an instance cannot send', () => {
    const ok = { manuallyPaused: false, autoPausedAt: null, connectionState: 'OPEN' };
    expect(unusableReason(ok)).toBeNull();
    expect(usableForStart({ ...ok, connectionState: 'UNKNOWN' })).toBe(true);
    expect(unusableReason({ ...ok, manuallyPaused: true })).toBe('paused by an operator');
    expect(unusableReason({ ...ok, manuallyPaused: true, pausedReason: 'Evolution refused the API key (401)' })).toBe('paused: Evolution refused the API key (401)');
    expect(unusableReason({ ...ok, autoPausedAt: new Date() })).toBe('paused by the health rules');
    expect(unusableReason({ ...ok, connectionState: 'REFUSED' })).toBe('disconnected (refused)');
  });
});

describe('rotation modes', () => {
  const a: RotationCandidate = { id: 'a', healthScore: 100, sentToday: 0, deliveredToday: 0 };
  const b: RotationCandidate = { id: 'b', healthScore: 100, sentToday: 0, deliveredToday: 0 };
  const c: RotationCandidate = { id: 'c', healthScore: 100, sentToday: 0, deliveredToday: 0 };

  it('ROUND_ROBIN takes turns in a stable order and continues where the last batch stopped', () => {
    const first = planRotation('ROUND_ROBIN', [c, a, b], 4, 0);
    expect(first.picks).toEqual(['a', 'b', 'c', 'a']);
    expect(planRotation('ROUND_ROBIN', [a, b, c], 3, first.cursor).picks).toEqual(['b', 'c', 'a']);
  });

  it('when an instance drops out, its share moves to the others', () => {
    expect(planRotation('ROUND_ROBIN', [a, c], 4, 0).picks).toEqual(['a', 'c', 'a', 'c']);
    expect(planRotation('INTELLIGENT', [b], 3, 0).picks).toEqual(['b', 'b', 'b']);
    expect(planRotation('BALANCED', [], 3, 0).picks).toEqual([]);
  });

  it('BALANCED gives the next sends to the least used today', () => {
    const busy = { ...a, sentToday: 10 };
    const idle = { ...b, sentToday: 2 };
    const { picks } = planRotation('BALANCED', [busy, idle], 10, 0);
    expect(picks.slice(0, 8)).toEqual(Array(8).fill('b'));
    expect(picks.filter((p) => p === 'a')).toHaveLength(1);
  });

  it('INTELLIGENT shares in proportion to health and delivery rate, interleaved', () => {
    const healthy = { ...a, healthScore: 100, sentToday: 100, deliveredToday: 100 };
    const poor = { ...b, healthScore: 50, sentToday: 100, deliveredToday: 50 };
    expect(intelligentWeight(healthy)).toBe(100);
    expect(intelligentWeight(poor)).toBe(38); // 50 × (0.5 + 0.5 × 0.5)
    // A small sample does not count against delivery rate yet.
    expect(intelligentWeight({ ...poor, sentToday: 5, deliveredToday: 0 })).toBe(50);
    const { picks } = planRotation('INTELLIGENT', [healthy, poor], 138, 0);
    expect(picks.filter((p) => p === 'a')).toHaveLength(100);
    expect(picks.filter((p) => p === 'b')).toHaveLength(38);
    expect(picks.slice(0, 4)).toContain('b');
  });
});

describe('template rendering around a DST change', () => {
  it('the greeting follows the local hour after the clocks move', () => {
    const contact = { name: 'Ana', phone: '+12125550100', referredBy: null, customFields: {}, timezone: 'America/New_York' };
    // 16:30 UTC is 11:30 EST on Saturday 7 March 2026 and 12:30 EDT on Sunday 8 March.
    expect(renderTemplate('{{saudacao}} {{dia_semana}}', contact, new Date('2026-03-07T16:30:00Z'))).toBe('Bom dia sábado');
    expect(renderTemplate('{{saudacao}} {{dia_semana}}', contact, new Date('2026-03-08T16:30:00Z'))).toBe('Boa tarde domingo');
  });
});
