import { describe, expect, it } from 'vitest';
import { type GroupResult, KeyedBatcher } from '../../src/infra/lib/keyed-batcher.js';

/** A batcher whose writes wait until the test lets them finish, recording what each was given. */
function controlled(maxItems: number, fail: (group: string) => unknown = () => null) {
  const writes: Array<{ key: string; groups: string[]; finish(): void }> = [];
  const batcher = new KeyedBatcher<string, string>(
    (key, groups) =>
      new Promise<Array<GroupResult<string>>>((resolve) => {
        writes.push({
          key,
          groups: [...groups],
          finish: () => resolve(groups.map((g) => (fail(g) ? { ok: false, error: fail(g) } : { ok: true, value: `${key}/${g}` }))),
        });
      }),
    maxItems,
  );
  return { batcher, writes };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('group commit per key (KeyedBatcher)', () => {
  it('writes a group at once when nothing runs for its key; groups added meanwhile are written together next, in order', async () => {
    const { batcher, writes } = controlled(100);
    const first = batcher.add('k', 'a', 1);
    await tick();
    expect(writes.map((w) => w.groups)).toEqual([['a']]);

    const later = [batcher.add('k', 'b', 2), batcher.add('k', 'c', 3)];
    const other = batcher.add('other', 'x', 1); // another key does not wait for k
    await tick();
    expect(writes.map((w) => [w.key, w.groups])).toEqual([
      ['k', ['a']],
      ['other', ['x']],
    ]);

    writes[0]?.finish();
    expect(await first).toBe('k/a');
    await tick();
    expect(writes[2]).toMatchObject({ key: 'k', groups: ['b', 'c'] });
    writes[2]?.finish();
    writes[1]?.finish();
    expect(await Promise.all([...later, other])).toEqual(['k/b', 'k/c', 'other/x']);
    expect(batcher.busyKeys).toBe(0);
  });

  it('never puts more than maxItems in one write, nor splits a group (a bigger group goes alone)', async () => {
    const { batcher, writes } = controlled(5);
    const all = [batcher.add('k', 'first', 1)];
    await tick();
    all.push(batcher.add('k', 'g3', 3), batcher.add('k', 'g2', 2), batcher.add('k', 'g1', 1), batcher.add('k', 'big', 9), batcher.add('k', 'tail', 1));
    for (let i = 0; i < 4; i++) {
      writes[i]?.finish();
      await tick();
    }
    expect(writes.map((w) => w.groups)).toEqual([['first'], ['g3', 'g2'], ['g1'], ['big'], ['tail']].slice(0, writes.length));
    writes[4]?.finish();
    await Promise.all(all);
    expect(writes.map((w) => w.groups)).toEqual([['first'], ['g3', 'g2'], ['g1'], ['big'], ['tail']]);
  });

  it("gives each caller its own group's outcome; a write that throws fails all of its groups, and the next write still runs", async () => {
    const { batcher, writes } = controlled(100, (g) => (g === 'bad' ? new Error('bad row') : null));
    const first = batcher.add('k', 'first', 1);
    await tick();
    const good = batcher.add('k', 'good', 1);
    const bad = batcher.add('k', 'bad', 1);
    writes[0]?.finish();
    await first;
    await tick();
    writes[1]?.finish();
    expect(await good).toBe('k/good');
    await expect(bad).rejects.toThrow('bad row');

    const throwing = new KeyedBatcher<string>(async (_key, groups) => {
      if (groups.includes('boom')) throw new Error('connection lost');
      return groups.map(() => ({ ok: true, value: undefined }));
    }, 10);
    const results = await Promise.allSettled([throwing.add('k', 'one', 1), throwing.add('k', 'boom', 1), throwing.add('k', 'two', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    await expect(throwing.add('k', 'after', 1)).resolves.toBeUndefined();
    expect(throwing.busyKeys).toBe(0);
  });
});
