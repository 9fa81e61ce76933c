import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

// Consent: opt-in and opt-out with their source and time, from a keyword on WhatsApp (through the
// simulator's own messages.upsert webhook), the API and an import column; the history over GraphQL.

const UpdateTenant = graphql(`
  mutation CnUpdateTenant($input: UpdateTenantInput!) {
    updateTenant(input: $input) {
      __typename
      ... on UpdateTenantSuccess { data { optInKeywords optOutKeywords optInReply optOutReply requireOptIn frequencyCap { messages periodHours } } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const ContactConsent = graphql(`
  query CnContact($id: ID!) {
    node(id: $id) {
      ... on Contact {
        phone
        optedOut
        consent { status optedInAt optInSource optedOutAt optOutSource }
        consentHistory(first: 10) { kind source detail at }
      }
    }
  }
`);

const OptIn = graphql(`
  mutation CnOptIn($contacts: ContactSelection!) {
    optInContacts(contacts: $contacts) {
      __typename
      ... on OptInContactsSuccess { data { matched changed } }
      ... on Error { message }
    }
  }
`);

const Import = graphql(`
  mutation CnImport($input: ImportContactsInput!) {
    importContacts(input: $input) {
      __typename
      ... on ImportContactsSuccess { data { id status created failed failures(first: 10) { row field reason input } } }
      ... on Error { message }
    }
  }
`);

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const digits = (phone: string) => phone.replace(/\D/g, '');

describe('consent', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a keyword opts in and another opts out, each recorded with its source and confirmed through the instance that received it', async () => {
    const { tenantId, key } = await newTenant('consent by keyword');
    const sender = await addSender(stack, key);
    const phone = '+5511970001234';
    const contact = await prisma.contact.create({ data: { tenantId, phone } });

    const set = await gqlOk(stack.url, key, UpdateTenant, {
      input: { optInKeywords: ['quero', 'start'], optInReply: 'Inscrição confirmada!', optOutReply: 'Você não receberá mais mensagens.' },
    });
    expect(set.updateTenant).toMatchObject({ __typename: 'UpdateTenantSuccess', data: { optInKeywords: ['QUERO', 'START'], optInReply: 'Inscrição confirmada!' } });

    stack.sim.receiveMessage(sender.name, digits(phone), 'Quero!');
    const optedIn = await waitFor(async () => {
      const c = await prisma.contact.findUniqueOrThrow({ where: { id: contact.id } });
      return c.optedInAt ? c : null;
    }, 20_000);
    expect(optedIn).toMatchObject({ optInSource: 'KEYWORD', optedOut: false });
    await waitFor(async () => stack.sim.sends.some((s) => s.number === digits(phone) && s.text === 'Inscrição confirmada!'), 20_000);

    // A message that is not exactly a keyword changes nothing.
    stack.sim.receiveMessage(sender.name, digits(phone), 'quero saber o preço');
    stack.sim.receiveMessage(sender.name, digits(phone), 'SAIR');
    const optedOut = await waitFor(async () => {
      const c = await prisma.contact.findUniqueOrThrow({ where: { id: contact.id } });
      return c.optedOut ? c : null;
    }, 20_000);
    expect(optedOut).toMatchObject({ optOutSource: 'KEYWORD', optedInAt: null, optInSource: null });
    await waitFor(async () => stack.sim.sends.some((s) => s.number === digits(phone) && s.text === 'Você não receberá mais mensagens.'), 20_000);
    // Two confirmations, nothing for the message that was not a keyword.
    expect(stack.sim.sends.filter((s) => s.number === digits(phone)).map((s) => s.text)).toEqual(['Inscrição confirmada!', 'Você não receberá mais mensagens.']);

    const seen = await gqlOk(stack.url, key, ContactConsent, { id: gid('Contact', contact.id) });
    const node = seen.node as {
      consent: { status: string; optInSource: string | null; optOutSource: string | null; optedOutAt: string | null };
      consentHistory: Array<{ kind: string; source: string; detail: { keyword?: string; replyId?: string } }>;
    };
    expect(node.consent).toMatchObject({ status: 'OPTED_OUT', optInSource: null, optOutSource: 'KEYWORD' });
    expect(node.consent.optedOutAt).not.toBeNull();
    expect(node.consentHistory.map((h) => [h.kind, h.source, h.detail.keyword])).toEqual([
      ['OPT_OUT', 'KEYWORD', 'SAIR'],
      ['OPT_IN', 'KEYWORD', 'Quero!'],
    ]);
    expect(node.consentHistory.every((h) => typeof h.detail.replyId === 'string')).toBe(true);
    const logs = await prisma.campaignLog.findMany({ where: { tenantId, type: { in: ['OPT_IN', 'OPT_OUT'] } }, orderBy: { id: 'asc' } });
    expect(logs.some((l) => l.type === 'OPT_IN' && l.message.includes('opted in'))).toBe(true);
    expect(logs.some((l) => l.message.includes('confirmation') && l.message.includes('sent'))).toBe(true);

    // A keyword cannot both opt in and opt out.
    const both = await gqlOk(stack.url, key, UpdateTenant, { input: { optInKeywords: ['SAIR'] } });
    expect(both.updateTenant.__typename).toBe('ValidationError');
    if (both.updateTenant.__typename === 'ValidationError') expect(both.updateTenant.issues[0]?.path).toEqual(['input', 'optInKeywords']);
  });

  it('a confirmation to a keyword received while the number is disconnected waits for it and is sent once it connects', async () => {
    const { tenantId, key } = await newTenant('consent while disconnected');
    const sender = await addSender(stack, key);
    const phone = '+5511970003456';
    const contact = await prisma.contact.create({ data: { tenantId, phone } });
    await gqlOk(stack.url, key, UpdateTenant, { input: { optOutReply: 'Descadastrado.' } });
    // Lost its connection (Evolution answers sends with 500 Connection Closed, posts no close).
    const simInstance = stack.sim.instances.get(sender.name);
    if (!simInstance) throw new Error('no simulator instance');
    simInstance.state = 'close';

    stack.sim.receiveMessage(sender.name, digits(phone), 'SAIR');
    await waitFor(async () => (await prisma.contact.findUniqueOrThrow({ where: { id: contact.id } })).optedOut, 20_000);
    const down = await waitFor(async () => (await prisma.whatsAppInstance.findFirstOrThrow({ where: { tenantId } })).disconnectedSince, 20_000);
    expect(down).toBeInstanceOf(Date);
    expect(stack.sim.sends.filter((x) => x.number === digits(phone))).toEqual([]);

    stack.sim.setConnectionState(sender.name, 'open');
    await waitFor(async () => stack.sim.sends.some((x) => x.number === digits(phone) && x.text === 'Descadastrado.'), 40_000);
    await waitFor(async () => (await prisma.campaignLog.findMany({ where: { tenantId, type: 'OPT_OUT', message: { contains: 'confirmation' } } })).length > 0, 20_000);
    expect(stack.sim.sends.filter((x) => x.number === digits(phone)).map((x) => x.text)).toEqual(['Descadastrado.']);
    const logs = await prisma.campaignLog.findMany({ where: { tenantId, type: 'OPT_OUT', message: { contains: 'confirmation' } } });
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/confirmation to .*: sent$/)]);
  });

  it('the API and an import column record opt-ins with their source; another tenant sees none of it', async () => {
    const { tenantId, key } = await newTenant('consent by API and import');
    const [a] = await Promise.all([prisma.contact.create({ data: { tenantId, phone: '+5511970002001' } })]);
    const r = await gqlOk(stack.url, key, OptIn, { contacts: { ids: [gid('Contact', a.id)] } });
    expect(r.optInContacts).toMatchObject({ __typename: 'OptInContactsSuccess', data: { matched: 1, changed: 1 } });
    // Asking again changes nothing and records nothing more.
    const again = await gqlOk(stack.url, key, OptIn, { contacts: { ids: [gid('Contact', a.id)] } });
    expect(again.optInContacts).toMatchObject({ data: { changed: 0 } });
    const events = await prisma.consentEvent.findMany({ where: { contactId: a.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'OPT_IN', source: 'API' });
    expect((events[0]?.detail as { actor?: string }).actor).toMatch(/^api-key:/);

    const csv = ['phone,name,opt_in', '+5511970002002,Ana,sim', '+5511970002003,Bia,não', '+5511970002004,Caio,', '+5511970002005,Duda,talvez'].join('\n');
    const imported = await gqlOk(stack.url, key, Import, { input: { format: 'CSV', data: csv } });
    expect(imported.importContacts.__typename).toBe('ImportContactsSuccess');
    const importId = imported.importContacts.__typename === 'ImportContactsSuccess' ? imported.importContacts.data.id : '';
    const done = await waitFor(async () => {
      const i = await prisma.contactImport.findFirst({ where: { tenantId, status: 'COMPLETED' } });
      return i;
    }, 20_000);
    expect(done).toMatchObject({ createdCount: 3, failedCount: 1 });
    expect(done.failures).toEqual([expect.objectContaining({ row: 4, field: 'optIn', input: 'talvez' })]);
    const contacts = await prisma.contact.findMany({ where: { tenantId, phone: { in: ['+5511970002002', '+5511970002003', '+5511970002004'] } }, orderBy: { phone: 'asc' } });
    expect(contacts.map((c) => [c.phone, c.optInSource])).toEqual([
      ['+5511970002002', 'IMPORT'],
      ['+5511970002003', null],
      ['+5511970002004', null],
    ]);
    const importEvent = await prisma.consentEvent.findFirstOrThrow({ where: { contactId: contacts[0]?.id } });
    expect(importEvent).toMatchObject({ kind: 'OPT_IN', source: 'IMPORT', detail: { importId: Buffer.from(importId, 'base64').toString().split(':')[1] } });

    // Another tenant's key sees neither the contact nor its consent history.
    const other = await newTenant('consent, other tenant');
    const seen = await gqlOk(stack.url, other.key, ContactConsent, { id: gid('Contact', a.id) });
    expect(seen.node).toBeNull();
  });
});
