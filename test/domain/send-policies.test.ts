import { describe, expect, it } from 'vitest';
import {
  campaignLimits,
  countPicks,
  nextPumpDelayMs,
  parseSnapshot,
  rotationChange,
  sendsToSchedule,
  shortfallShare,
} from '../../src/domain/pacing.js';
import { backoffMs, decideSendOutcome, FAILED_SEND_HEALTH, type SendFacts, throttleWaitMs } from '../../src/domain/send-outcome.js';
import { retryAfterMs } from '../../src/infra/evolution/client.js';

const facts: SendFacts = { attempts: 1, maxAttempts: 3, phone: '+5511999990001', instanceName: 'loja-1', nowMs: 1_000_000 };

describe('what a send outcome means', () => {
  it('accepted: sent', () => {
    expect(decideSendOutcome({ kind: 'sent' }, facts)).toEqual({ kind: 'sent' });
  });

  it('a number not on WhatsApp fails at once, suppresses the contact, and is not the instance\'s fault', () => {
    const d = decideSendOutcome({ kind: 'not_on_whatsapp', httpStatus: 400, message: 'exists: false' }, facts);
    expect(d).toMatchObject({ kind: 'fail', code: 'NOT_ON_WHATSAPP', suppressContact: true, instanceError: false, response: 'exists: false' });
  });

  it('a 5xx is retried with a growing backoff while attempts remain, then fails against the instance', () => {
    const outcome = { kind: 'unavailable' as const, httpStatus: 503, message: 'busy' };
    expect(decideSendOutcome(outcome, facts)).toEqual({ kind: 'retry', code: 'UNAVAILABLE', message: 'busy', atMs: facts.nowMs + 2000, attempt: 1 });
    expect(decideSendOutcome(outcome, { ...facts, attempts: 2 })).toMatchObject({ kind: 'retry', atMs: facts.nowMs + 4000 });
    expect(decideSendOutcome(outcome, { ...facts, attempts: 3 })).toMatchObject({
      kind: 'fail',
      code: 'UNAVAILABLE',
      instanceError: true,
      suppressContact: false,
      message: 'gave up after 3 attempts: busy',
    });
    expect([1, 2, 3, 10, 20].map(backoffMs)).toEqual([2000, 4000, 8000, 300_000, 300_000]);
  });

  it('no answer at all waits for the server without using an attempt', () => {
    expect(decideSendOutcome({ kind: 'unavailable', httpStatus: null, message: 'ECONNREFUSED' }, { ...facts, attempts: 3 })).toEqual({
      kind: 'wait-for-server',
      reason: 'ECONNREFUSED',
    });
  });

  it('a throttled send is deferred, on its last attempt too: never a failure, no attempt used', () => {
    expect(decideSendOutcome({ kind: 'throttled', httpStatus: 429, message: 'Too Many Requests', retryAfterMs: 3000 }, { ...facts, attempts: 3 })).toEqual({
      kind: 'throttle',
      reason: 'throttled (429): Too Many Requests',
      retryAfterMs: 3000,
    });
    // The instance's wait doubles with each deferral since its last success (2 s … 10 min); a longer Retry-After wins (up to an hour).
    expect([1, 2, 3, 9, 10, 40].map((n) => throttleWaitMs(n, null))).toEqual([2000, 4000, 8000, 512_000, 600_000, 600_000]);
    expect(throttleWaitMs(1, 30_000)).toBe(30_000);
    expect(throttleWaitMs(3, 1000)).toBe(8000);
    expect(throttleWaitMs(1, 86_400_000)).toBe(3_600_000);
    // Retry-After in seconds or as an HTTP date.
    expect(retryAfterMs('5')).toBe(5000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });

  it('a refused message fails against the instance; a bad key or an unknown instance pauses the instance', () => {
    expect(decideSendOutcome({ kind: 'rejected', httpStatus: 400, message: 'bad media' }, facts)).toMatchObject({
      kind: 'fail',
      code: 'REJECTED',
      instanceError: true,
      message: 'Evolution refused the message (400): bad media',
    });
    expect(decideSendOutcome({ kind: 'unauthorized', httpStatus: 401, message: 'Unauthorized' }, facts)).toMatchObject({ kind: 'pause-instance', response: 'Unauthorized' });
    expect(decideSendOutcome({ kind: 'instance_not_found', httpStatus: 404, message: 'nope' }, facts)).toMatchObject({
      kind: 'pause-instance',
      reason: 'Evolution does not know instance "loja-1" (404)',
    });
    expect(FAILED_SEND_HEALTH).toBeLessThan(0);
  });

  it('an outcome that may have left is unknown; without any answer it is the transport, not the instance', () => {
    expect(decideSendOutcome({ kind: 'unknown', httpStatus: null, message: 'timed out' }, facts)).toEqual({ kind: 'unknown', reason: 'timed out', transport: true });
    expect(decideSendOutcome({ kind: 'unknown', httpStatus: 500, message: 'odd body' }, facts)).toEqual({ kind: 'unknown', reason: 'odd body', transport: false });
  });
});

describe('the pump\'s arithmetic', () => {
  const demand = { ready: 1000, outstanding: 0, tenantOutstanding: 0, lookahead: 100, tenantLookahead: 200, runningCampaigns: 1 };

  it('a campaign schedules up to its lookahead, less what it has outstanding, within the tenant\'s fair share', () => {
    expect(sendsToSchedule(demand)).toBe(100);
    expect(sendsToSchedule({ ...demand, outstanding: 30 })).toBe(70);
    expect(sendsToSchedule({ ...demand, ready: 10 })).toBe(10);
    // Four running campaigns share 200: 50 each.
    expect(sendsToSchedule({ ...demand, runningCampaigns: 4 })).toBe(50);
    // The tenant's queue is full: nothing, whatever this campaign's own share.
    expect(sendsToSchedule({ ...demand, tenantOutstanding: 200 })).toBeLessThanOrEqual(0);
  });

  it("a campaign's delays raise an instance's, never lower them", () => {
    const inst = { perMinute: 20, minDelayMs: 1000, maxDelayMs: 3000 };
    expect(campaignLimits(inst, { minDelayMs: null, maxDelayMs: null })).toEqual(inst);
    expect(campaignLimits(inst, { minDelayMs: 500, maxDelayMs: 2000 })).toEqual(inst);
    expect(campaignLimits(inst, { minDelayMs: 5000, maxDelayMs: null })).toEqual({ perMinute: 20, minDelayMs: 5000, maxDelayMs: 5000 });
    expect(campaignLimits(inst, { minDelayMs: 2000, maxDelayMs: 8000 })).toEqual({ perMinute: 20, minDelayMs: 2000, maxDelayMs: 8000 });
  });

  it('picks count per instance; a shortfall is spread over the instances with room', () => {
    expect([...countPicks(['a', 'b', 'a', 'c', 'a'])]).toEqual([
      ['a', 3],
      ['b', 1],
      ['c', 1],
    ]);
    // 7 missing over 3 instances with room: 3, then what is left over 2, then over 1.
    expect(shortfallShare(7, 0, 3)).toBe(3);
    expect(shortfallShare(4, 1, 3)).toBe(2);
    expect(shortfallShare(2, 2, 3)).toBe(2);
  });

  it('the next pump comes before the horizon runs out, or soon after the next slot a limit allows', () => {
    expect(nextPumpDelayMs(null, 0, 5000)).toBe(2500);
    expect(nextPumpDelayMs(60_000, 0, 5000)).toBe(2500);
    expect(nextPumpDelayMs(3000, 0, 5000)).toBe(500);
    expect(nextPumpDelayMs(1000, 0, 5000)).toBe(100);
  });

  it('a rotation change is the instances that joined and left, or nothing when mode and set are the same', () => {
    expect(rotationChange(null, 'BALANCED', ['b', 'a'])).toEqual({ snapshot: { mode: 'BALANCED', instances: ['a', 'b'] }, added: ['a', 'b'], removed: [] });
    const stored = parseSnapshot({ mode: 'BALANCED', instances: ['a', 'b'] });
    expect(rotationChange(stored, 'BALANCED', ['b', 'a'])).toBeNull();
    expect(rotationChange(stored, 'BALANCED', ['a', 'c'])).toMatchObject({ added: ['c'], removed: ['b'] });
    expect(rotationChange(stored, 'INTELLIGENT', ['a', 'b'])).toMatchObject({ added: [], removed: [] });
    expect(parseSnapshot('nonsense')).toBeNull();
  });
});
