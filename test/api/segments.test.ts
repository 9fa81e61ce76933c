import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import type { SegmentRulesInput } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { addContacts, newTenant } from '../helpers/factories.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1] as string;
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

let statements = 0;
prisma.$on('query', () => {
  statements++;
});

const Preview = graphql(`
  query SgPreview($rules: SegmentRulesInput!, $sampleSize: Int) {
    segmentPreview(rules: $rules, sampleSize: $sampleSize) {
      __typename
      ... on SegmentPreviewSuccess { data { count sample { id phone } } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const Create = graphql(`
  mutation SgCreate($input: CreateSegmentInput!) {
    createSegment(input: $input) {
      __typename
      ... on CreateSegmentSuccess {
        data {
          id name description predefined systemKey contactCount
          rules {
            tags { any all none }
            customFields { field op value }
            lastInteraction { before after withinDays notWithinDays }
            engagement { metric op count withinDays }
            createdWithinDays
          }
        }
      }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const Update = graphql(`
  mutation SgUpdate($id: ID!, $input: UpdateSegmentInput!) {
    updateSegment(id: $id, input: $input) {
      __typename
      ... on UpdateSegmentSuccess { data { id name description contactCount rules { tags { any } } } }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on NotFoundError { resource id }
      ... on Error { message }
    }
  }
`);

const Remove = graphql(`
  mutation SgDelete($id: ID!) {
    deleteSegment(id: $id) {
      __typename
      ... on DeleteSegmentSuccess { data }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on NotFoundError { resource id }
      ... on Error { message }
    }
  }
`);

const List = graphql(`
  query SgList($search: String, $predefined: Boolean, $orderBy: SegmentOrder, $first: Int) {
    segments(search: $search, predefined: $predefined, orderBy: $orderBy, first: $first) {
      edges { node { id name predefined systemKey contactCount } }
    }
  }
`);

const Node = graphql(`
  query SgNode($id: ID!) {
    node(id: $id) { id ... on Segment { name contactCount } }
  }
`);

const ContactsOfSegment = graphql(`
  query SgContacts($segmentId: ID!) {
    contacts(filter: { segmentId: $segmentId }, first: 50, orderBy: { field: PHONE }) { totalCount edges { node { phone } } }
  }
`);

const CreateCampaign = graphql(`
  mutation SgCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

// c1..c4 can receive; c5 opted out, c6 blocked, c7 not on WhatsApp (all three match most rules).
const P = {
  c1: '+5511910000001',
  c2: '+5511910000002',
  c3: '+5511910000003',
  c4: '+5511910000004',
  c5: '+5511910000005',
  c6: '+5511910000006',
  c7: '+5511910000007',
} as const;
type Name = keyof typeof P;

describe('segments through GraphQL', () => {
  let stack: Stack;
  let a: { tenantId: string; key: string };
  let b: { tenantId: string; key: string };
  let viewerKey: string;
  const ids = {} as Record<Name, string>;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    a = await newTenant('Segments A');
    b = await newTenant('Segments B');
    viewerKey = (await createApiKey(a.tenantId, 'viewer', 'VIEWER')).key;
    await addContacts(stack, a.key, [
      { phone: P.c1, tags: ['vip', 'sp'] },
      { phone: P.c2, tags: ['vip'] },
      { phone: P.c3, tags: ['sp'] },
      { phone: P.c4, tags: [] },
      { phone: P.c5, tags: ['vip', 'sp'] },
      { phone: P.c6, tags: ['vip'] },
      { phone: P.c7, tags: ['vip'] },
    ]);
    const rows = await prisma.contact.findMany({ where: { tenantId: a.tenantId } });
    for (const [name, phone] of Object.entries(P) as Array<[Name, string]>) ids[name] = rows.find((r) => r.phone === phone)?.id as string;
    const set = (name: Name, data: Parameters<typeof prisma.contact.update>[0]['data']) => prisma.contact.update({ where: { id: ids[name] }, data });
    await set('c1', { customFields: { cidade: 'SP', idade: 30, plano: 'ouro', ativo: true, nascimento: '1990-05-01' }, lastInteractionAt: daysAgo(2) });
    // As a CSV import stores them: numbers and booleans as text.
    await set('c2', { customFields: { cidade: 'RJ', idade: '41', plano: 'prata', ativo: 'true' }, lastInteractionAt: daysAgo(40) });
    await set('c3', { customFields: { cidade: 'São Paulo', idade: 25, nascimento: '2001-01-31' }, createdAt: daysAgo(10) });
    await set('c4', { lastInteractionAt: daysAgo(10), createdAt: daysAgo(20) });
    await set('c5', { customFields: { cidade: 'SP', idade: 30, ativo: true, nascimento: '1990-05-01' }, lastInteractionAt: daysAgo(1), optedOut: true });
    await set('c6', { customFields: { cidade: 'SP', idade: 30 }, lastInteractionAt: daysAgo(1), blocked: true });
    await set('c7', { customFields: { cidade: 'SP', idade: 30 }, lastInteractionAt: daysAgo(1), notOnWhatsapp: true });

    // Engagement history in two campaigns (one recipient per campaign and contact).
    const campaign = async (name: string) => {
      const r = await gqlOk(stack.url, a.key, CreateCampaign, { input: { name } });
      if (r.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(r));
      return rawId(r.createCampaign.data.id);
    };
    const [x, y] = [await campaign('Engagement X'), await campaign('Engagement Y')];
    let seq = 0;
    const recipient = (campaignId: string, name: Name, status: 'SENT' | 'DELIVERED' | 'READ' | 'FAILED', at: Record<string, Date>) =>
      prisma.recipient.create({ data: { tenantId: a.tenantId, campaignId, contactId: ids[name], phone: P[name], seq: ++seq, status, ...at } });
    await recipient(x, 'c1', 'READ', { sentAt: daysAgo(6), deliveredAt: daysAgo(6), readAt: daysAgo(5) });
    await recipient(x, 'c2', 'DELIVERED', { sentAt: daysAgo(6), deliveredAt: daysAgo(6) });
    await recipient(x, 'c3', 'READ', { sentAt: daysAgo(41), deliveredAt: daysAgo(41), readAt: daysAgo(40) });
    await recipient(x, 'c4', 'FAILED', { sentAt: daysAgo(6), failedAt: daysAgo(6) });
    await recipient(x, 'c5', 'READ', { sentAt: daysAgo(3), deliveredAt: daysAgo(3), readAt: daysAgo(3) });
    await recipient(y, 'c1', 'READ', { sentAt: daysAgo(1), deliveredAt: daysAgo(1), readAt: daysAgo(1), repliedAt: daysAgo(1) });
    await recipient(y, 'c2', 'SENT', { sentAt: daysAgo(1) });
  });
  afterAll(async () => {
    await stack.close();
  });

  async function preview(rules: SegmentRulesInput, key = a.key) {
    const r = await gqlOk(stack.url, key, Preview, { rules, sampleSize: 100 });
    if (r.segmentPreview.__typename !== 'SegmentPreviewSuccess') throw new Error(JSON.stringify(r));
    return r.segmentPreview.data;
  }
  const names = (sample: Array<{ phone: string }>) =>
    sample.map((s) => (Object.entries(P).find(([, p]) => p === s.phone)?.[0] ?? s.phone) as Name).sort();

  const cases: Array<[string, SegmentRulesInput, Name[]]> = [
    ['no rules: every reachable contact', {}, ['c1', 'c2', 'c3', 'c4']],
    ['tags any', { tags: { any: ['vip'] } }, ['c1', 'c2']],
    ['tags all', { tags: { all: ['vip', 'sp'] } }, ['c1']],
    ['tags none', { tags: { none: ['vip'] } }, ['c3', 'c4']],
    ['tags any and none', { tags: { any: ['sp'], none: ['vip'] } }, ['c3']],
    ['EQ text', { customFields: [{ field: 'cidade', op: 'EQ', value: 'SP' }] }, ['c1']],
    ['EQ boolean matches true and "true"', { customFields: [{ field: 'ativo', op: 'EQ', value: true }] }, ['c1', 'c2']],
    ['EQ number matches 41 and "41"', { customFields: [{ field: 'idade', op: 'EQ', value: 41 }] }, ['c2']],
    ['NEQ (also without the field)', { customFields: [{ field: 'cidade', op: 'NEQ', value: 'SP' }] }, ['c2', 'c3', 'c4']],
    ['GT number (text numbers too)', { customFields: [{ field: 'idade', op: 'GT', value: 29 }] }, ['c1', 'c2']],
    ['GTE number', { customFields: [{ field: 'idade', op: 'GTE', value: 30 }] }, ['c1', 'c2']],
    ['LT number', { customFields: [{ field: 'idade', op: 'LT', value: 30 }] }, ['c3']],
    ['LTE number', { customFields: [{ field: 'idade', op: 'LTE', value: 25 }] }, ['c3']],
    ['GT ISO date as text', { customFields: [{ field: 'nascimento', op: 'GT', value: '2000-01-01' }] }, ['c3']],
    ['LTE ISO date as text', { customFields: [{ field: 'nascimento', op: 'LTE', value: '1990-05-01' }] }, ['c1']],
    ['CONTAINS, case-insensitive', { customFields: [{ field: 'cidade', op: 'CONTAINS', value: 'paulo' }] }, ['c3']],
    ['IN text', { customFields: [{ field: 'cidade', op: 'IN', value: ['RJ', 'SP'] }] }, ['c1', 'c2']],
    ['IN numbers', { customFields: [{ field: 'idade', op: 'IN', value: [25, 41] }] }, ['c2', 'c3']],
    ['EXISTS', { customFields: [{ field: 'nascimento', op: 'EXISTS' }] }, ['c1', 'c3']],
    ['NOT_EXISTS', { customFields: [{ field: 'nascimento', op: 'NOT_EXISTS' }] }, ['c2', 'c4']],
    ['two conditions (AND)', { customFields: [{ field: 'idade', op: 'GTE', value: 25 }, { field: 'plano', op: 'EXISTS' }] }, ['c1', 'c2']],
    ['last interaction within 7 days', { lastInteraction: { withinDays: 7 } }, ['c1']],
    ['no interaction in 30 days (or never)', { lastInteraction: { notWithinDays: 30 } }, ['c2', 'c3']],
    ['last interaction before', { lastInteraction: { before: daysAgo(30).toISOString() } }, ['c2']],
    ['last interaction after', { lastInteraction: { after: daysAgo(15).toISOString() } }, ['c1', 'c4']],
    ['last interaction between', { lastInteraction: { after: daysAgo(15).toISOString(), before: daysAgo(5).toISOString() } }, ['c4']],
    ['read at least once', { engagement: [{ metric: 'READ', op: 'GTE', count: 1 }] }, ['c1', 'c3']],
    ['read at least once in 30 days', { engagement: [{ metric: 'READ', op: 'GTE', count: 1, withinDays: 30 }] }, ['c1']],
    ['sent exactly twice', { engagement: [{ metric: 'SENT', op: 'EQ', count: 2 }] }, ['c1', 'c2']],
    ['sent at most once', { engagement: [{ metric: 'SENT', op: 'LTE', count: 1 }] }, ['c3', 'c4']],
    ['delivered exactly once', { engagement: [{ metric: 'DELIVERED', op: 'EQ', count: 1 }] }, ['c2', 'c3']],
    ['replied', { engagement: [{ metric: 'REPLIED', op: 'GTE', count: 1 }] }, ['c1']],
    ['never clicked', { engagement: [{ metric: 'CLICKED', op: 'EQ', count: 0 }] }, ['c1', 'c2', 'c3', 'c4']],
    ['created in the last 7 days', { createdWithinDays: 7 }, ['c1', 'c2']],
    [
      'everything at once',
      { tags: { any: ['vip'] }, customFields: [{ field: 'idade', op: 'GTE', value: 30 }], engagement: [{ metric: 'READ', op: 'GTE', count: 1 }], lastInteraction: { withinDays: 7 } },
      ['c1'],
    ],
  ];

  for (const [label, rules, expected] of cases) {
    it(`segmentPreview: ${label}`, async () => {
      const p = await preview(rules);
      expect(names(p.sample)).toEqual(expected);
      expect(p.count).toBe(expected.length);
    });
  }

  it('segmentPreview samples newest first, at most sampleSize, and never an opted-out, blocked or not-on-WhatsApp contact', async () => {
    const r = await gqlOk(stack.url, a.key, Preview, { rules: { tags: { any: ['vip', 'sp'] } }, sampleSize: 2 });
    if (r.segmentPreview.__typename !== 'SegmentPreviewSuccess') throw new Error(JSON.stringify(r));
    expect(r.segmentPreview.data.count).toBe(3);
    expect(r.segmentPreview.data.sample).toHaveLength(2);
    const newest = await prisma.contact.findMany({
      where: { tenantId: a.tenantId, id: { in: [ids.c1, ids.c2, ids.c3] } },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: 2,
    });
    expect(r.segmentPreview.data.sample.map((s) => s.phone)).toEqual(newest.map((c) => c.phone));
    // The unreachable ones match the rules, yet never count.
    const wide = await preview({ customFields: [{ field: 'cidade', op: 'EXISTS' }] });
    expect(names(wide.sample)).toEqual(['c1', 'c2', 'c3']);
    const none = await gqlOk(stack.url, a.key, Preview, { rules: {}, sampleSize: 0 });
    expect(none.segmentPreview).toMatchObject({ data: { count: 4, sample: [] } });
  });

  it('segmentPreview refuses invalid rules with the path of each problem', async () => {
    const bad: Array<[SegmentRulesInput, string[], RegExp]> = [
      [{ customFields: [{ field: 'bad name', op: 'EQ', value: 1 }] }, ['rules', 'customFields', '0', 'field'], /letters, digits and _/],
      [{ customFields: [{ field: 'idade', op: 'GT', value: true }] }, ['rules', 'customFields', '0', 'value'], /gt compares numbers or text/],
      [{ customFields: [{ field: 'idade', op: 'IN', value: 'x' }] }, ['rules', 'customFields', '0', 'value'], /in takes a non-empty list/],
      [{ customFields: [{ field: 'idade', op: 'IN', value: [] }] }, ['rules', 'customFields', '0', 'value'], /in takes a non-empty list/],
      [{ customFields: [{ field: 'idade', op: 'EXISTS', value: 1 }] }, ['rules', 'customFields', '0', 'value'], /exists takes no value/],
      [{ customFields: [{ field: 'idade', op: 'EQ' }] }, ['rules', 'customFields', '0', 'value'], /eq takes one value/],
      [{ customFields: [{ field: 'idade', op: 'EQ', value: [1] }] }, ['rules', 'customFields', '0', 'value'], /eq takes one value/],
      [{ customFields: [{ field: 'x', op: 'EQ', value: 1 }, { field: 'cidade', op: 'CONTAINS', value: 5 }] }, ['rules', 'customFields', '1', 'value'], /contains takes text/],
      [{ customFields: [{ field: 'x', op: 'EQ', value: { nested: true } }] }, ['rules', 'customFields', '0', 'value'], /.+/],
      [{ lastInteraction: {} }, ['rules', 'lastInteraction'], /give before, after, withinDays or notWithinDays/],
      [{ lastInteraction: { before: daysAgo(10).toISOString(), after: daysAgo(5).toISOString() } }, ['rules', 'lastInteraction'], /before must be later than after/],
      [{ lastInteraction: { withinDays: 0 } }, ['rules', 'lastInteraction', 'withinDays'], /.+/],
      [{ engagement: [{ metric: 'READ', op: 'GTE', count: -1 }] }, ['rules', 'engagement', '0', 'count'], /.+/],
      [{ engagement: [{ metric: 'READ', op: 'GTE', count: 1, withinDays: 0 }] }, ['rules', 'engagement', '0', 'withinDays'], /.+/],
      [{ createdWithinDays: 0 }, ['rules', 'createdWithinDays'], /.+/],
      [{ tags: { any: ['vip', ' '] } }, ['rules', 'tags', 'any', '1'], /.+/],
    ];
    for (const [rules, path, message] of bad) {
      const r = await gqlOk(stack.url, a.key, Preview, { rules });
      expect(r.segmentPreview.__typename, JSON.stringify(rules)).toBe('ValidationError');
      if (r.segmentPreview.__typename !== 'ValidationError') continue;
      expect(r.segmentPreview.issues[0]?.path, JSON.stringify(rules)).toEqual(path);
      expect(r.segmentPreview.issues[0]?.message).toMatch(message);
    }
    const size = await gqlOk(stack.url, a.key, Preview, { rules: {}, sampleSize: 101 });
    expect(size.segmentPreview).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['sampleSize'] }] });
  });

  it('every tenant gets the predefined segments, counted live', async () => {
    const list = await gqlOk(stack.url, a.key, List, { predefined: true, first: 10 });
    const byKey = Object.fromEntries(list.segments.edges.map((e) => [e.node.systemKey, e.node]));
    expect(Object.keys(byKey).sort()).toEqual(['engaged', 'inactive_30d', 'new_7d']);
    expect(byKey.new_7d).toMatchObject({ predefined: true, contactCount: 2 });
    expect(byKey.engaged).toMatchObject({ contactCount: 1 });
    expect(byKey.inactive_30d).toMatchObject({ contactCount: 2 });
    const stored = await prisma.segment.count({ where: { tenantId: a.tenantId, systemKey: { not: null } } });
    expect(stored).toBe(3);
    // Asking again creates nothing more.
    await gqlOk(stack.url, a.key, List, { first: 10 });
    expect(await prisma.segment.count({ where: { tenantId: a.tenantId, systemKey: { not: null } } })).toBe(3);

    const members = await gqlOk(stack.url, a.key, ContactsOfSegment, { segmentId: byKey.inactive_30d?.id as string });
    // The contacts filter shows every contact the rules select, reachable or not.
    expect(members.contacts.edges.map((e) => e.node.phone)).toEqual([P.c2, P.c3]);
  });

  it('createSegment saves typed rules; its count is live; names are unique per tenant', async () => {
    const r = await gqlOk(stack.url, a.key, Create, {
      input: {
        name: '  VIPs  ',
        description: 'The best',
        rules: {
          tags: { any: ['vip'] },
          customFields: [{ field: 'idade', op: 'GTE', value: 30 }],
          lastInteraction: { before: '2030-01-01T00:00:00.000Z' },
          engagement: [{ metric: 'SENT', op: 'GTE', count: 1, withinDays: 90 }],
        },
      },
    });
    if (r.createSegment.__typename !== 'CreateSegmentSuccess') throw new Error(JSON.stringify(r));
    const s = r.createSegment.data;
    expect(s).toMatchObject({ name: 'VIPs', description: 'The best', predefined: false, systemKey: null, contactCount: 2 });
    expect(s.rules).toEqual({
      tags: { any: ['vip'], all: [], none: [] },
      customFields: [{ field: 'idade', op: 'GTE', value: 30 }],
      lastInteraction: { before: '2030-01-01T00:00:00.000Z', after: null, withinDays: null, notWithinDays: null },
      engagement: [{ metric: 'SENT', op: 'GTE', count: 1, withinDays: 90 }],
      createdWithinDays: null,
    });
    const row = await prisma.segment.findUniqueOrThrow({ where: { id: rawId(s.id) } });
    expect(row).toMatchObject({ tenantId: a.tenantId, name: 'VIPs', rules: { tags: { any: ['vip'] }, customFields: [{ field: 'idade', op: 'gte', value: 30 }] } });

    // The count follows the contacts.
    await prisma.contact.update({ where: { id: ids.c2 }, data: { optedOut: true } });
    expect((await gqlOk(stack.url, a.key, Node, { id: s.id })).node).toMatchObject({ name: 'VIPs', contactCount: 1 });
    await prisma.contact.update({ where: { id: ids.c2 }, data: { optedOut: false } });

    const dup = await gqlOk(stack.url, a.key, Create, { input: { name: 'VIPs', rules: {} } });
    expect(dup.createSegment).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    const blank = await gqlOk(stack.url, a.key, Create, { input: { name: '   ', rules: {} } });
    expect(blank.createSegment).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'name'], message: 'a segment needs a name' }] });
    const badRules = await gqlOk(stack.url, a.key, Create, { input: { name: 'Bad', rules: { customFields: [{ field: '1x', op: 'EXISTS' }] } } });
    expect(badRules.createSegment).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'rules', 'customFields', '0', 'field'] }] });
    expect(await prisma.segment.count({ where: { tenantId: a.tenantId, systemKey: null } })).toBe(1);

    // Same name in another tenant is fine.
    const other = await gqlOk(stack.url, b.key, Create, { input: { name: 'VIPs', rules: { tags: { any: ['vip'] } } } });
    expect(other.createSegment).toMatchObject({ __typename: 'CreateSegmentSuccess', data: { contactCount: 0 } });
  });

  it('updateSegment changes what is given; predefined, unknown and foreign segments are refused', async () => {
    const created = await gqlOk(stack.url, a.key, Create, { input: { name: 'To edit', rules: { tags: { any: ['sp'] } } } });
    if (created.createSegment.__typename !== 'CreateSegmentSuccess') throw new Error(JSON.stringify(created));
    const id = created.createSegment.data.id;
    expect(created.createSegment.data.contactCount).toBe(2);

    const renamed = await gqlOk(stack.url, a.key, Update, { id, input: { name: 'Edited', rules: { tags: { any: ['vip'] } } } });
    expect(renamed.updateSegment).toMatchObject({ __typename: 'UpdateSegmentSuccess', data: { name: 'Edited', description: null, contactCount: 2, rules: { tags: { any: ['vip'] } } } });
    const described = await gqlOk(stack.url, a.key, Update, { id, input: { description: 'only this' } });
    expect(described.updateSegment).toMatchObject({ data: { name: 'Edited', description: 'only this', rules: { tags: { any: ['vip'] } } } });
    expect(await prisma.segment.findUniqueOrThrow({ where: { id: rawId(id) } })).toMatchObject({ name: 'Edited', description: 'only this', rules: { tags: { any: ['vip'] } } });

    expect((await gqlOk(stack.url, a.key, Update, { id, input: { name: 'VIPs' } })).updateSegment).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    expect((await gqlOk(stack.url, a.key, Update, { id, input: { name: '' } })).updateSegment).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'name'] }] });
    expect((await gqlOk(stack.url, a.key, Update, { id, input: { rules: { createdWithinDays: -1 } } })).updateSegment).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['input', 'rules', 'createdWithinDays'] }],
    });

    const predefined = await prisma.segment.findFirstOrThrow({ where: { tenantId: a.tenantId, systemKey: 'engaged' } });
    const sys = await gqlOk(stack.url, a.key, Update, { id: gid('Segment', predefined.id), input: { name: 'Mine now' } });
    expect(sys.updateSegment).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['id'] }] });

    const foreign = await prisma.segment.findFirstOrThrow({ where: { tenantId: b.tenantId, systemKey: null } });
    const stolen = await gqlOk(stack.url, a.key, Update, { id: gid('Segment', foreign.id), input: { name: 'Stolen' } });
    expect(stolen.updateSegment).toMatchObject({ __typename: 'NotFoundError', resource: 'Segment', id: foreign.id });
    expect((await prisma.segment.findUniqueOrThrow({ where: { id: foreign.id } })).name).toBe('VIPs');
    const junk = await gqlOk(stack.url, a.key, Update, { id: gid('Segment', 'junk'), input: { name: 'x' } });
    expect(junk.updateSegment).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('deleteSegment deletes an unused saved segment; one a campaign targets, a predefined or a foreign one is refused', async () => {
    const make = async (name: string) => {
      const r = await gqlOk(stack.url, a.key, Create, { input: { name, rules: { tags: { any: ['vip'] } } } });
      if (r.createSegment.__typename !== 'CreateSegmentSuccess') throw new Error(JSON.stringify(r));
      return r.createSegment.data.id;
    };
    const unused = await make('Unused');
    const used = await make('Used');
    const c = await gqlOk(stack.url, a.key, CreateCampaign, { input: { name: 'Targets a segment', audience: { segmentId: used } } });
    expect(c.createCampaign.__typename).toBe('CreateCampaignSuccess');

    expect((await gqlOk(stack.url, a.key, Remove, { id: unused })).deleteSegment).toEqual({ __typename: 'DeleteSegmentSuccess', data: unused });
    expect(await prisma.segment.count({ where: { id: rawId(unused) } })).toBe(0);
    expect((await gqlOk(stack.url, a.key, Remove, { id: unused })).deleteSegment).toMatchObject({ __typename: 'NotFoundError' });

    expect((await gqlOk(stack.url, a.key, Remove, { id: used })).deleteSegment).toMatchObject({ __typename: 'ConflictError', field: 'id' });
    expect(await prisma.segment.count({ where: { id: rawId(used) } })).toBe(1);

    const predefined = await prisma.segment.findFirstOrThrow({ where: { tenantId: a.tenantId, systemKey: 'new_7d' } });
    expect((await gqlOk(stack.url, a.key, Remove, { id: gid('Segment', predefined.id) })).deleteSegment).toMatchObject({ __typename: 'ValidationError' });
    const foreign = await prisma.segment.findFirstOrThrow({ where: { tenantId: b.tenantId, systemKey: null } });
    expect((await gqlOk(stack.url, a.key, Remove, { id: gid('Segment', foreign.id) })).deleteSegment).toMatchObject({ __typename: 'NotFoundError' });
    expect(await prisma.segment.count({ where: { id: { in: [predefined.id, foreign.id] } } })).toBe(2);
  });

  it('a VIEWER may preview and list segments but not create, update or delete them', async () => {
    const target = await prisma.segment.findFirstOrThrow({ where: { tenantId: a.tenantId, name: 'VIPs' } });
    const id = gid('Segment', target.id);
    const before = await prisma.segment.findMany({ where: { tenantId: a.tenantId }, orderBy: { id: 'asc' } });
    const results = [
      (await gqlOk(stack.url, viewerKey, Create, { input: { name: 'Viewer made', rules: {} } })).createSegment,
      (await gqlOk(stack.url, viewerKey, Update, { id, input: { name: 'Viewer renamed' } })).updateSegment,
      (await gqlOk(stack.url, viewerKey, Remove, { id })).deleteSegment,
    ];
    for (const r of results) expect(r).toMatchObject({ __typename: 'ForbiddenError', message: expect.stringMatching(/^the VIEWER role may not use Mutation\./) });
    expect(await prisma.segment.findMany({ where: { tenantId: a.tenantId }, orderBy: { id: 'asc' } })).toEqual(before);
    expect((await preview({ tags: { any: ['vip'] } }, viewerKey)).count).toBe(2);
    expect((await gqlOk(stack.url, viewerKey, List, { first: 50 })).segments.edges.length).toBe(before.length);
  });

  it('lists with search, predefined filter and ordering', async () => {
    const all = await gqlOk(stack.url, a.key, List, { first: 50, orderBy: { field: 'NAME', direction: 'DESC' } });
    const namesDesc = all.segments.edges.map((e) => e.node.name);
    expect(namesDesc).toEqual([...namesDesc].sort((x, y) => y.localeCompare(x, 'en')));
    expect(namesDesc.length).toBe(await prisma.segment.count({ where: { tenantId: a.tenantId } }));
    const vip = await gqlOk(stack.url, a.key, List, { search: 'vip', first: 50 });
    expect(vip.segments.edges.map((e) => e.node.name)).toEqual(['VIPs']);
    const saved = await gqlOk(stack.url, a.key, List, { predefined: false, first: 50, orderBy: { field: 'CREATED_AT' } });
    expect(saved.segments.edges.every((e) => !e.node.predefined)).toBe(true);
    expect(saved.segments.edges.map((e) => e.node.name)[0]).toBe('VIPs');
  });

  it("hides another tenant's segments from segments, node(id) and the contacts filter, and its contacts from previews", async () => {
    const mine = await prisma.segment.findFirstOrThrow({ where: { tenantId: a.tenantId, name: 'VIPs' } });
    const id = gid('Segment', mine.id);
    expect((await gqlOk(stack.url, b.key, Node, { id })).node).toBeNull();
    const theirs = await gqlOk(stack.url, b.key, List, { first: 50 });
    expect(theirs.segments.edges.map((e) => e.node.id)).not.toContain(id);
    expect(theirs.segments.edges.map((e) => e.node.name).sort()).toEqual(['Engaged', 'Inactive for 30 days', 'New in the last 7 days', 'VIPs']);
    expect(theirs.segments.edges.every((e) => e.node.contactCount === 0)).toBe(true);
    const filtered = await gql(stack.url, b.key, ContactsOfSegment, { segmentId: id });
    expect(filtered.data ?? null).toBeNull();
    expect(filtered.errors?.[0]).toMatchObject({ message: `Segment ${mine.id} not found`, extensions: { code: 'NOT_FOUND' } });
    expect((await preview({}, b.key)).count).toBe(0);
  });

  it('counts the contacts of a whole page of segments in one statement (no N+1)', async () => {
    const t = await newTenant('Many segments');
    await addContacts(stack, t.key, [{ phone: P.c1, tags: ['t0'] }, { phone: P.c2, tags: ['t1'] }]);
    const run = async () => {
      const before = statements;
      const r = await gqlOk(stack.url, t.key, List, { first: 50 });
      return { n: statements - before, edges: r.segments.edges };
    };
    await run(); // creates the predefined segments, stamps the key's use
    const few = await run();
    for (let i = 0; i < 12; i++) {
      await gqlOk(stack.url, t.key, Create, { input: { name: `S${i}`, rules: { tags: { any: [`t${i % 3}`] } } } });
    }
    const many = await run();
    expect(few.edges).toHaveLength(3);
    expect(many.edges).toHaveLength(15);
    const counts = Object.fromEntries(many.edges.filter((e) => /^S\d+$/.test(e.node.name)).map((e) => [e.node.name, e.node.contactCount]));
    expect(counts).toEqual(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`S${i}`, i % 3 === 2 ? 0 : 1])));
    expect(few.n).toBeGreaterThan(0);
    expect(many.n).toBe(few.n);
  });
});
