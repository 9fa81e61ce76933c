import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { InstanceLimiter } from '../../src/features/dispatch/limiter.js';
import { createRedis } from '../../src/infra/redis.js';

const redis = createRedis('command');
const limiter = new InstanceLimiter(redis);
const limits = { perMinute: 2, perHour: 100, perDay: 1000, minDelayMs: 0, maxDelayMs: 0 };
const t0 = Date.UTC(2026, 5, 1, 12);
// Every key of the limiter is a tenant's (one Redis Cluster slot per tenant).
const tenantId = randomUUID();

describe('instance limiter (Redis)', () => {
  afterAll(async () => {
    await redis.quit();
  });

  it('reserves slots so that no 60 s holds more than the per-minute limit', async () => {
    const id = randomUUID();
    const r = await limiter.reserve(tenantId, id, limits, 5, { now: t0, horizonMs: 200_000, localDay: '2026-06-01' });
    // A minute here is 61 s: the limiter's guard (LIMIT_WINDOW_GUARD_MS) for the delay until Evolution handles a send.
    expect(r.slots.map((s) => s.at - t0)).toEqual([0, 0, 61_000, 61_000, 122_000]);
    const more = await limiter.reserve(tenantId, id, limits, 1, { now: t0, horizonMs: 10_000, localDay: '2026-06-01' });
    expect(more).toMatchObject({ slots: [], stoppedBy: 'horizon', nextAt: t0 + 122_000 });
  });

  it('the daily limit counts per local day, and a released slot is given back', async () => {
    const id = randomUUID();
    const day = { ...limits, perMinute: 100, perDay: 3 };
    const r = await limiter.reserve(tenantId, id, day, 5, { now: t0, horizonMs: 5000, localDay: '2026-06-01' });
    expect(r.slots).toHaveLength(3);
    expect(r.stoppedBy).toBe('day');
    expect(await limiter.release(tenantId, id, r.slots[0]!.id, '2026-06-01')).toBe(true);
    expect((await limiter.reserve(tenantId, id, day, 5, { now: t0, horizonMs: 5000, localDay: '2026-06-01' })).slots).toHaveLength(1);
    expect((await limiter.reserve(tenantId, id, day, 5, { now: t0, horizonMs: 5000, localDay: '2026-06-02' })).slots).toHaveLength(3);
  });

  it('at send time, a slot reserved before earlier sends ran late is refused rather than crowd the minute', async () => {
    const id = randomUUID();
    const [a, b, c] = (await limiter.reserve(tenantId, id, limits, 3, { now: t0, horizonMs: 70_000, localDay: '2026-06-01' })).slots;
    expect(c!.at).toBe(t0 + 61_000);
    // a and b were due at t0 but their jobs ran 50 s late: they are recorded at that time.
    expect(await limiter.confirm(tenantId, id, a!.id, limits, t0 + 50_000)).toBe(true);
    expect(await limiter.confirm(tenantId, id, b!.id, limits, t0 + 50_000)).toBe(true);
    // c, due at t0 + 60 s, would make three sends in ten seconds.
    expect(await limiter.confirm(tenantId, id, c!.id, limits, t0 + 60_000)).toBe(false);
    expect(await limiter.release(tenantId, id, c!.id, '2026-06-01')).toBe(true);
    // A new reservation starts from the actual sends.
    const next = await limiter.reserve(tenantId, id, limits, 1, { now: t0 + 60_000, horizonMs: 70_000, localDay: '2026-06-01' });
    expect(next.slots[0]?.at).toBe(t0 + 111_000);
    expect(await limiter.confirm(tenantId, id, next.slots[0]!.id, limits, t0 + 111_000)).toBe(true);
  });

  it('a send answered late counts from its answer: its slot moves later, never earlier', async () => {
    const id = randomUUID();
    const [a, b] = (await limiter.reserve(tenantId, id, limits, 2, { now: t0, horizonMs: 1000, localDay: '2026-06-01' })).slots;
    expect(await limiter.confirmMany(tenantId, id, [a!.id, b!.id], limits, t0)).toBe(2);
    // a was answered 10 s later (Evolution hung): it counts from then; an earlier time changes nothing.
    expect(await limiter.restamp(tenantId, id, [{ slot: a!.id, at: t0 + 10_000 }, { slot: b!.id, at: t0 - 5000 }, { slot: 'gone', at: t0 }])).toBe(1);
    // At t0 + 65 s, b's minute is over but a's is not: one send fits, not two.
    const next = (await limiter.reserve(tenantId, id, limits, 2, { now: t0 + 65_000, horizonMs: 1000, localDay: '2026-06-01' })).slots;
    expect(next.map((s) => s.at - t0)).toEqual([65_000]);
  });

  it('confirms several slots in order up to the first the minute refuses, and gives back several at once', async () => {
    const id = randomUUID();
    const ids = (await limiter.reserve(tenantId, id, limits, 3, { now: t0, horizonMs: 70_000, localDay: '2026-06-01' })).slots.map((s) => s.id);
    // Confirmed together 50 s late, as if one by one: the first two fill the minute, the third is refused.
    expect(await limiter.confirmMany(tenantId, id, ids, limits, t0 + 50_000)).toBe(2);
    expect(await limiter.confirm(tenantId, id, ids[2]!, limits, t0 + 50_000)).toBe(false);
    // The refused one and an unknown id: only the held one counts as given back.
    expect(await limiter.releaseMany(tenantId, id, [ids[2]!, 'no-such-slot'], '2026-06-01')).toBe(1);
    expect(await limiter.confirmMany(tenantId, id, [], limits, t0 + 50_000)).toBe(0);
  });

  it("a campaign's caps hold over all its instances, at reservation and at send time; without caps nothing changes", async () => {
    const [i1, i2, campaignId] = [randomUUID(), randomUUID(), randomUUID()];
    const wide = { ...limits, perMinute: 10 };
    const caps = { campaignId, perMinute: 3, perHour: null, perDay: 5 };
    const opts = { now: t0, horizonMs: 200_000, localDay: '2026-06-01' };
    const a = await limiter.reserve(tenantId, i1, wide, 2, opts, caps);
    const b = await limiter.reserve(tenantId, i2, wide, 3, opts, caps);
    // Each instance alone would take all now; together they share the campaign's 3 a minute.
    expect(a.slots.map((s) => s.at - t0)).toEqual([0, 0]);
    expect(b.slots.map((s) => s.at - t0)).toEqual([0, 61_000, 61_000]);
    // The day's cap (5) is used up: the campaign's, not an instance's.
    expect(await limiter.reserve(tenantId, i1, wide, 1, opts, caps)).toMatchObject({ slots: [], stoppedBy: 'campaign-day' });
    // A released slot is given back to the campaign too.
    expect(await limiter.releaseMany(tenantId, i2, [b.slots[2]!.id], '2026-06-01', caps)).toBe(1);
    expect((await limiter.reserve(tenantId, i1, wide, 1, opts, caps)).slots.map((s) => s.at - t0)).toEqual([61_000]);
    // At send time: the three due at t0 ran 50 s late; a slot of the next minute confirmed at t0 + 60 s would make four in ten seconds.
    expect(await limiter.confirmMany(tenantId, i1, a.slots.map((s) => s.id), wide, t0 + 50_000, caps)).toBe(2);
    expect(await limiter.confirmMany(tenantId, i2, [b.slots[0]!.id], wide, t0 + 50_000, caps)).toBe(1);
    expect(await limiter.confirmMany(tenantId, i2, [b.slots[1]!.id], wide, t0 + 60_000, caps)).toBe(0);
    // Without caps, the same instance confirms it (its own minute has room).
    expect(await limiter.confirmMany(tenantId, i2, [b.slots[1]!.id], wide, t0 + 60_000)).toBe(1);
  });
});
