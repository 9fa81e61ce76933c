import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import { startWorkers } from '../../src/workers/runtime.js';
import type { ContactFilter, ContactOrder } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gql, gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1] as string;

/** Counts the SQL statements Prisma runs in this process (the API server runs here too). */
let statements = 0;
prisma.$on('query', () => {
  statements++;
});
async function statementsOf(run: () => Promise<unknown>) {
  const before = statements;
  await run();
  return statements - before;
}

const AddRows = graphql(`
  mutation CtAddRows($contacts: [ContactInput!]!, $strategy: MergeStrategy, $tags: [String!]) {
    addContacts(contacts: $contacts, strategy: $strategy, tags: $tags) {
      __typename
      ... on AddContactsSuccess {
        data { created updated skipped failed rows { row status contactId phone field reason input } }
      }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const Upsert = graphql(`
  mutation CtUpsert($input: ContactInput!, $strategy: MergeStrategy) {
    upsertContact(input: $input, strategy: $strategy) {
      __typename
      ... on UpsertContactSuccess {
        data { status contact { id phone name email tags customFields timezone referredBy optedOut } }
      }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const Search = graphql(`
  query CtSearch($filter: ContactFilter, $orderBy: ContactOrder, $first: Int, $after: String) {
    contacts(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id phone name email tags customFields optedOut blocked } }
    }
  }
`);

const Lookup = graphql(`
  query CtLookup($id: ID!, $phone: String!) {
    node(id: $id) { id ... on Contact { phone } }
    contactByPhone(phone: $phone) { id phone }
  }
`);

const Tag = graphql(`
  mutation CtTag($contacts: ContactSelection!, $tags: [String!]!) {
    tagContacts(contacts: $contacts, tags: $tags) {
      __typename
      ... on TagContactsSuccess { data { matched changed contactIds } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { resource id message }
      ... on Error { message }
    }
  }
`);

const Untag = graphql(`
  mutation CtUntag($contacts: ContactSelection!, $tags: [String!]!) {
    untagContacts(contacts: $contacts, tags: $tags) {
      __typename
      ... on UntagContactsSuccess { data { matched changed } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { resource id message }
      ... on Error { message }
    }
  }
`);

const Flags = graphql(`
  mutation CtFlags($contacts: ContactSelection!) {
    optOutContacts(contacts: $contacts) {
      __typename
      ... on OptOutContactsSuccess { data { matched changed skippedRecipients } }
      ... on Error { message }
    }
  }
`);

const OptIn = graphql(`
  mutation CtOptIn($contacts: ContactSelection!) {
    optInContacts(contacts: $contacts) {
      __typename
      ... on OptInContactsSuccess { data { matched changed skippedRecipients } }
      ... on Error { message }
    }
  }
`);

const Block = graphql(`
  mutation CtBlock($contacts: ContactSelection!) {
    blockContacts(contacts: $contacts) {
      __typename
      ... on BlockContactsSuccess { data { matched changed skippedRecipients } }
      ... on Error { message }
    }
  }
`);

const Unblock = graphql(`
  mutation CtUnblock($contacts: ContactSelection!) {
    unblockContacts(contacts: $contacts) {
      __typename
      ... on UnblockContactsSuccess { data { matched changed skippedRecipients } }
      ... on Error { message }
    }
  }
`);

const Delete = graphql(`
  mutation CtDelete($contacts: ContactSelection!) {
    deleteContacts(contacts: $contacts) {
      __typename
      ... on DeleteContactsSuccess { data { matched changed contactIds } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { resource id message }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const Campaign = graphql(`
  mutation CtCreateCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

const Start = graphql(`
  mutation CtStart($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on StartCampaignSuccess { data { status counters { targeted } } }
      ... on Error { message }
    }
  }
`);

const Counters = graphql(`
  query CtCounters($id: ID!) {
    campaign(id: $id) { status counters { targeted sent delivered read failed skipped unknown remaining } }
  }
`);

async function recount(campaignId: string) {
  const [row] = await prisma.$queryRaw<Array<Record<string, number>>>`
    SELECT count(*)::int AS targeted,
           count(sent_at)::int AS sent,
           count(delivered_at)::int AS delivered,
           count(read_at)::int AS read,
           count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
           count(*) FILTER (WHERE status = 'SKIPPED')::int AS skipped,
           count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown,
           count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED', 'SENDING'))::int AS remaining
    FROM recipient WHERE campaign_id = ${campaignId}::uuid`;
  return row as Record<string, number>;
}

describe('contacts through GraphQL', () => {
  let stack: Stack;
  let a: { tenantId: string; key: string };
  let b: { tenantId: string; key: string };
  let viewerKey: string;
  let operatorKey: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    a = await newTenant('Contacts A');
    b = await newTenant('Contacts B');
    viewerKey = (await createApiKey(a.tenantId, 'viewer', 'VIEWER')).key;
    operatorKey = (await createApiKey(a.tenantId, 'operator', 'OPERATOR')).key;
  });
  afterAll(async () => {
    await stack.close();
  });

  it("addContacts normalises phones to E.164 in the tenant's country (BR) and reports every row", async () => {
    const data = await gqlOk(stack.url, operatorKey, AddRows, {
      tags: ['batch1'],
      contacts: [
        { phone: '+55 11 99999-0001', name: 'Maria Silva', email: 'maria@example.com', tags: ['vip'], customFields: { cidade: 'SP', idade: 30 } },
        { phone: '(11) 98888-0002', name: 'João' },
        { phone: '11977770003', timezone: 'America/Manaus', referredBy: 'Maria' },
        { phone: '123', name: 'Too short' },
        { phone: '5511999990001', name: 'Maria again' },
        { phone: '11966660004', email: 'not-an-email' },
        { phone: '11955550005', timezone: 'Mars/Base' },
        { phone: '11944440006', customFields: { 'bad key': 1 } },
        { phone: 'call me' },
      ],
    });
    if (data.addContacts.__typename !== 'AddContactsSuccess') throw new Error(JSON.stringify(data));
    const r = data.addContacts.data;
    expect({ created: r.created, updated: r.updated, skipped: r.skipped, failed: r.failed }).toEqual({ created: 3, updated: 0, skipped: 1, failed: 5 });
    const byRow = new Map(r.rows.map((x) => [x.row, x]));
    expect(r.rows.map((x) => x.row)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(byRow.get(1)).toMatchObject({ status: 'CREATED', phone: '+5511999990001', field: null });
    expect(byRow.get(2)).toMatchObject({ status: 'CREATED', phone: '+5511988880002' });
    expect(byRow.get(3)).toMatchObject({ status: 'CREATED', phone: '+5511977770003' });
    expect(byRow.get(4)).toMatchObject({ status: 'FAILED', field: 'phone', input: '123', contactId: null });
    expect(byRow.get(4)?.reason).toMatch(/not a valid BR phone number/);
    expect(byRow.get(5)).toMatchObject({ status: 'SKIPPED', phone: '+5511999990001', field: 'phone', input: '5511999990001' });
    expect(byRow.get(5)?.reason).toBe('duplicate of row 1 in this input');
    expect(byRow.get(6)).toMatchObject({ status: 'FAILED', field: 'email', input: 'not-an-email', reason: 'not a valid email address' });
    expect(byRow.get(7)).toMatchObject({ status: 'FAILED', field: 'timezone', input: 'Mars/Base' });
    expect(byRow.get(8)).toMatchObject({ status: 'FAILED', field: 'customFields' });
    expect(byRow.get(8)?.reason).toMatch(/letters, digits and _/);
    expect(byRow.get(9)).toMatchObject({ status: 'FAILED', field: 'phone', input: 'call me' });

    const rows = await prisma.contact.findMany({ where: { tenantId: a.tenantId }, orderBy: { phone: 'asc' } });
    expect(rows.map((c) => c.phone)).toEqual(['+5511977770003', '+5511988880002', '+5511999990001']);
    const maria = rows.find((c) => c.phone === '+5511999990001');
    expect(maria).toMatchObject({ name: 'Maria Silva', email: 'maria@example.com', customFields: { cidade: 'SP', idade: 30 } });
    expect([...(maria?.tags ?? [])].sort()).toEqual(['batch1', 'vip']);
    expect(rows.find((c) => c.phone === '+5511977770003')).toMatchObject({ timezone: 'America/Manaus', referredBy: 'Maria', tags: ['batch1'] });
    expect(byRow.get(1)?.contactId).toBe(gid('Contact', maria?.id as string));
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: a.tenantId } });
    expect(tenant.customFieldKeys).toEqual(expect.arrayContaining(['cidade', 'idade']));
  });

  it("reads numbers in another country once the tenant's country changes", async () => {
    const t = await newTenant('Portugal');
    await prisma.tenant.update({ where: { id: t.tenantId }, data: { country: 'PT' } });
    const data = await gqlOk(stack.url, t.key, AddRows, {
      contacts: [{ phone: '912 345 678' }, { phone: '11 99999-0009' }, { phone: '+55 11 99999-0009' }],
    });
    if (data.addContacts.__typename !== 'AddContactsSuccess') throw new Error(JSON.stringify(data));
    expect(data.addContacts.data.rows.map((r) => [r.row, r.status, r.phone])).toEqual([
      [1, 'CREATED', '+351912345678'],
      [2, 'FAILED', null],
      [3, 'CREATED', '+5511999990009'],
    ]);
    expect(data.addContacts.data.rows[1]).toMatchObject({ field: 'phone', input: '11 99999-0009', reason: 'not a valid PT phone number' });
    const stored = await prisma.contact.findMany({ where: { tenantId: t.tenantId }, orderBy: { phone: 'asc' } });
    expect(stored.map((c) => c.phone)).toEqual(['+351912345678', '+5511999990009']);

    const id = gid('Contact', stored[0]?.id as string);
    const found = await gqlOk(stack.url, t.key, Lookup, { id, phone: '912345678' });
    expect(found.contactByPhone?.phone).toBe('+351912345678');
    expect(found.node).toEqual({ id, phone: '+351912345678' });
  });

  it('upsertContact creates, merges (UPDATE), leaves alone (SKIP) and replaces (REPLACE); it never opts a contact back in', async () => {
    const created = await gqlOk(stack.url, operatorKey, Upsert, {
      input: { phone: '+55 11 93333-0001', name: 'Ana', tags: ['a'], customFields: { x: 1 }, referredBy: 'Bia' },
    });
    if (created.upsertContact.__typename !== 'UpsertContactSuccess') throw new Error(JSON.stringify(created));
    expect(created.upsertContact.data).toMatchObject({ status: 'CREATED', contact: { phone: '+5511933330001', name: 'Ana', tags: ['a'], customFields: { x: 1 } } });
    const id = rawId(created.upsertContact.data.contact.id);

    const merged = await gqlOk(stack.url, operatorKey, Upsert, {
      input: { phone: '11 93333-0001', tags: ['b'], customFields: { y: 'dois' }, email: ' ana@example.com ' },
    });
    expect(merged.upsertContact).toMatchObject({ data: { status: 'UPDATED', contact: { id: gid('Contact', id) } } });
    expect(await prisma.contact.findUniqueOrThrow({ where: { id } })).toMatchObject({
      name: 'Ana',
      email: 'ana@example.com',
      tags: ['a', 'b'],
      customFields: { x: 1, y: 'dois' },
      referredBy: 'Bia',
    });

    const skipped = await gqlOk(stack.url, operatorKey, Upsert, { input: { phone: '+5511933330001', name: 'Someone else', tags: ['c'] }, strategy: 'SKIP' });
    expect(skipped.upsertContact).toMatchObject({ data: { status: 'SKIPPED', contact: { name: 'Ana', tags: ['a', 'b'] } } });

    await prisma.contact.update({ where: { id }, data: { optedOut: true, optedOutAt: new Date() } });
    const replaced = await gqlOk(stack.url, operatorKey, Upsert, { input: { phone: '+5511933330001', name: 'Ana Paula', tags: ['c'] }, strategy: 'REPLACE' });
    expect(replaced.upsertContact).toMatchObject({ data: { status: 'UPDATED', contact: { name: 'Ana Paula', optedOut: true } } });
    expect(await prisma.contact.findUniqueOrThrow({ where: { id } })).toMatchObject({
      name: 'Ana Paula',
      email: null,
      tags: ['c'],
      customFields: {},
      referredBy: null,
      optedOut: true,
    });
  });

  it('upsertContact refuses invalid input with a ValidationError naming the field and the input, and writes nothing', async () => {
    const before = await prisma.contact.count({ where: { tenantId: a.tenantId } });
    const cases: Array<[Record<string, unknown>, string[], RegExp]> = [
      [{ phone: '12345' }, ['input', 'phone'], /not a valid BR phone number \(given: 12345\)/],
      [{ phone: '+1 555' }, ['input', 'phone'], /not a valid \+1 phone number/],
      [{ phone: '11 92222-0001', email: 'nope' }, ['input', 'email'], /not a valid email address \(given: nope\)/],
      [{ phone: '11 92222-0001', timezone: 'Nowhere/Town' }, ['input', 'timezone'], /IANA time zone/],
      [{ phone: '11 92222-0001', customFields: { 'não': 1 } }, ['input', 'customFields'], /letters, digits and _/],
      [{ phone: '11 92222-0001', tags: [' '] }, ['input', 'tags'], /a tag is not empty/],
    ];
    for (const [input, path, message] of cases) {
      const res = await gqlOk(stack.url, operatorKey, Upsert, { input: input as { phone: string } });
      expect(res.upsertContact.__typename, JSON.stringify(input)).toBe('ValidationError');
      if (res.upsertContact.__typename !== 'ValidationError') continue;
      expect(res.upsertContact.issues[0]?.path).toEqual(path);
      expect(res.upsertContact.issues[0]?.message).toMatch(message);
    }
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId } })).toBe(before);
  });

  it('addContacts refuses an empty list and invalid batch tags with field paths', async () => {
    const empty = await gqlOk(stack.url, operatorKey, AddRows, { contacts: [] });
    expect(empty.addContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['contacts'] }] });
    const badTag = await gqlOk(stack.url, operatorKey, AddRows, { contacts: [{ phone: '11 92222-0002' }], tags: ['ok', ''] });
    expect(badTag.addContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['tags', '1'], message: 'a tag is not empty' }] });
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId, phone: '+5511922220002' } })).toBe(0);
  });

  it('a VIEWER key is refused every contact mutation with ForbiddenError, and nothing changes', async () => {
    const one = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511988880002' } });
    const sel = { ids: [gid('Contact', one.id)] };
    const before = await prisma.contact.findMany({ where: { tenantId: a.tenantId }, orderBy: { id: 'asc' } });
    const results = [
      (await gqlOk(stack.url, viewerKey, AddRows, { contacts: [{ phone: '11 91111-0001' }] })).addContacts,
      (await gqlOk(stack.url, viewerKey, Upsert, { input: { phone: '11 91111-0002' } })).upsertContact,
      (await gqlOk(stack.url, viewerKey, Tag, { contacts: sel, tags: ['x'] })).tagContacts,
      (await gqlOk(stack.url, viewerKey, Untag, { contacts: sel, tags: ['batch1'] })).untagContacts,
      (await gqlOk(stack.url, viewerKey, Flags, { contacts: sel })).optOutContacts,
      (await gqlOk(stack.url, viewerKey, OptIn, { contacts: sel })).optInContacts,
      (await gqlOk(stack.url, viewerKey, Block, { contacts: sel })).blockContacts,
      (await gqlOk(stack.url, viewerKey, Unblock, { contacts: sel })).unblockContacts,
      (await gqlOk(stack.url, viewerKey, Delete, { contacts: sel })).deleteContacts,
    ];
    for (const r of results) {
      expect(r.__typename).toBe('ForbiddenError');
      expect('message' in r ? r.message : '').toMatch(/the VIEWER role may not use Mutation\.\w+/);
    }
    expect(await prisma.contact.findMany({ where: { tenantId: a.tenantId }, orderBy: { id: 'asc' } })).toEqual(before);
    // Reading is allowed.
    const read = await gqlOk(stack.url, viewerKey, Search, { first: 5 });
    expect(read.contacts.totalCount).toBe(before.length);
  });

  describe('search', () => {
    let s: { tenantId: string; key: string };
    beforeAll(async () => {
      s = await newTenant('Search');
      await gqlOk(stack.url, s.key, AddRows, {
        contacts: [
          { phone: '+5511911110001', name: 'Ana Souza', email: 'ana@x.com', tags: ['vip', 'sp'], customFields: { cidade: 'SP', plano: 'ouro', idade: 30 } },
          { phone: '+5521922220002', name: 'Bruno Lima', email: 'bruno@y.com', tags: ['rj'], customFields: { cidade: 'RJ', idade: '41' } },
          { phone: '+5511933330003', name: 'Carla Dias', email: 'carla@x.com', tags: ['vip'], customFields: { cidade: 'SP' } },
          { phone: '+5531944440004' },
        ],
      });
      await prisma.contact.updateMany({ where: { tenantId: s.tenantId, phone: '+5511933330003' }, data: { optedOut: true } });
      await prisma.contact.updateMany({ where: { tenantId: s.tenantId, phone: '+5531944440004' }, data: { blocked: true } });
    });

    const phonesOf = (r: { contacts: { edges: Array<{ node: { phone: string } }> } }) => r.contacts.edges.map((e) => e.node.phone);
    const search = (filter: ContactFilter, orderBy: ContactOrder = { field: 'PHONE' }) => gqlOk(stack.url, s.key, Search, { filter, orderBy, first: 50 });

    it('by name, email and phone digits in any format', async () => {
      expect(phonesOf(await search({ search: 'souza' }))).toEqual(['+5511911110001']);
      expect(phonesOf(await search({ search: 'X.COM' }))).toEqual(['+5511911110001', '+5511933330003']);
      expect(phonesOf(await search({ search: '2192222' }))).toEqual(['+5521922220002']);
      expect(phonesOf(await search({ search: '(21) 92222' }))).toEqual(['+5521922220002']);
      expect(phonesOf(await search({ search: '%' }))).toEqual([]);
      expect(phonesOf(await search({ search: 'a_a' }))).toEqual([]);
    });

    it('by tags (any, all), custom field, flags and creation time', async () => {
      expect(phonesOf(await search({ tags: ['vip', 'rj'] }))).toEqual(['+5511911110001', '+5511933330003', '+5521922220002']);
      expect(phonesOf(await search({ tagsAll: ['vip', 'sp'] }))).toEqual(['+5511911110001']);
      expect(phonesOf(await search({ customField: { field: 'cidade', value: 'SP' } }))).toEqual(['+5511911110001', '+5511933330003']);
      // A CSV import stores numbers as text: 41 matches "41", and "30" matches 30.
      expect(phonesOf(await search({ customField: { field: 'idade', value: 41 } }))).toEqual(['+5521922220002']);
      expect(phonesOf(await search({ customField: { field: 'idade', value: '30' } }))).toEqual(['+5511911110001']);
      expect(phonesOf(await search({ optedOut: true }))).toEqual(['+5511933330003']);
      expect(phonesOf(await search({ blocked: true }))).toEqual(['+5531944440004']);
      expect(phonesOf(await search({ blocked: false, optedOut: false, tags: ['vip'] }))).toEqual(['+5511911110001']);
      expect(phonesOf(await search({ createdAfter: new Date(Date.now() + 60_000).toISOString() }))).toEqual([]);
      expect(phonesOf(await search({ createdBefore: new Date(Date.now() + 60_000).toISOString() }))).toHaveLength(4);
    });

    it('refuses a malformed custom-field filter with its path', async () => {
      const res = await gql(stack.url, s.key, Search, { filter: { customField: { field: 'bad name', value: 1 } } });
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe('VALIDATION');
      expect(res.errors?.[0]?.message).toMatch(/filter\.customField\.field: custom field names/);
      const list = await gql(stack.url, s.key, Search, { filter: { customField: { field: 'cidade', value: { nested: true } } } });
      expect(list.errors?.[0]?.message).toMatch(/filter\.customField\.value/);
    });

    it('orders by name both ways (no name last), pages with cursors and counts the total', async () => {
      const asc = await search({}, { field: 'NAME', direction: 'ASC' });
      expect(asc.contacts.edges.map((e) => e.node.name)).toEqual(['Ana Souza', 'Bruno Lima', 'Carla Dias', null]);
      const desc = await search({}, { field: 'NAME', direction: 'DESC' });
      expect(desc.contacts.edges.map((e) => e.node.name)).toEqual(['Carla Dias', 'Bruno Lima', 'Ana Souza', null]);

      const page1 = await gqlOk(stack.url, s.key, Search, { orderBy: { field: 'NAME' }, first: 2 });
      expect(page1.contacts.edges.map((e) => e.node.name)).toEqual(['Ana Souza', 'Bruno Lima']);
      expect(page1.contacts.pageInfo.hasNextPage).toBe(true);
      expect(page1.contacts.totalCount).toBe(4);
      const page2 = await gqlOk(stack.url, s.key, Search, { orderBy: { field: 'NAME' }, first: 2, after: page1.contacts.pageInfo.endCursor });
      expect(page2.contacts.edges.map((e) => e.node.name)).toEqual(['Carla Dias', null]);
      expect(page2.contacts.pageInfo.hasNextPage).toBe(false);
      const filtered = await search({ tags: ['vip'] });
      expect(filtered.contacts.totalCount).toBe(2);
    });

    it('runs the same number of SQL statements for a page of 2 and a page of 50 contacts (no N+1)', async () => {
      await gqlOk(stack.url, s.key, AddRows, { contacts: phones(60, 41).map((phone, i) => ({ phone, name: `P${i}`, tags: ['many'] })) });
      await gqlOk(stack.url, s.key, Search, { first: 1 }); // warm up (key's last-used stamp)
      const small = await statementsOf(() => gqlOk(stack.url, s.key, Search, { filter: { tags: ['many'] }, first: 2 }));
      const large = await statementsOf(() => gqlOk(stack.url, s.key, Search, { filter: { tags: ['many'] }, first: 50 }));
      const check = await gqlOk(stack.url, s.key, Search, { filter: { tags: ['many'] }, first: 50 });
      expect(check.contacts.edges).toHaveLength(50);
      expect(small).toBeGreaterThan(0);
      expect(large).toBe(small);
      expect(large).toBeLessThanOrEqual(5);
    });
  });

  it("hides another tenant's contacts from contacts, node(id) and contactByPhone", async () => {
    const maria = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511999990001' } });
    const id = gid('Contact', maria.id);
    const own = await gqlOk(stack.url, a.key, Lookup, { id, phone: '11 99999-0001' });
    expect(own.node).toEqual({ id, phone: '+5511999990001' });
    expect(own.contactByPhone?.id).toBe(id);

    const other = await gqlOk(stack.url, b.key, Lookup, { id, phone: '11 99999-0001' });
    expect(other).toEqual({ node: null, contactByPhone: null });
    const list = await gqlOk(stack.url, b.key, Search, { first: 50 });
    expect(list.contacts).toMatchObject({ totalCount: 0, edges: [] });
    const bySearch = await gqlOk(stack.url, b.key, Search, { filter: { search: 'Maria' }, first: 50 });
    expect(bySearch.contacts.edges).toEqual([]);

    // An id that is not even a uuid is simply not found.
    const junk = await gqlOk(stack.url, a.key, Lookup, { id: gid('Contact', 'not-a-uuid'), phone: 'abc' });
    expect(junk).toEqual({ node: null, contactByPhone: null });
  });

  it('tagContacts and untagContacts select contacts by ids and phones, and say what changed', async () => {
    const [joao, manaus] = await Promise.all([
      prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511988880002' } }),
      prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511977770003' } }),
    ]);
    const sel = { ids: [gid('Contact', joao.id)], phones: ['(11) 97777-0003'] };
    const tagged = await gqlOk(stack.url, operatorKey, Tag, { contacts: sel, tags: ['promo', ' x '] });
    expect(tagged.tagContacts).toMatchObject({ __typename: 'TagContactsSuccess', data: { matched: 2, changed: 2 } });
    if (tagged.tagContacts.__typename === 'TagContactsSuccess') {
      expect([...tagged.tagContacts.data.contactIds].sort()).toEqual([gid('Contact', joao.id), gid('Contact', manaus.id)].sort());
    }
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: joao.id } })).tags).toEqual(['batch1', 'promo', 'x']);
    const again = await gqlOk(stack.url, operatorKey, Tag, { contacts: sel, tags: ['promo'] });
    expect(again.tagContacts).toMatchObject({ data: { matched: 2, changed: 0 } });

    const untagged = await gqlOk(stack.url, operatorKey, Untag, { contacts: { phones: ['+5511988880002', '11977770003'] }, tags: ['promo', 'nope'] });
    expect(untagged.untagContacts).toMatchObject({ data: { matched: 2, changed: 2 } });
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: manaus.id } })).tags).toEqual(['batch1', 'x']);
  });

  it('tag and untag refuse bad input with field paths, and unknown or foreign contacts with NotFoundError, changing nothing', async () => {
    const joao = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511988880002' } });
    await addContacts(stack, b.key, [{ phone: '+5511900000099', tags: ['b-tag'] }]);
    const foreign = await prisma.contact.findFirstOrThrow({ where: { tenantId: b.tenantId } });
    const own = { ids: [gid('Contact', joao.id)] };

    const noTags = await gqlOk(stack.url, operatorKey, Tag, { contacts: own, tags: [] });
    expect(noTags.tagContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['tags'], message: 'give at least one tag' }] });
    const blankTag = await gqlOk(stack.url, operatorKey, Untag, { contacts: own, tags: ['ok', '  '] });
    expect(blankTag.untagContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['tags', '1'] }] });
    const nobody = await gqlOk(stack.url, operatorKey, Tag, { contacts: {}, tags: ['x'] });
    expect(nobody.tagContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['contacts'], message: 'give ids or phones' }] });
    const badPhone = await gqlOk(stack.url, operatorKey, Tag, { contacts: { phones: ['+5511988880002', 'abc'] }, tags: ['x'] });
    expect(badPhone.tagContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['contacts', 'phones', '1'] }] });
    if (badPhone.tagContacts.__typename === 'ValidationError') expect(badPhone.tagContacts.issues[0]?.message).toMatch(/given: abc/);

    const foreignId = await gqlOk(stack.url, operatorKey, Tag, { contacts: { ids: [gid('Contact', joao.id), gid('Contact', foreign.id)] }, tags: ['stolen'] });
    expect(foreignId.tagContacts).toMatchObject({ __typename: 'NotFoundError', resource: 'Contact', id: foreign.id });
    const unknownPhone = await gqlOk(stack.url, operatorKey, Untag, { contacts: { phones: ['+5511900000099'] }, tags: ['b-tag'] });
    expect(unknownPhone.untagContacts).toMatchObject({ __typename: 'NotFoundError', resource: 'Contact', id: '+5511900000099' });
    const junk = await gqlOk(stack.url, operatorKey, Tag, { contacts: { ids: [gid('Contact', 'junk')] }, tags: ['x'] });
    expect(junk.tagContacts).toMatchObject({ __typename: 'NotFoundError', id: 'junk' });

    expect((await prisma.contact.findUniqueOrThrow({ where: { id: joao.id } })).tags).not.toContain('stolen');
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: foreign.id } })).tags).toEqual(['b-tag']);
  });

  it('opt-out, opt-in, block and unblock set the flags and count only real changes', async () => {
    const contacts = { phones: ['+5511988880002', '+5511977770003'] };
    const out = await gqlOk(stack.url, operatorKey, Flags, { contacts });
    expect(out.optOutContacts).toMatchObject({ data: { matched: 2, changed: 2, skippedRecipients: 0 } });
    const rows = await prisma.contact.findMany({ where: { tenantId: a.tenantId, phone: { in: contacts.phones } } });
    expect(rows.every((c) => c.optedOut && c.optedOutAt instanceof Date)).toBe(true);
    const firstStamp = rows[0]?.optedOutAt?.getTime();
    expect((await gqlOk(stack.url, operatorKey, Flags, { contacts })).optOutContacts).toMatchObject({ data: { matched: 2, changed: 0 } });
    const still = await prisma.contact.findFirstOrThrow({ where: { id: rows[0]?.id } });
    expect(still.optedOutAt?.getTime()).toBe(firstStamp);

    expect((await gqlOk(stack.url, operatorKey, OptIn, { contacts: { phones: ['+5511988880002'] } })).optInContacts).toMatchObject({ data: { matched: 1, changed: 1 } });
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511988880002' } })).toMatchObject({ optedOut: false, optedOutAt: null });

    expect((await gqlOk(stack.url, operatorKey, Block, { contacts })).blockContacts).toMatchObject({ data: { matched: 2, changed: 2 } });
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId, blocked: true } })).toBe(2);
    expect((await gqlOk(stack.url, operatorKey, Unblock, { contacts })).unblockContacts).toMatchObject({ data: { matched: 2, changed: 2 } });
    expect((await gqlOk(stack.url, operatorKey, Unblock, { contacts })).unblockContacts).toMatchObject({ data: { matched: 2, changed: 0 } });
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId, blocked: true } })).toBe(0);
    await gqlOk(stack.url, operatorKey, OptIn, { contacts });

    const foreign = await gqlOk(stack.url, operatorKey, Block, { contacts: { phones: ['+5511900000099'] } });
    expect(foreign.blockContacts.__typename).toBe('NotFoundError');
    expect((await prisma.contact.findFirstOrThrow({ where: { tenantId: b.tenantId } })).blocked).toBe(false);
  });

  it("every mutation treats another tenant's contact as not found and leaves it alone; the same phone is a separate contact per tenant", async () => {
    const foreign = await prisma.contact.findFirstOrThrow({ where: { tenantId: b.tenantId } });
    const before = await prisma.contact.findUniqueOrThrow({ where: { id: foreign.id } });
    const byId = { ids: [gid('Contact', foreign.id)] };
    const byPhone = { phones: [foreign.phone] };
    for (const contacts of [byId, byPhone]) {
      const results = [
        (await gqlOk(stack.url, operatorKey, Tag, { contacts, tags: ['x'] })).tagContacts,
        (await gqlOk(stack.url, operatorKey, Untag, { contacts, tags: ['b-tag'] })).untagContacts,
        (await gqlOk(stack.url, operatorKey, Flags, { contacts })).optOutContacts,
        (await gqlOk(stack.url, operatorKey, OptIn, { contacts })).optInContacts,
        (await gqlOk(stack.url, operatorKey, Block, { contacts })).blockContacts,
        (await gqlOk(stack.url, operatorKey, Unblock, { contacts })).unblockContacts,
        (await gqlOk(stack.url, operatorKey, Delete, { contacts })).deleteContacts,
      ];
      for (const r of results) expect(r.__typename, JSON.stringify(contacts)).toBe('NotFoundError');
    }
    expect(await prisma.contact.findUniqueOrThrow({ where: { id: foreign.id } })).toEqual(before);

    const mine = await gqlOk(stack.url, operatorKey, Upsert, { input: { phone: foreign.phone, name: 'Mine' }, strategy: 'REPLACE' });
    expect(mine.upsertContact).toMatchObject({ data: { status: 'CREATED', contact: { phone: foreign.phone, name: 'Mine' } } });
    expect(await prisma.contact.findUniqueOrThrow({ where: { id: foreign.id } })).toEqual(before);
    await gqlOk(stack.url, operatorKey, Delete, { contacts: byPhone });
  });

  it('deleteContacts deletes by ids or phones; foreign or unknown contacts are not found and nothing is deleted', async () => {
    await addContacts(stack, a.key, [{ phone: '+5511912340001' }, { phone: '+5511912340002' }]);
    const foreign = await prisma.contact.findFirstOrThrow({ where: { tenantId: b.tenantId } });
    const mixed = await gqlOk(stack.url, operatorKey, Delete, { contacts: { phones: ['+5511912340001'], ids: [gid('Contact', foreign.id)] } });
    expect(mixed.deleteContacts).toMatchObject({ __typename: 'NotFoundError', id: foreign.id });
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId, phone: '+5511912340001' } })).toBe(1);
    expect(await prisma.contact.count({ where: { id: foreign.id } })).toBe(1);

    const bad = await gqlOk(stack.url, operatorKey, Delete, { contacts: { phones: ['nope'] } });
    expect(bad.deleteContacts).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['contacts', 'phones', '0'] }] });

    const one = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511912340002' } });
    const done = await gqlOk(stack.url, operatorKey, Delete, { contacts: { phones: ['11 91234-0001'], ids: [gid('Contact', one.id)] } });
    expect(done.deleteContacts).toMatchObject({ __typename: 'DeleteContactsSuccess', data: { matched: 2, changed: 2 } });
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId, phone: { in: ['+5511912340001', '+5511912340002'] } } })).toBe(0);
  });

  it('opting out or blocking withdraws waiting recipients of a running campaign, counters stay a recount, and they are never sent to', async () => {
    const w = await newTenant('Withdraw');
    const sender = await addSender(stack, w.key);
    const numbers = phones(10, 42);
    await addContacts(stack, w.key, numbers.map((phone, i) => ({ phone, name: `W${i}` })));
    const created = await gqlOk(stack.url, w.key, Campaign, {
      input: { name: 'Withdraw', messages: [{ text: 'Oi {{primeiro_nome}}' }], audience: { all: true }, instanceIds: [sender.instanceId] },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    const campaignId = created.createCampaign.data.id;
    const campaignUuid = rawId(campaignId);
    // No workers yet: every recipient waits, QUEUED.
    const started = await gqlOk(stack.url, w.key, Start, { id: campaignId });
    expect(started.startCampaign).toMatchObject({ data: { status: 'RUNNING', counters: { targeted: 10 } } });

    const out = await gqlOk(stack.url, w.key, Flags, { contacts: { phones: [numbers[0] as string, numbers[1] as string] } });
    expect(out.optOutContacts).toMatchObject({ data: { matched: 2, changed: 2, skippedRecipients: 2 } });
    const blocked = await gqlOk(stack.url, w.key, Block, { contacts: { phones: [numbers[2] as string] } });
    expect(blocked.blockContacts).toMatchObject({ data: { matched: 1, changed: 1, skippedRecipients: 1 } });
    const twice = await gqlOk(stack.url, w.key, Flags, { contacts: { phones: [numbers[0] as string] } });
    expect(twice.optOutContacts).toMatchObject({ data: { changed: 0, skippedRecipients: 0 } });

    const skipped = await prisma.recipient.findMany({ where: { campaignId: campaignUuid, status: 'SKIPPED' }, orderBy: { phone: 'asc' } });
    expect(skipped.map((r) => [r.phone, r.error])).toEqual([
      [numbers[0], 'contact opted out'],
      [numbers[1], 'contact opted out'],
      [numbers[2], 'contact blocked'],
    ]);
    const counters = (await gqlOk(stack.url, w.key, Counters, { id: campaignId })).campaign?.counters;
    expect(counters).toEqual(await recount(campaignUuid));
    expect(counters).toMatchObject({ targeted: 10, skipped: 3, remaining: 7 });
    const logs = await prisma.campaignLog.count({ where: { campaignId: campaignUuid, type: 'CONTACT_REMOVED' } });
    expect(logs).toBe(3);

    // Now the workers run the campaign to its end: the withdrawn contacts receive nothing.
    const workers = await startWorkers();
    try {
      await waitFor(async () => (await gqlOk(stack.url, w.key, Counters, { id: campaignId })).campaign?.status === 'COMPLETED', 45_000);
      await stack.sim.drain();
    } finally {
      await workers.close();
    }
    const sent = stack.sim.sends.filter((s) => s.instance === sender.name).map((s) => `+${s.number}`);
    expect(sent.sort()).toEqual(numbers.slice(3).sort());
    const finalCounters = (await gqlOk(stack.url, w.key, Counters, { id: campaignId })).campaign?.counters;
    expect(finalCounters).toEqual(await recount(campaignUuid));
    expect(finalCounters).toMatchObject({ targeted: 10, sent: 7, skipped: 3, remaining: 0 });

    // Deleting contacts takes their recipients along, and the counters follow.
    const gone = await gqlOk(stack.url, w.key, Delete, { contacts: { phones: [numbers[0] as string, numbers[3] as string] } });
    expect(gone.deleteContacts).toMatchObject({ data: { matched: 2, changed: 2 } });
    const afterDelete = (await gqlOk(stack.url, w.key, Counters, { id: campaignId })).campaign?.counters;
    expect(afterDelete).toEqual(await recount(campaignUuid));
    expect(afterDelete).toMatchObject({ targeted: 8, sent: 6, skipped: 2, remaining: 0 });

    // A contact whose message is being sent right now cannot be deleted: that send must land somewhere.
    const busy = await prisma.recipient.findFirstOrThrow({ where: { campaignId: campaignUuid, phone: numbers[4] as string } });
    await prisma.recipient.update({ where: { id: busy.id }, data: { status: 'SENDING' } });
    const refused = await gqlOk(stack.url, w.key, Delete, { contacts: { phones: [numbers[4] as string] } });
    expect(refused.deleteContacts).toMatchObject({ __typename: 'ConflictError', field: 'contacts' });
    expect(await prisma.contact.count({ where: { tenantId: w.tenantId, phone: numbers[4] as string } })).toBe(1);
    await prisma.recipient.update({ where: { id: busy.id }, data: { status: busy.status } });
  });
});
