import { describe, expect, it } from 'vitest';
import { batchSlots } from '../../src/features/dispatch/batches.js';
import { SendPermits } from '../../src/features/dispatch/permits.js';

describe('send jobs from reserved slots (batchSlots)', () => {
  it('groups slots of one instance due at one instant, at most max per job, in time order', () => {
    const slots = [
      { instanceId: 'b', slot: 'b1', at: 200 },
      { instanceId: 'a', slot: 'a1', at: 100 },
      { instanceId: 'a', slot: 'a2', at: 100 },
      { instanceId: 'a', slot: 'a3', at: 100 },
      { instanceId: 'b', slot: 'b0', at: 100 },
      { instanceId: 'a', slot: 'a4', at: 150 },
    ];
    expect(batchSlots(slots, 2)).toEqual([
      { instanceId: 'a', at: 100, slots: ['a1', 'a2'] },
      { instanceId: 'a', at: 100, slots: ['a3'] },
      { instanceId: 'b', at: 100, slots: ['b0'] },
      { instanceId: 'a', at: 150, slots: ['a4'] },
      { instanceId: 'b', at: 200, slots: ['b1'] },
    ]);
  });

  it('gives every slot its own job when the instance paces its sends (no two at one instant)', () => {
    const slots = Array.from({ length: 5 }, (_, i) => ({ instanceId: 'a', slot: `s${i}`, at: 1000 * i }));
    expect(batchSlots(slots, 25).map((b) => b.slots)).toEqual([['s0'], ['s1'], ['s2'], ['s3'], ['s4']]);
  });
});

describe('per-process bound on calls in flight (SendPermits)', () => {
  it('hands out at most the capacity, first come first served, and refuses to give back more than it handed out', async () => {
    const permits = new SendPermits(4, 5);
    expect(await permits.acquire(3)).toBe(3);
    expect(await permits.acquire(10)).toBe(1);
    expect(permits.available).toBe(0);
    const order: string[] = [];
    const first = permits.acquire(2).then((n) => order.push(`first ${n}`));
    const second = permits.acquire(1).then((n) => order.push(`second ${n}`));
    permits.release(4);
    await Promise.all([first, second]);
    expect(order).toEqual(['first 2', 'second 1']);
    expect(permits.available).toBe(1);
    permits.release(3);
    expect(() => permits.release(1)).toThrow(/more permits than were handed out/);
  });

  it('a waiter holding out for several permits takes what is free once its patience runs out', async () => {
    const permits = new SendPermits(4, 20);
    expect(await permits.acquire(4)).toBe(4);
    const waiting = permits.acquire(4);
    const started = Date.now();
    permits.release(1);
    expect(await waiting).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('withOne runs the function holding one permit and gives it back even when it throws', async () => {
    const permits = new SendPermits(2);
    await expect(
      permits.withOne(async () => {
        expect(permits.available).toBe(1);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(permits.available).toBe(2);
  });
});
