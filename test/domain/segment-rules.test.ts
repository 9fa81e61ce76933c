import { describe, expect, it } from 'vitest';
import { PREDEFINED_SEGMENTS, parseStoredRules, rulesToJson, segmentRulesSchema } from '../../src/domain/segment-rules.js';

const issues = (value: unknown) => {
  const r = segmentRulesSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('segment rules', () => {
  it('accepts every operator with the value it takes', () => {
    const rules = {
      tags: { any: ['a'], all: ['b'], none: ['c'] },
      customFields: [
        { field: 'x', op: 'eq', value: 'text' },
        { field: 'x', op: 'neq', value: true },
        { field: 'x', op: 'gt', value: 1 },
        { field: 'x', op: 'gte', value: '2024-01-01' },
        { field: 'x', op: 'lt', value: 2.5 },
        { field: 'x', op: 'lte', value: 0 },
        { field: 'x', op: 'contains', value: 'ab' },
        { field: 'x', op: 'in', value: ['a', 1, false] },
        { field: 'x', op: 'exists' },
        { field: 'x', op: 'not_exists', value: null },
      ],
      lastInteraction: { before: '2025-01-02T00:00:00Z', after: '2025-01-01T00:00:00Z', withinDays: 3, notWithinDays: 1 },
      engagement: [{ metric: 'READ', op: 'gte', count: 1, withinDays: 30 }],
      createdWithinDays: 7,
    };
    expect(issues(rules)).toEqual([]);
    const parsed = segmentRulesSchema.parse(rules);
    expect(parsed.lastInteraction?.before).toEqual(new Date('2025-01-02T00:00:00Z'));
  });

  it('names the path and the reason of every wrong value', () => {
    expect(issues({ customFields: [{ field: '9lives', op: 'eq', value: 1 }] })).toEqual([
      { path: 'customFields.0.field', message: 'custom field names are letters, digits and _' },
    ]);
    expect(issues({ customFields: [{ field: 'x', op: 'exists', value: 1 }] })).toEqual([{ path: 'customFields.0.value', message: 'exists takes no value' }]);
    expect(issues({ customFields: [{ field: 'x', op: 'in', value: [] }] })).toEqual([{ path: 'customFields.0.value', message: 'in takes a non-empty list of values' }]);
    expect(issues({ customFields: [{ field: 'x', op: 'eq' }] })).toEqual([{ path: 'customFields.0.value', message: 'eq takes one value' }]);
    expect(issues({ customFields: [{ field: 'x', op: 'lt', value: false }] })).toEqual([
      { path: 'customFields.0.value', message: 'lt compares numbers or text (ISO dates compare as text)' },
    ]);
    expect(issues({ customFields: [{ field: 'x', op: 'contains', value: 3 }] })).toEqual([{ path: 'customFields.0.value', message: 'contains takes text' }]);
    expect(issues({ lastInteraction: {} })).toEqual([{ path: 'lastInteraction', message: 'give before, after, withinDays or notWithinDays' }]);
    expect(issues({ lastInteraction: { before: '2025-01-01', after: '2025-01-01' } })).toEqual([{ path: 'lastInteraction', message: 'before must be later than after' }]);
    expect(issues({ engagement: [{ metric: 'OPENED', op: 'gte', count: 1 }] }).map((i) => i.path)).toEqual(['engagement.0.metric']);
    expect(issues({ createdWithinDays: 0 }).map((i) => i.path)).toEqual(['createdWithinDays']);
    expect(issues({ unknown: 1 }).map((i) => i.message)).toEqual([expect.stringMatching(/unknown/i)]);
  });

  it('round-trips through storage, and reads the legacy tag document', () => {
    const rules = segmentRulesSchema.parse({ tags: { any: ['vip'] }, lastInteraction: { before: '2025-01-02T00:00:00.000Z', after: null } });
    const json = rulesToJson(rules);
    expect(json).toEqual({ tags: { any: ['vip'] }, lastInteraction: { before: '2025-01-02T00:00:00.000Z' } });
    expect(parseStoredRules(json)).toEqual(segmentRulesSchema.parse(json));
    expect(parseStoredRules({ tagsAny: ['a'], tagsNone: ['b'] })).toEqual({ tags: { any: ['a'], all: [], none: ['b'] } });
    expect(parseStoredRules(null)).toEqual({});
  });

  it('defines the predefined segments with valid rules and distinct keys', () => {
    expect(PREDEFINED_SEGMENTS.map((s) => s.key)).toEqual(['new_7d', 'engaged', 'inactive_30d']);
    for (const s of PREDEFINED_SEGMENTS) expect(issues(s.rules), s.key).toEqual([]);
  });
});
