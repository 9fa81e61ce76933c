import { describe, expect, it } from 'vitest';
import { PROGRESS_RATE_KEYS, ratesOf } from '../../src/domain/counters.js';
import { expectedFinish, SendRate } from '../../src/domain/progress.js';

describe('live progress figures', () => {
  it('rates are delivered/sent, read/delivered and replied/delivered, null without a denominator', () => {
    expect(ratesOf({ sent: 200, delivered: 150, read: 75, replied: 15 }, PROGRESS_RATE_KEYS)).toEqual({ deliveryRate: 0.75, readRate: 0.5, replyRate: 0.1 });
    expect(ratesOf({ sent: 0, delivered: 0, read: 0, replied: 0 }, PROGRESS_RATE_KEYS)).toEqual({ deliveryRate: null, readRate: null, replyRate: null });
    expect(ratesOf({ sent: 3, delivered: 1, read: 0, replied: 0 }, PROGRESS_RATE_KEYS).deliveryRate).toBe(0.3333);
  });

  it('counts the sends of the last minute from counter snapshots, once each, whatever their order', () => {
    const rate = new SendRate();
    rate.seed(0, 10); // sends made before subscribing, counted at t=0
    rate.observe(1_000, 100); // baseline
    rate.observe(2_000, 110);
    rate.observe(3_000, 105); // a stale snapshot from another worker: no double count later
    rate.observe(4_000, 120);
    expect(rate.perMinute(5_000)).toBe(30);
    expect(rate.perMinute(60_500)).toBe(20); // the seed fell out of the window
    expect(rate.perMinute(64_500)).toBe(0);
  });

  it('expects the finish from the remaining recipients at the current speed', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(expectedFinish({ status: 'RUNNING', remaining: 300, completedAt: null }, 60, now)).toBe('2026-01-01T12:05:00.000Z');
    expect(expectedFinish({ status: 'RUNNING', remaining: 300, completedAt: null }, 0, now)).toBeNull();
    expect(expectedFinish({ status: 'PAUSED', remaining: 300, completedAt: null }, 60, now)).toBeNull();
    expect(expectedFinish({ status: 'RUNNING', remaining: 0, completedAt: null }, 60, now)).toBe('2026-01-01T12:00:00.000Z');
    expect(expectedFinish({ status: 'COMPLETED', remaining: 0, completedAt: '2026-01-01T11:00:00.000Z' }, 0, now)).toBe('2026-01-01T11:00:00.000Z');
  });
});
