import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../src/infra/lib/ttl-cache.js';

/** A loader whose loads wait until the test settles them, counting how many were started. */
function controlledLoads() {
  const started: Array<{ key: string; resolve(v: string): void; reject(e: Error): void }> = [];
  const loader = (key: string) => () =>
    new Promise<string>((resolve, reject) => {
      started.push({ key, resolve, reject });
    });
  return { started, loader };
}

describe('TtlCache', () => {
  it('serves the callers who ask while a value loads from that one load, then from the cache until it expires', async () => {
    let now = 1_000;
    const cache = new TtlCache<string>(2000, 100, () => now);
    const { started, loader } = controlledLoads();

    const asks = Array.from({ length: 50 }, () => cache.get('a', loader('a')));
    expect(started).toHaveLength(1);
    started[0]?.resolve('one');
    expect(await Promise.all(asks)).toEqual(Array(50).fill('one'));

    now += 1999;
    expect(await cache.get('a', loader('a'))).toBe('one');
    expect(started).toHaveLength(1);

    now += 1; // two seconds after the load started
    const again = cache.get('a', loader('a'));
    expect(started).toHaveLength(2);
    started[1]?.resolve('two');
    expect(await again).toBe('two');
    expect(await cache.get('b', async () => 'other key')).toBe('other key');
  });

  it('does not keep a failed load: its callers get the error, the next caller loads again', async () => {
    const cache = new TtlCache<string>(60_000);
    const { started, loader } = controlledLoads();
    const failing = [cache.get('k', loader('k')), cache.get('k', loader('k'))];
    started[0]?.reject(new Error('database down'));
    for (const p of failing) await expect(p).rejects.toThrow('database down');

    const retry = cache.get('k', loader('k'));
    expect(started).toHaveLength(2);
    started[1]?.resolve('back');
    expect(await retry).toBe('back');
  });

  it('loads again after delete, and starts over past its size bound', async () => {
    const cache = new TtlCache<string>(60_000, 2);
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('x', load)).toBe('v1');
    cache.delete('x');
    expect(await cache.get('x', load)).toBe('v2');
    await cache.get('y', load); // v3: two entries now
    await cache.get('z', load); // the bound: cleared, then z
    expect(await cache.get('x', load)).toBe('v5');
  });
});
