import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { parseCsv, readCsv, readPlainCsv } from '../../src/features/contacts/import-parse.js';
import { prisma } from '../../src/infra/db/client.js';
import { startWorkers } from '../../src/workers/runtime.js';
import type { ImportContactsInput } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { addContacts, newTenant } from '../helpers/factories.js';
import { collect, gqlOk, wsClient } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** Thrown to roll back a transaction a test holds open on purpose. */
class RollBack extends Error {}

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1] as string;

const Import = graphql(`
  mutation ImImport($input: ImportContactsInput!) {
    importContacts(input: $input) {
      __typename
      ... on ImportContactsSuccess {
        data {
          id status format strategy idempotencyKey totalRows processedRows created updated skipped failed percentDone
          failures(first: 1000) { row field reason input }
        }
      }
      ... on ValidationError { issues { path message } }
      ... on ConflictError { field message }
      ... on Error { message }
    }
  }
`);

const Progress = graphql(`
  subscription ImProgress($importId: ID!) {
    importProgress(importId: $importId) { id status totalRows processedRows created updated skipped failed percentDone }
  }
`);

const Imports = graphql(`
  query ImList($id: ID!, $status: [ImportStatus!], $orderBy: ContactImportOrder) {
    node(id: $id) { id ... on ContactImport { status } }
    contactImports(first: 50, status: $status, orderBy: $orderBy) { edges { node { id status createdAt } } }
  }
`);

async function run(stack: Stack, key: string, input: ImportContactsInput) {
  return (await gqlOk(stack.url, key, Import, { input })).importContacts;
}

async function imported(stack: Stack, key: string, input: ImportContactsInput) {
  const r = await run(stack, key, input);
  if (r.__typename !== 'ImportContactsSuccess') throw new Error(JSON.stringify(r));
  return r.data;
}

describe('contact imports through GraphQL', () => {
  let stack: Stack;
  let a: { tenantId: string; key: string };
  let b: { tenantId: string; key: string };
  let viewerKey: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    a = await newTenant('Imports A');
    b = await newTenant('Imports B');
    viewerKey = (await createApiKey(a.tenantId, 'viewer', 'VIEWER')).key;
  });
  afterAll(async () => {
    await stack.close();
  });

  it('imports JSON: every row reported, items that are not objects fail by row, extra keys become custom fields, tags and group tag added', async () => {
    const items = [
      { phone: '+55 11 98000-0001', name: 'Ana', tags: 'vip, sp', 'Cidade Natal': 'Recife' },
      'just a string',
      { phone: '11 98000-0002', customFields: { plano: 'ouro', pontos: 120 }, email: 'bia@example.com' },
      null,
      { phone: '12', name: 'Bad phone' },
      [1, 2],
      { phone: '5511980000001', name: 'Ana twice' },
      { phone: '11 98000-0003', customFields: 'not an object' },
      { name: 'no phone' },
      { phone: 11980000004 },
      { phone: { ddd: 11 } },
    ];
    const r = await imported(stack, a.key, { format: 'JSON', data: JSON.stringify(items), tags: ['imported'], groupTag: 'lote-1' });
    expect(r).toMatchObject({ status: 'COMPLETED', format: 'JSON', strategy: 'UPDATE', totalRows: 11, processedRows: 11, percentDone: 100 });
    expect({ created: r.created, updated: r.updated, skipped: r.skipped, failed: r.failed }).toEqual({ created: 3, updated: 0, skipped: 1, failed: 7 });
    expect(r.failures).toEqual([
      { row: 2, field: 'row', reason: 'each item must be an object', input: '"just a string"' },
      { row: 4, field: 'row', reason: 'each item must be an object', input: 'null' },
      { row: 5, field: 'phone', reason: 'not a valid BR phone number', input: '12' },
      { row: 6, field: 'row', reason: 'each item must be an object', input: '[1,2]' },
      { row: 8, field: 'customFields', reason: expect.stringMatching(/expected record/), input: 'not an object' },
      { row: 9, field: 'phone', reason: 'phone is required', input: null },
      { row: 11, field: 'phone', reason: 'phone must be text or a number', input: '{"ddd":11}' },
    ]);

    const rows = await prisma.contact.findMany({ where: { tenantId: a.tenantId }, orderBy: { phone: 'asc' } });
    expect(rows.map((c) => c.phone)).toEqual(['+5511980000001', '+5511980000002', '+5511980000004']);
    expect(rows[0]).toMatchObject({ name: 'Ana', customFields: { cidade_natal: 'Recife' } });
    expect([...(rows[0]?.tags ?? [])].sort()).toEqual(['imported', 'lote-1', 'sp', 'vip']);
    expect(rows[1]).toMatchObject({ email: 'bia@example.com', customFields: { plano: 'ouro', pontos: 120 } });
    expect([...(rows[2]?.tags ?? [])].sort()).toEqual(['imported', 'lote-1']);

    const stored = await prisma.contactImport.findUniqueOrThrow({ where: { id: rawId(r.id) } });
    expect(stored).toMatchObject({ tenantId: a.tenantId, status: 'COMPLETED', createdCount: 3, failedCount: 7, payload: null });
  });

  it('imports CSV: column mapping, unmapped columns as custom fields, the delimiter found in the header, malformed and blank lines', async () => {
    const csv = [
      'Celular;Nome Completo;Etiquetas;Cidade;Plano Atual;Nasc',
      '11 97000-0001;Carla Dias;vip, promo;São Paulo;ouro;1990-05-01',
      '11 97000-0002;Davi;;Rio;;',
      '11 97000-0003;Broken;x;y;z;w;one too many',
      '',
      'abc;Bad Phone;;;;',
      '11 97000-0004;"Quoted; with delimiter";;Recife;prata;2001-01-31',
      '11 97000-0005;Eva',
    ].join('\n');
    const r = await imported(stack, a.key, {
      format: 'CSV',
      data: csv,
      columns: { phone: 'celular', name: 'Nome Completo', customFields: [{ column: 'Nasc', field: 'nascimento' }] },
      groupTag: 'csv-1',
    });
    expect({ total: r.totalRows, created: r.created, skipped: r.skipped, failed: r.failed }).toEqual({ total: 6, created: 4, skipped: 0, failed: 2 });
    expect(r.failures).toEqual([
      { row: 3, field: 'row', reason: expect.stringMatching(/^unreadable CSV line: Invalid Record Length/), input: '11 97000-0003;Broken;x;y;z;w;one too many' },
      { row: 5, field: 'phone', reason: 'phone may only contain digits, spaces, +, -, ( and )', input: 'abc' },
    ]);
    const carla = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511970000001' } });
    expect(carla).toMatchObject({ name: 'Carla Dias', customFields: { cidade: 'São Paulo', plano_atual: 'ouro', nascimento: '1990-05-01' } });
    expect([...carla.tags].sort()).toEqual(['csv-1', 'promo', 'vip']);
    const davi = await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511970000002' } });
    expect(davi).toMatchObject({ name: 'Davi', tags: ['csv-1'], customFields: { cidade: 'Rio' } });
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511970000004' } })).toMatchObject({
      name: 'Quoted; with delimiter',
      customFields: { cidade: 'Recife', plano_atual: 'prata', nascimento: '2001-01-31' },
    });
    // Empty trailing cells may be left out.
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: a.tenantId, phone: '+5511970000005' } })).toMatchObject({ name: 'Eva', customFields: {} });
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: a.tenantId } });
    expect(tenant.customFieldKeys).toEqual(expect.arrayContaining(['cidade', 'plano_atual', 'nascimento', 'cidade_natal']));
  });

  it('merges by strategy: SKIP leaves existing contacts, UPDATE merges, REPLACE makes them exactly the row', async () => {
    const t = await newTenant('Strategies');
    await addContacts(stack, t.key, [{ phone: '+5511960000001', name: 'Old', tags: ['old'] }]);
    await prisma.contact.updateMany({ where: { tenantId: t.tenantId }, data: { customFields: { a: 1 }, email: 'old@example.com' } });
    const data = (name: string, extra: Record<string, unknown>) =>
      JSON.stringify([{ phone: '11 96000-0001', name, tags: ['new'], ...extra }, { phone: `11 96000-00${name.length + 10}` }]);

    const skip = await imported(stack, t.key, { format: 'JSON', data: data('Skip', { b: 2 }), strategy: 'SKIP' });
    expect({ created: skip.created, updated: skip.updated, skipped: skip.skipped }).toEqual({ created: 1, updated: 0, skipped: 1 });
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: t.tenantId, phone: '+5511960000001' } })).toMatchObject({
      name: 'Old',
      tags: ['old'],
      customFields: { a: 1 },
    });

    const update = await imported(stack, t.key, { format: 'JSON', data: data('Update', { b: 2 }), strategy: 'UPDATE' });
    expect({ created: update.created, updated: update.updated, skipped: update.skipped }).toEqual({ created: 1, updated: 1, skipped: 0 });
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: t.tenantId, phone: '+5511960000001' } })).toMatchObject({
      name: 'Update',
      email: 'old@example.com',
      tags: ['new', 'old'],
      customFields: { a: 1, b: 2 },
    });

    const replace = await imported(stack, t.key, { format: 'JSON', data: data('Replace!', { c: 3 }), strategy: 'REPLACE', tags: ['r'] });
    expect({ created: replace.created, updated: replace.updated, skipped: replace.skipped }).toEqual({ created: 1, updated: 1, skipped: 0 });
    expect(await prisma.contact.findFirstOrThrow({ where: { tenantId: t.tenantId, phone: '+5511960000001' } })).toMatchObject({
      name: 'Replace!',
      email: null,
      tags: ['new', 'r'],
      customFields: { c: 3 },
    });
    expect(await prisma.contact.count({ where: { tenantId: t.tenantId } })).toBe(4);
  });

  it('refuses a malformed document or mapping with a ValidationError at its field path, and records no import', async () => {
    const before = await prisma.contactImport.count({ where: { tenantId: a.tenantId } });
    const contactsBefore = await prisma.contact.count({ where: { tenantId: a.tenantId } });
    const cases: Array<[ImportContactsInput, string[], RegExp]> = [
      [{ format: 'CSV', data: 'tel,nome\n11999990001,Ana', columns: { phone: 'Fone' } }, ['input', 'columns', 'phone'], /no column "Fone" in the header \(tel, nome\)/],
      [{ format: 'CSV', data: 'tel,nome\n11999990001,Ana' }, ['input', 'data'], /no phone column/],
      [{ format: 'CSV', data: 'phone,nome\n11999990001,Ana', columns: { email: 'mail' } }, ['input', 'columns', 'email'], /no column "mail"/],
      [{ format: 'CSV', data: 'phone,nome\n11999990001,Ana', columns: { customFields: [{ column: 'idade', field: 'idade' }] } }, ['input', 'columns', 'customFields', '0', 'column'], /no column "idade"/],
      [{ format: 'CSV', data: 'phone,idade\n11999990001,3', columns: { customFields: [{ column: 'idade', field: 'a idade' }] } }, ['input', 'columns', 'customFields', '0', 'field'], /letters, digits and _/],
      [{ format: 'CSV', data: '\n\n' }, ['input', 'data'], /the CSV is empty/],
      [{ format: 'JSON', data: '[{"phone": ' }, ['input', 'data'], /not valid JSON/],
      [{ format: 'JSON', data: '{"phone": "11999990001"}' }, ['input', 'data'], /a JSON array of contacts/],
      [{ format: 'CSV', data: '' }, ['input', 'data'], /.+/],
      [{ format: 'CSV', data: 'phone\n11999990001', delimiter: '::' }, ['input', 'delimiter'], /.+/],
      [{ format: 'JSON', data: '[]', groupTag: ' ' }, ['input', 'groupTag'], /a tag is not empty/],
      [{ format: 'JSON', data: '[]', tags: ['ok', ''] }, ['input', 'tags', '1'], /a tag is not empty/],
      [{ format: 'JSON', data: '[]', idempotencyKey: '' }, ['input', 'idempotencyKey'], /.+/],
    ];
    for (const [input, path, message] of cases) {
      const r = await run(stack, a.key, input);
      expect(r.__typename, JSON.stringify(input)).toBe('ValidationError');
      if (r.__typename !== 'ValidationError') continue;
      expect(r.issues[0]?.path, JSON.stringify(input)).toEqual(path);
      expect(r.issues[0]?.message).toMatch(message);
    }
    expect(await prisma.contactImport.count({ where: { tenantId: a.tenantId } })).toBe(before);
    expect(await prisma.contact.count({ where: { tenantId: a.tenantId } })).toBe(contactsBefore);
  });

  it('is idempotent: the same key and input return the first import; the same key with another input is a ConflictError', async () => {
    const t = await newTenant('Idempotent');
    const data = JSON.stringify([{ phone: '11 95000-0001', name: 'Eva' }, { phone: '11 95000-0002' }]);
    const first = await imported(stack, t.key, { format: 'JSON', data, idempotencyKey: 'batch-42', tags: ['x'] });
    expect(first).toMatchObject({ status: 'COMPLETED', created: 2, idempotencyKey: 'batch-42' });
    await prisma.contact.updateMany({ where: { tenantId: t.tenantId }, data: { name: 'Changed since' } });

    const retry = await imported(stack, t.key, { format: 'JSON', data, idempotencyKey: 'batch-42', tags: ['x'], strategy: 'UPDATE' });
    expect(retry).toEqual(first);
    // Not imported again: the contacts keep what changed after the first import.
    expect(await prisma.contact.count({ where: { tenantId: t.tenantId, name: 'Changed since' } })).toBe(2);

    const other = await run(stack, t.key, { format: 'JSON', data: JSON.stringify([{ phone: '11 95000-0003' }]), idempotencyKey: 'batch-42' });
    expect(other).toMatchObject({ __typename: 'ConflictError', field: 'idempotencyKey' });
    const otherTags = await run(stack, t.key, { format: 'JSON', data, idempotencyKey: 'batch-42', tags: ['y'] });
    expect(otherTags.__typename).toBe('ConflictError');
    expect(await prisma.contactImport.count({ where: { tenantId: t.tenantId } })).toBe(1);
    expect(await prisma.contact.count({ where: { tenantId: t.tenantId } })).toBe(2);

    // Keys belong to a tenant: another tenant's same key is its own import.
    const elsewhere = await imported(stack, b.key, { format: 'JSON', data, idempotencyKey: 'batch-42', tags: ['x'] });
    expect(elsewhere.id).not.toBe(first.id);
    expect(elsewhere.created).toBe(2);
  });

  it('a VIEWER may not import (ForbiddenError, no import recorded) but may read imports', async () => {
    const before = await prisma.contactImport.count({ where: { tenantId: a.tenantId } });
    const r = await run(stack, viewerKey, { format: 'JSON', data: JSON.stringify([{ phone: '11 94000-0001' }]) });
    expect(r).toMatchObject({ __typename: 'ForbiddenError', message: 'the VIEWER role may not use Mutation.importContacts' });
    expect(await prisma.contactImport.count({ where: { tenantId: a.tenantId } })).toBe(before);
    expect(await prisma.contact.count({ where: { phone: '+5511940000001' } })).toBe(0);
    const someImport = await prisma.contactImport.findFirstOrThrow({ where: { tenantId: a.tenantId } });
    const read = await gqlOk(stack.url, viewerKey, Imports, { id: gid('ContactImport', someImport.id) });
    expect(read.node).toMatchObject({ id: gid('ContactImport', someImport.id), status: 'COMPLETED' });
    expect(read.contactImports.edges).toHaveLength(before);
  });

  it('runs a large import in the background: importProgress streams its state up to COMPLETED, and every row is accounted for', async () => {
    const t = await newTenant('Big import');
    const lines = ['telefone,nome,grupo'];
    for (let i = 0; i < 2490; i++) lines.push(`11 9${String(30_000_000 + i).padStart(8, '0')},Pessoa ${i},g${i % 3}`);
    lines.splice(101, 0, 'not-a-phone,Bad,g0'); // data row 101
    lines.splice(1502, 0, '11 930000000,Duplicate of row 1,g0'); // data row 1502
    lines.push('1,Too short,g1');
    const data = lines.join('\n');
    const total = lines.length - 1;
    expect(total).toBe(2493);

    const started = await imported(stack, t.key, { format: 'CSV', data, idempotencyKey: 'big', groupTag: 'big-1' });
    expect(started).toMatchObject({ status: 'PENDING', totalRows: total, processedRows: 0 });
    // A retry while it waits is the same import.
    const retry = await imported(stack, t.key, { format: 'CSV', data, idempotencyKey: 'big', groupTag: 'big-1' });
    expect(retry.id).toBe(started.id);

    // The import is held in the middle, so that the stream is certain to show a state in between
    // (the stream re-reads the import, and a fast import could otherwise be done before it does): a
    // contact with a phone of the last step (contact 2400), inserted in a transaction left open, makes
    // that step's insert wait on the unique index. It is rolled back once a state in between arrived,
    // and the import goes on as if that contact had never been there.
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const held = new Promise<void>((heldNow, failed) => {
      prisma
        .$transaction(
          async (tx) => {
            await tx.$executeRaw`INSERT INTO contact (tenant_id, phone, updated_at) VALUES (${t.tenantId}::uuid, '+5511930002400', now())`;
            heldNow();
            await released;
            throw new RollBack();
          },
          { timeout: 60_000, maxWait: 10_000 },
        )
        .catch((err) => (err instanceof RollBack ? undefined : failed(err)));
    });
    await held;
    const inBetween = (s: { status: string; processedRows: number }) => s.status === 'RUNNING' && s.processedRows > 0 && s.processedRows < total;

    const ws = wsClient(stack.url, t.key);
    const watching = collect(
      ws,
      Progress,
      { importId: started.id },
      (events) => {
        if (events.some((e) => inBetween(e.importProgress))) release();
        return events.at(-1)?.importProgress.status === 'COMPLETED';
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const workers = await startWorkers(['imports']);
    let result: Awaited<typeof watching>;
    try {
      result = await watching;
    } finally {
      release();
      await workers.close();
      await ws.client.dispose();
    }
    expect(result.errors).toEqual([]);
    const states = result.events.map((e) => e.importProgress);
    expect(states[0]).toMatchObject({ id: started.id, status: 'PENDING', processedRows: 0 });
    expect(states.at(-1)).toMatchObject({ status: 'COMPLETED', processedRows: total, totalRows: total, created: 2490, skipped: 1, failed: 2, percentDone: 100 });
    const processed = states.map((s) => s.processedRows);
    expect([...processed].sort((x, y) => x - y)).toEqual(processed);
    expect(states.some(inBetween)).toBe(true);

    const done = await prisma.contactImport.findUniqueOrThrow({ where: { id: rawId(started.id) } });
    expect(done).toMatchObject({ status: 'COMPLETED', payload: null, createdCount: 2490, skippedCount: 1, failedCount: 2 });
    expect(done.failures).toEqual([
      { row: 101, phone: null, field: 'phone', reason: expect.any(String), input: 'not-a-phone' },
      { row: 2493, phone: null, field: 'phone', reason: 'not a phone number (read as BR when it has no country code)', input: '1' },
    ]);
    expect(await prisma.contact.count({ where: { tenantId: t.tenantId, tags: { has: 'big-1' } } })).toBe(2490);
    expect(await prisma.contact.count({ where: { tenantId: t.tenantId, customFields: { equals: { grupo: 'g0' } } } })).toBe(830);

    // The list filters by status and orders both ways.
    const list = await gqlOk(stack.url, t.key, Imports, { id: started.id, status: ['COMPLETED'], orderBy: { field: 'CREATED_AT', direction: 'ASC' } });
    expect(list.contactImports.edges.map((e) => e.node.id)).toEqual([started.id]);
    const none = await gqlOk(stack.url, t.key, Imports, { id: started.id, status: ['FAILED', 'PENDING'] });
    expect(none.contactImports.edges).toEqual([]);
  });

  it("hides another tenant's import from node(id), contactImports and importProgress", async () => {
    const mine = await imported(stack, a.key, { format: 'JSON', data: JSON.stringify([{ phone: '11 93900-0001' }]) });
    const other = await gqlOk(stack.url, b.key, Imports, { id: mine.id });
    expect(other.node).toBeNull();
    expect(other.contactImports.edges.map((e) => e.node.id)).not.toContain(mine.id);
    expect(other.contactImports.edges.length).toBe(await prisma.contactImport.count({ where: { tenantId: b.tenantId } }));

    const ws = wsClient(stack.url, b.key);
    const refused = await collect(ws, Progress, { importId: mine.id }, () => true, 5000);
    expect(refused.events).toEqual([]);
    expect(JSON.stringify(refused.errors)).toMatch(/ContactImport [0-9a-f-]{36} not found/);
    const junk = await collect(ws, Progress, { importId: gid('ContactImport', 'junk') }, () => true, 5000);
    expect(junk.events).toEqual([]);
    expect(JSON.stringify(junk.errors)).toMatch(/not found/);
    await ws.client.dispose();

    // The owner's keys, a VIEWER's included, may follow it.
    for (const key of [a.key, viewerKey]) {
      const own = wsClient(stack.url, key);
      const seen = await collect(own, Progress, { importId: mine.id }, (e) => e.length >= 1, 5000);
      await own.client.dispose();
      expect(seen.errors).toEqual([]);
      expect(seen.events).toEqual([{ importProgress: expect.objectContaining({ id: mine.id, status: 'COMPLETED', created: 1 }) }]);
    }
  });
});

/**
 * Every header, record and unreadable line a reading of `data` reports, with its line, by kind:
 * csv-parse emits a skipped line before the async iterator hands out the records around it, so only
 * the order within each kind is meaningful (parseCsv keeps rows and failures apart anyway).
 */
async function readingOf(data: string, delimiter: string, plain: boolean) {
  const events = { header: [] as unknown[], record: [] as unknown[], skip: [] as unknown[] };
  await readCsv(
    data,
    delimiter,
    {
      header: (cells, line) => events.header.push([cells, line]),
      record: (cells, line) => events.record.push([cells, line]),
      skip: (line, reason) => events.skip.push([line, reason]),
    },
    { plain },
  );
  return events;
}

/** A small deterministic generator (mulberry32), so a failure names a document that can be rerun. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('reading CSV without quotes by hand', () => {
  it('reads every quote-free document exactly as csv-parse does: cells, trimming, blank lines, line numbers, refused long rows', async () => {
    const pieces = ['a', 'b', '7', ' ', ' ', '\t', ',', ';', '|', '\u00a0', '\u2003', '\ufeff', 'ã', '😀', '\n', '\n', '\n'];
    const delimiters = [',', ';', '\t', '|', ' '];
    let compared = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const next = random(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)] as T;
      const delimiter = pick(delimiters);
      let data = next() < 0.1 ? '\ufeff' : '';
      const length = Math.floor(next() * 60);
      for (let i = 0; i < length; i++) data += next() < 0.15 ? delimiter : pick(pieces);
      if (next() < 0.3) data = data.replace(/\n/g, '\r\n');
      const plain = await readingOf(data, delimiter, true);
      const parsed = await readingOf(data, delimiter, false);
      expect(plain, `seed ${seed}: ${JSON.stringify(data)} split on ${JSON.stringify(delimiter)}`).toEqual(parsed);
      compared++;
    }
    expect(compared).toBe(1500);
  });

  it('gives the same rows and failures as csv-parse for a file with blank lines, short and long rows, CRLF line breaks and a BOM', async () => {
    const data = '\ufeffTelefone;Nome;Tags;Cidade\r\n\r\n11 97000-0001 ; Ana ;vip, sp;Recife\r\n   \r\n11 97000-0002;Bia\r\n11 97000-0003;Caio;x;y;one too many\r\n;;;\r\n11 97000-0004;Davi;;São Paulo';
    const plain = await parseCsv(data, null);
    const parsed = await parseCsv(data, null, null, { plain: false });
    expect(plain.rows).toEqual(parsed.rows);
    expect(plain.rows.map((r) => r.row)).toEqual([2, 4, 6, 7]);
    expect(plain.rows[0]?.input).toMatchObject({ phone: '11 97000-0001', name: 'Ana', tags: ['vip', 'sp'], customFields: { cidade: 'Recife' } });
    expect(plain.unreadable).toEqual([
      { row: 5, status: 'FAILED', contactId: null, phone: null, field: 'row', reason: 'unreadable CSV line: Invalid Record Length: expect 4, got 5 on line 6', input: '11 97000-0003;Caio;x;y;one too many' },
    ]);
    expect(plain.unreadable.map(({ input: _input, ...r }) => r)).toEqual(parsed.unreadable.map(({ input: _input, ...r }) => r));
  });

  it('leaves documents with quotes, mixed line breaks or unpaired surrogates to csv-parse', () => {
    const sink = { header: () => undefined, record: () => undefined, skip: () => undefined };
    expect(readPlainCsv('phone,name\n1,"Ana"', ',', sink)).toBe(false);
    expect(readPlainCsv('phone,name\r\n1,Ana\n2,Bia', ',', sink)).toBe(false);
    expect(readPlainCsv('phone,name\r1,Ana', ',', sink)).toBe(false);
    expect(readPlainCsv('phone,name\n1,A\ud800na', ',', sink)).toBe(false);
    expect(readPlainCsv('phone,name\r\n1,Ana', ',', sink)).toBe(true);
  });
});
