import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';
import type { CreateCampaignInput } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { globalId, uuidOf } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';

const Create = graphql(`
  mutation ApiCreateCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id status name } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

const Settings = graphql(`
  query ApiCampaignSettings($id: ID!) {
    campaign(id: $id) {
      id
      name
      description
      objective
      status
      rotationMode
      cost
      messages { id order text mediaType mediaUrl mediaMimetype mediaFileName abVariant abWeight trackLinks }
      instances { id name }
      audience { type segmentId contactIds rules { tags { any all none } customFields { field op value } createdWithinDays } }
      window { startTime endTime weekdays respectHolidays holidayCountry holidayRegion timezoneMode }
      schedule { startAt recurrence interval endAfterOccurrences endAt occurrence }
      pacing { minDelayMs maxDelayMs maxAttempts errorThreshold }
      abTest { enabled testShare metric minSample significance autoWinner }
      followUps { step afterDays text }
      counters { targeted remaining failed }
    }
  }
`);

const Update = graphql(`
  mutation ApiUpdateCampaign($id: ID!, $input: UpdateCampaignInput!) {
    updateCampaign(id: $id, input: $input) {
      __typename
      ... on UpdateCampaignSuccess { data { id name } }
      ... on ValidationError { issues { path message } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom message }
      ... on Error { message }
    }
  }
`);

const Start = graphql(`
  mutation ApiStart($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on StartCampaignSuccess { data { status counters { targeted remaining } } }
      ... on CampaignNotReadyError { reason message }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Pause = graphql(`
  mutation ApiPause($id: ID!, $reason: String) {
    pauseCampaign(id: $id, reason: $reason) {
      __typename
      ... on PauseCampaignSuccess { data { status pauseReason } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Resume = graphql(`
  mutation ApiResume($id: ID!) {
    resumeCampaign(id: $id) {
      __typename
      ... on ResumeCampaignSuccess { data { status } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Cancel = graphql(`
  mutation ApiCancel($id: ID!) {
    cancelCampaign(id: $id) {
      __typename
      ... on CancelCampaignSuccess { data { status counters { skipped remaining } } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Delete = graphql(`
  mutation ApiDelete($id: ID!) {
    deleteCampaign(id: $id) {
      __typename
      ... on DeleteCampaignSuccess { data }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Duplicate = graphql(`
  mutation ApiDuplicate($id: ID!, $name: String) {
    duplicateCampaign(id: $id, name: $name) {
      __typename
      ... on DuplicateCampaignSuccess { data { id name status messages { text abVariant } instances { id } window { startTime endTime weekdays } pacing { maxAttempts } followUps { step text } } }
      ... on Error { message }
    }
  }
`);

const Schedule = graphql(`
  mutation ApiSchedule($id: ID!, $startAt: DateTime) {
    scheduleCampaign(id: $id, startAt: $startAt) {
      __typename
      ... on ScheduleCampaignSuccess { data { status schedule { startAt } } }
      ... on ValidationError { issues { path message } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Unschedule = graphql(`
  mutation ApiUnschedule($id: ID!) {
    unscheduleCampaign(id: $id) {
      __typename
      ... on UnscheduleCampaignSuccess { data { status } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Retry = graphql(`
  mutation ApiRetry($id: ID!) {
    retryFailed(id: $id) {
      __typename
      ... on RetryFailedSuccess { data { requeued campaign { status counters { failed remaining } } } }
      ... on InvalidTransitionError { currentState requestedAction allowedFrom }
      ... on Error { message }
    }
  }
`);

const Preview = graphql(`
  query ApiPreview($campaignId: ID!, $contactId: ID!, $messageId: ID) {
    previewMessage(campaignId: $campaignId, contactId: $contactId, messageId: $messageId) {
      __typename
      ... on PreviewMessageSuccess { data { text abVariant assigned mediaType } }
      ... on Error { message }
    }
  }
`);

const List = graphql(`
  query ApiList($filter: CampaignFilter, $orderBy: CampaignOrder, $first: Int, $after: String) {
    campaigns(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id name status objective } }
    }
  }
`);

const StartTypename = graphql(`
  mutation ApiStartTypename($id: ID!) {
    startCampaign(id: $id) { __typename }
  }
`);

const CampaignTypename = graphql(`
  query ApiCampaignTypename($id: ID!) {
    campaign(id: $id) { __typename }
    node(id: $id) { __typename }
    campaigns(first: 5) { edges { node { __typename } } }
  }
`);

const ContactIds = graphql(`
  query ApiContactIds {
    contacts(first: 100) { edges { node { id phone } } }
  }
`);

describe('campaigns through GraphQL', () => {
  let stack: Stack;
  let key: string;
  let tenantId: string;
  let instanceId: string;
  let other: { key: string; instanceId: string };

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    ({ key, tenantId } = await newTenant('Campaigns API'));
    instanceId = (await addSender(stack, key)).instanceId;
    await addContacts(stack, key, phones(6, 41).map((phone, i) => ({ phone, name: `Maria ${i} Silva`, tags: i % 2 ? ['vip'] : ['lead'] })));
    const o = await newTenant('Someone else');
    other = { key: o.key, instanceId: (await addSender(stack, o.key)).instanceId };
  });
  afterAll(async () => {
    await stack.close();
  });

  async function create(input: Record<string, unknown>) {
    const r = await gqlOk(stack.url, key, Create, { input: { name: 'C', messages: [{ text: 'Olá {{primeiro_nome}}' }], audience: { all: true }, instanceIds: [instanceId], ...input } as CreateCampaignInput });
    if (r.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(r.createCampaign));
    return r.createCampaign.data.id;
  }

  async function status(id: string) {
    return (await prisma.campaign.findUniqueOrThrow({ where: { id: uuidOf(id) }, select: { status: true } })).status;
  }

  it('creates a campaign with every setting and reads each back', async () => {
    const r = await gqlOk(stack.url, key, Create, {
      input: {
        name: '  Black Friday  ',
        description: 'the big one',
        objective: 'CONVERSION',
        rotationMode: 'ROUND_ROBIN',
        messages: [
          { text: '{{saudacao}}, {{primeiro_nome|cliente}}! 30% off', abWeight: 70 },
          { text: 'Oi {{nome}}, veja o catálogo', mediaType: 'DOCUMENT', mediaUrl: 'https://example.com/c.pdf', mediaFileName: 'catalogo.pdf', mediaMimetype: 'application/pdf', abWeight: 30, trackLinks: true },
        ],
        audience: { tags: { any: ['vip'], none: ['blocked'] } },
        instanceIds: [instanceId],
        schedule: { startAt: '2030-01-02T12:00:00.000Z', recurrence: 'WEEKLY', interval: 2, endAfterOccurrences: 4 },
        window: { startTime: '09:00', endTime: '18:30', weekdays: ['MONDAY', 'FRIDAY'], respectHolidays: true, holidayCountry: 'BR', holidayRegion: 'SP', timezoneMode: 'CONTACT' },
        pacing: { minDelayMs: 2000, maxDelayMs: 5000, maxAttempts: 4, errorThreshold: 7 },
        abTest: { enabled: true, testShare: 0.2, metric: 'REPLY_RATE', minSample: 50, significance: 0.9, autoWinner: false },
        followUps: [{ afterDays: 2, text: 'Ainda interessado, {{primeiro_nome}}?' }, { afterDays: 5, text: 'Última chance' }],
        cost: 150.5,
      },
    });
    expect(r.createCampaign.__typename).toBe('CreateCampaignSuccess');
    if (r.createCampaign.__typename !== 'CreateCampaignSuccess') return;
    const id = r.createCampaign.data.id;
    const c = (await gqlOk(stack.url, key, Settings, { id })).campaign;
    expect(c).toMatchObject({
      name: 'Black Friday',
      description: 'the big one',
      objective: 'CONVERSION',
      status: 'DRAFT',
      rotationMode: 'ROUND_ROBIN',
      cost: 150.5,
      instances: [{ id: instanceId }],
      audience: { type: 'RULES', rules: { tags: { any: ['vip'], all: [], none: ['blocked'] } } },
      window: { startTime: '09:00', endTime: '18:30', weekdays: ['MONDAY', 'FRIDAY'], respectHolidays: true, holidayCountry: 'BR', holidayRegion: 'SP', timezoneMode: 'CONTACT' },
      schedule: { startAt: '2030-01-02T12:00:00.000Z', recurrence: 'WEEKLY', interval: 2, endAfterOccurrences: 4, endAt: null, occurrence: 1 },
      pacing: { minDelayMs: 2000, maxDelayMs: 5000, maxAttempts: 4, errorThreshold: 7 },
      abTest: { enabled: true, testShare: 0.2, metric: 'REPLY_RATE', minSample: 50, significance: 0.9, autoWinner: false },
      followUps: [
        { step: 1, afterDays: 2, text: 'Ainda interessado, {{primeiro_nome}}?' },
        { step: 2, afterDays: 5, text: 'Última chance' },
      ],
    });
    expect(c?.messages).toMatchObject([
      { order: 0, abVariant: 'A', abWeight: 70, trackLinks: false, mediaType: null },
      { order: 1, abVariant: 'B', abWeight: 30, trackLinks: true, mediaType: 'DOCUMENT', mediaFileName: 'catalogo.pdf', mediaMimetype: 'application/pdf' },
    ]);
    const log = await prisma.campaignLog.findFirst({ where: { campaignId: uuidOf(id), type: 'CREATED' } });
    expect(log?.actor).toMatch(/^api-key:/);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['an empty name', { name: '   ' }, 'input.name'],
    ['an unknown template variable', { messages: [{ text: 'Oi {{desconto}}' }] }, 'input.messages.0.text'],
    ['a malformed variable', { messages: [{ text: 'Oi {{nome completo}}' }] }, 'input.messages.0.text'],
    ['media without its URL', { messages: [{ text: 'x', mediaType: 'IMAGE' }] }, 'input.messages.0.mediaUrl'],
    ['a media URL that is not http(s)', { messages: [{ text: 'x', mediaType: 'IMAGE', mediaUrl: 'ftp://x/y.png' }] }, 'input.messages.0.mediaUrl'],
    ['a document file name without extension', { messages: [{ text: 'x', mediaType: 'DOCUMENT', mediaUrl: 'https://x.com/a', mediaFileName: 'boleto' }] }, 'input.messages.0.mediaFileName'],
    ['more than 20 variations', { messages: Array.from({ length: 21 }, () => ({ text: 'x' })) }, 'input.messages'],
    ['a window time that is not HH:MM', { window: { startTime: '25:00', endTime: '18:00' } }, 'input.window.startTime'],
    ['a window with only its start', { window: { startTime: '09:00' } }, 'input.window.endTime'],
    ['an empty window', { window: { startTime: '09:00', endTime: '09:00' } }, 'input.window.endTime'],
    ['no weekday', { window: { weekdays: [] } }, 'input.window.weekdays'],
    ['a holiday country that is not ISO', { window: { respectHolidays: true, holidayCountry: 'Brasil' } }, 'input.window.holidayCountry'],
    ['maxDelayMs below minDelayMs', { pacing: { minDelayMs: 5000, maxDelayMs: 1000 } }, 'input.pacing.maxDelayMs'],
    ['zero attempts', { pacing: { maxAttempts: 0 } }, 'input.pacing.maxAttempts'],
    ['a typing presence over 20 s', { pacing: { typingDelayMs: 20_001 } }, 'input.pacing.typingDelayMs'],
    ['a negative typing presence', { pacing: { typingDelayMs: -1 } }, 'input.pacing.typingDelayMs'],
    ['A/B with one variation', { abTest: { enabled: true } }, 'input.messages'],
    ['A/B weights that do not sum to 100', { messages: [{ text: 'a', abWeight: 50 }, { text: 'b', abWeight: 20 }], abTest: { enabled: true } }, 'input.messages'],
    ['A/B test share of 1', { messages: [{ text: 'a' }, { text: 'b' }], abTest: { enabled: true, testShare: 1 } }, 'input.abTest.testShare'],
    ['a follow-up after 0 days', { followUps: [{ afterDays: 0, text: 'x' }] }, 'input.followUps.0.afterDays'],
    ['a follow-up with an unknown variable', { followUps: [{ afterDays: 1, text: '{{cupom}}' }] }, 'input.followUps.0.text'],
    ['a recurrence without its first start', { schedule: { recurrence: 'DAILY' } }, 'input.schedule.startAt'],
    ['an end for a one-off campaign', { schedule: { startAt: '2030-01-01T00:00:00Z', endAfterOccurrences: 3 } }, 'input.schedule.recurrence'],
    ['an empty tag audience', { audience: { tags: {} } }, 'input.audience.tags'],
    ['unknown contacts', { audience: { contactIds: [globalId('Contact', '00000000-0000-4000-8000-000000000000')] } }, 'input.audience.contactIds'],
    ['a rule with a bad value', { audience: { rules: { customFields: [{ field: 'plano', op: 'IN', value: 'gold' }] } } }, 'input.audience.rules.customFields.0.value'],
    ['a negative cost', { cost: -1 }, 'input.cost'],
  ];

  for (const [label, input, path] of invalid) {
    it(`refuses ${label} with a ValidationError at ${path}, and writes nothing`, async () => {
      const before = await prisma.campaign.count({ where: { tenantId } });
      const r = await gqlOk(stack.url, key, Create, {
        input: { name: 'Bad', messages: [{ text: 'ok' }], instanceIds: [instanceId], ...input } as CreateCampaignInput,
      });
      expect(r.createCampaign.__typename).toBe('ValidationError');
      if (r.createCampaign.__typename !== 'ValidationError') return;
      expect(r.createCampaign.issues.map((i) => i.path.join('.'))).toContain(path);
      expect(await prisma.campaign.count({ where: { tenantId } })).toBe(before);
    });
  }

  it("refuses another tenant's instance as unknown", async () => {
    const r = await gqlOk(stack.url, key, Create, { input: { name: 'X', instanceIds: [other.instanceId] } });
    expect(r.createCampaign.__typename).toBe('ValidationError');
    if (r.createCampaign.__typename === 'ValidationError') expect(r.createCampaign.issues[0]?.path).toEqual(['input', 'instanceIds', '0']);
  });

  it('updates only the fields given, groups field by field', async () => {
    const id = await create({ window: { startTime: '08:00', endTime: '20:00', weekdays: ['MONDAY', 'TUESDAY'] }, pacing: { maxAttempts: 5, errorThreshold: 9 } });
    const r = await gqlOk(stack.url, key, Update, { id, input: { name: 'Renamed', window: { endTime: '19:00' }, pacing: { errorThreshold: 3 } } });
    expect(r.updateCampaign.__typename).toBe('UpdateCampaignSuccess');
    const c = (await gqlOk(stack.url, key, Settings, { id })).campaign;
    expect(c).toMatchObject({
      name: 'Renamed',
      window: { startTime: '08:00', endTime: '19:00', weekdays: ['MONDAY', 'TUESDAY'] },
      pacing: { maxAttempts: 5, errorThreshold: 3 },
      messages: [{ text: 'Olá {{primeiro_nome}}' }],
    });
    // Clearing the hours keeps the weekdays.
    await gqlOk(stack.url, key, Update, { id, input: { window: { startTime: null, endTime: null } } });
    expect((await gqlOk(stack.url, key, Settings, { id })).campaign?.window).toMatchObject({ startTime: null, endTime: null, weekdays: ['MONDAY', 'TUESDAY'] });
    // Variations and instances are replaced when given.
    await gqlOk(stack.url, key, Update, { id, input: { messages: [{ text: 'Nova 1' }, { text: 'Nova 2' }], instanceIds: [] } });
    const after = (await gqlOk(stack.url, key, Settings, { id })).campaign;
    expect(after?.messages.map((m) => m.text)).toEqual(['Nova 1', 'Nova 2']);
    expect(after?.instances).toEqual([]);
    expect(await prisma.campaignLog.count({ where: { campaignId: uuidOf(id), type: 'UPDATED' } })).toBe(3);
  });

  it('refuses a null name and invalid settings on update, changing nothing', async () => {
    const id = await create({ name: 'Keep' });
    const r = await gqlOk(stack.url, key, Update, { id, input: { name: null, pacing: { minDelayMs: 9000, maxDelayMs: 10 } } });
    expect(r.updateCampaign.__typename).toBe('ValidationError');
    const c = (await gqlOk(stack.url, key, Settings, { id })).campaign;
    expect(c?.name).toBe('Keep');
  });

  it('refuses to update a running campaign, naming both states', async () => {
    const id = await create({});
    expect((await gqlOk(stack.url, key, Start, { id })).startCampaign.__typename).toBe('StartCampaignSuccess');
    const r = await gqlOk(stack.url, key, Update, { id, input: { name: 'no' } });
    expect(r.updateCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'RUNNING', requestedAction: 'update', allowedFrom: ['DRAFT', 'SCHEDULED', 'PAUSED'] });
    // Paused: settings may change, but not the frozen audience.
    expect((await gqlOk(stack.url, key, Pause, { id, reason: 'checking copy' })).pauseCampaign).toMatchObject({ data: { status: 'PAUSED', pauseReason: 'checking copy' } });
    const frozen = await gqlOk(stack.url, key, Update, { id, input: { audience: { tags: { any: ['vip'] } } } });
    expect(frozen.updateCampaign.__typename).toBe('ValidationError');
    const ok = await gqlOk(stack.url, key, Update, { id, input: { name: 'Fixed copy', messages: [{ text: 'Corrigido {{nome}}' }] } });
    expect(ok.updateCampaign.__typename).toBe('UpdateCampaignSuccess');
    // Waiting recipients get the new variation.
    const waiting = await prisma.recipient.findMany({ where: { campaignId: uuidOf(id), status: 'QUEUED' }, select: { message: { select: { text: true } } } });
    expect(waiting.length).toBe(6);
    expect(waiting.every((w) => w.message?.text === 'Corrigido {{nome}}')).toBe(true);
  });

  it('deletes a draft (its log stays) and refuses to delete anything else', async () => {
    const id = await create({});
    const r = await gqlOk(stack.url, key, Delete, { id });
    expect(r.deleteCampaign).toEqual({ __typename: 'DeleteCampaignSuccess', data: id });
    expect(await prisma.campaign.count({ where: { id: uuidOf(id) } })).toBe(0);
    expect(await prisma.campaignLog.count({ where: { campaignId: uuidOf(id) } })).toBeGreaterThanOrEqual(2);

    const running = await create({});
    await gqlOk(stack.url, key, Start, { id: running });
    const refused = await gqlOk(stack.url, key, Delete, { id: running });
    expect(refused.deleteCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'RUNNING', requestedAction: 'delete', allowedFrom: ['DRAFT'] });
    expect(await status(running)).toBe('RUNNING');
  });

  it('duplicates a campaign as a new draft with the same settings', async () => {
    const id = await create({
      name: 'Original',
      messages: [{ text: 'Um' }, { text: 'Dois' }],
      window: { startTime: '10:00', endTime: '16:00', weekdays: ['WEDNESDAY'] },
      pacing: { maxAttempts: 2 },
      followUps: [{ afterDays: 3, text: 'E aí?' }],
    });
    await gqlOk(stack.url, key, Start, { id });
    const r = await gqlOk(stack.url, key, Duplicate, { id });
    expect(r.duplicateCampaign).toMatchObject({
      __typename: 'DuplicateCampaignSuccess',
      data: {
        name: 'Original (copy)',
        status: 'DRAFT',
        messages: [{ text: 'Um' }, { text: 'Dois' }],
        instances: [{ id: instanceId }],
        window: { startTime: '10:00', endTime: '16:00', weekdays: ['WEDNESDAY'] },
        pacing: { maxAttempts: 2 },
        followUps: [{ step: 1, text: 'E aí?' }],
      },
    });
    const named = await gqlOk(stack.url, key, Duplicate, { id, name: 'Again' });
    expect(named.duplicateCampaign).toMatchObject({ data: { name: 'Again' } });
  });

  it('schedules, refuses a past start, and unschedules', async () => {
    const id = await create({});
    const past = await gqlOk(stack.url, key, Schedule, { id, startAt: new Date(Date.now() - 60_000).toISOString() });
    expect(past.scheduleCampaign.__typename).toBe('ValidationError');
    const none = await gqlOk(stack.url, key, Schedule, { id });
    expect(none.scheduleCampaign.__typename).toBe('ValidationError');
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const r = await gqlOk(stack.url, key, Schedule, { id, startAt: at });
    expect(r.scheduleCampaign).toMatchObject({ __typename: 'ScheduleCampaignSuccess', data: { status: 'SCHEDULED', schedule: { startAt: at } } });
    const again = await gqlOk(stack.url, key, Schedule, { id, startAt: at });
    expect(again.scheduleCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'SCHEDULED', requestedAction: 'schedule' });
    const back = await gqlOk(stack.url, key, Unschedule, { id });
    expect(back.unscheduleCampaign).toMatchObject({ data: { status: 'DRAFT' } });
    const twice = await gqlOk(stack.url, key, Unschedule, { id });
    expect(twice.unscheduleCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'DRAFT', requestedAction: 'unschedule' });
  });

  it('answers a mutation whose client selects only __typename', async () => {
    const id = await create({});
    expect((await gqlOk(stack.url, key, StartTypename, { id })).startCampaign.__typename).toBe('StartCampaignSuccess');
    expect(await status(id)).toBe('RUNNING');
    const q = await gqlOk(stack.url, key, CampaignTypename, { id });
    expect(q.campaign?.__typename).toBe('Campaign');
    expect(q.node?.__typename).toBe('Campaign');
  });

  it('refuses to start a campaign without variation, usable instance or audience, saying why', async () => {
    const noMessage = await create({ messages: [] });
    expect((await gqlOk(stack.url, key, Start, { id: noMessage })).startCampaign).toMatchObject({ __typename: 'CampaignNotReadyError', reason: 'NO_VARIATION' });
    const noInstance = await create({ instanceIds: [] });
    expect((await gqlOk(stack.url, key, Start, { id: noInstance })).startCampaign).toMatchObject({ __typename: 'CampaignNotReadyError', reason: 'NO_USABLE_INSTANCE' });
    const paused = (await addSender(stack, key)).instanceId;
    await prisma.whatsAppInstance.update({ where: { id: uuidOf(paused) }, data: { manuallyPaused: true } });
    const pausedOnly = await create({ instanceIds: [paused] });
    expect((await gqlOk(stack.url, key, Start, { id: pausedOnly })).startCampaign).toMatchObject({ __typename: 'CampaignNotReadyError', reason: 'NO_USABLE_INSTANCE' });
    const nobody = await create({ audience: { tags: { any: ['nobody-has-this'] } } });
    expect((await gqlOk(stack.url, key, Start, { id: nobody })).startCampaign).toMatchObject({ __typename: 'CampaignNotReadyError', reason: 'EMPTY_AUDIENCE' });
    for (const id of [noMessage, noInstance, pausedOnly, nobody]) {
      expect(await status(id)).toBe('DRAFT');
      expect(await prisma.recipient.count({ where: { campaignId: uuidOf(id) } })).toBe(0);
    }
  });

  it('refuses every transition the state machine forbids, naming current state and action', async () => {
    const draft = await create({});
    expect((await gqlOk(stack.url, key, Pause, { id: draft })).pauseCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'DRAFT', requestedAction: 'pause', allowedFrom: ['RUNNING'] });
    expect((await gqlOk(stack.url, key, Resume, { id: draft })).resumeCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'DRAFT', requestedAction: 'resume', allowedFrom: ['PAUSED'] });
    expect((await gqlOk(stack.url, key, Retry, { id: draft })).retryFailed).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'DRAFT', requestedAction: 'retry' });

    const running = await create({});
    await gqlOk(stack.url, key, Start, { id: running });
    expect((await gqlOk(stack.url, key, Start, { id: running })).startCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'RUNNING', requestedAction: 'start', allowedFrom: ['DRAFT', 'SCHEDULED'] });
    expect((await gqlOk(stack.url, key, Resume, { id: running })).resumeCampaign).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'RUNNING' });
    expect((await gqlOk(stack.url, key, Schedule, { id: running, startAt: new Date(Date.now() + 60_000).toISOString() })).scheduleCampaign).toMatchObject({
      __typename: 'InvalidTransitionError',
      currentState: 'RUNNING',
    });

    const cancelled = await gqlOk(stack.url, key, Cancel, { id: running });
    expect(cancelled.cancelCampaign).toMatchObject({ __typename: 'CancelCampaignSuccess', data: { status: 'CANCELLED', counters: { skipped: 6, remaining: 0 } } });
    for (const r of [
      (await gqlOk(stack.url, key, Cancel, { id: running })).cancelCampaign,
      (await gqlOk(stack.url, key, Start, { id: running })).startCampaign,
      (await gqlOk(stack.url, key, Pause, { id: running })).pauseCampaign,
      (await gqlOk(stack.url, key, Resume, { id: running })).resumeCampaign,
    ]) {
      expect(r).toMatchObject({ __typename: 'InvalidTransitionError', currentState: 'CANCELLED' });
    }
    expect(await status(running)).toBe('CANCELLED');
  });

  it('retryFailed re-queues only failures that certainly did not send', async () => {
    const id = await create({});
    await gqlOk(stack.url, key, Start, { id });
    await gqlOk(stack.url, key, Pause, { id });
    const cid = uuidOf(id);
    const rows = await prisma.recipient.findMany({ where: { campaignId: cid }, orderBy: { seq: 'asc' }, select: { id: true } });
    const [unavailable, rejected, notOnWa, providerError, unknown] = rows.map((r) => r.id) as string[];
    const fail = (rid: string, code: string, sent: boolean) =>
      prisma.$executeRaw`UPDATE recipient SET status = 'FAILED', error_code = ${code}, failed_at = now(), sent_at = ${sent ? new Date() : null} WHERE id = ${rid}::uuid`;
    await fail(unavailable as string, 'UNAVAILABLE', false);
    await fail(rejected as string, 'REJECTED', false);
    await fail(notOnWa as string, 'NOT_ON_WHATSAPP', false);
    await fail(providerError as string, 'PROVIDER_ERROR', true);
    await prisma.$executeRaw`UPDATE recipient SET status = 'UNKNOWN', error_code = 'OUTCOME_UNKNOWN' WHERE id = ${unknown as string}::uuid`;
    // Counters as the real paths would have kept them.
    await prisma.$executeRaw`UPDATE campaign SET failed_count = 4, unknown_count = 1, sent_count = 1, remaining_count = 1 WHERE id = ${cid}::uuid`;

    const r = await gqlOk(stack.url, key, Retry, { id });
    expect(r.retryFailed).toMatchObject({ __typename: 'RetryFailedSuccess', data: { requeued: 2, campaign: { status: 'PAUSED', counters: { failed: 2, remaining: 3 } } } });
    const after = await prisma.recipient.findMany({ where: { id: { in: [unavailable, rejected, notOnWa, providerError, unknown] as string[] } }, select: { id: true, status: true } });
    const byId = new Map(after.map((a) => [a.id, a.status]));
    expect([byId.get(unavailable as string), byId.get(rejected as string)]).toEqual(['QUEUED', 'QUEUED']);
    expect([byId.get(notOnWa as string), byId.get(providerError as string), byId.get(unknown as string)]).toEqual(['FAILED', 'FAILED', 'UNKNOWN']);
    // Nothing left to retry: a second call re-queues none.
    expect((await gqlOk(stack.url, key, Retry, { id })).retryFailed).toMatchObject({ data: { requeued: 0 } });
  });

  it('previews exactly what a contact gets, with defaults and the frozen variation once started', async () => {
    const contacts = (await gqlOk(stack.url, key, ContactIds)).contacts.edges.map((e) => e.node);
    const contact = contacts[0] as { id: string };
    const id = await create({ messages: [{ text: 'Oi {{primeiro_nome}}, {{cidade|tudo bem}}?' }, { text: 'Segunda {{nome}}' }] });
    const p = await gqlOk(stack.url, key, Preview, { campaignId: id, contactId: contact.id });
    expect(p.previewMessage).toMatchObject({ __typename: 'PreviewMessageSuccess', data: { text: 'Oi Maria, tudo bem?', assigned: false } });
    const notFound = await gqlOk(stack.url, key, Preview, { campaignId: id, contactId: globalId('Contact', '00000000-0000-4000-8000-000000000001') });
    expect(notFound.previewMessage.__typename).toBe('NotFoundError');
    await gqlOk(stack.url, key, Start, { id });
    const frozen = await gqlOk(stack.url, key, Preview, { campaignId: id, contactId: contact.id });
    expect(frozen.previewMessage).toMatchObject({ data: { assigned: true } });
    const recipient = await prisma.recipient.findFirstOrThrow({ where: { campaignId: uuidOf(id), contactId: uuidOf(contact.id) }, select: { message: { select: { text: true } } } });
    const expected = recipient.message?.text.startsWith('Oi') ? 'Oi Maria, tudo bem?' : 'Segunda Maria 0 Silva';
    if (frozen.previewMessage.__typename === 'PreviewMessageSuccess') expect(frozen.previewMessage.data.text.replace(/Maria \d Silva/, 'Maria 0 Silva')).toBe(expected);
  });

  it('lists campaigns with filters, ordering, totalCount and cursors', async () => {
    const t = await newTenant('Listing');
    const sender = (await addSender(stack, t.key)).instanceId;
    const made: string[] = [];
    for (const [name, objective] of [
      ['Alpha promo', 'PROMOTIONAL'],
      ['Beta retention', 'RETENTION'],
      ['Gamma promo', 'PROMOTIONAL'],
      ['Delta info', 'INFORMATIONAL'],
    ] as const) {
      const r = await gqlOk(stack.url, t.key, Create, { input: { name, objective, instanceIds: [sender] } });
      if (r.createCampaign.__typename === 'CreateCampaignSuccess') made.push(r.createCampaign.data.id);
    }
    const all = await gqlOk(stack.url, t.key, List, { first: 20 });
    expect(all.campaigns.totalCount).toBe(4);
    expect(all.campaigns.edges.map((e) => e.node.name)).toEqual(['Delta info', 'Gamma promo', 'Beta retention', 'Alpha promo']);
    const promos = await gqlOk(stack.url, t.key, List, { filter: { objective: ['PROMOTIONAL'] }, orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(promos.campaigns.edges.map((e) => e.node.name)).toEqual(['Alpha promo', 'Gamma promo']);
    expect(promos.campaigns.totalCount).toBe(2);
    const search = await gqlOk(stack.url, t.key, List, { filter: { search: 'RETENT' } });
    expect(search.campaigns.edges.map((e) => e.node.name)).toEqual(['Beta retention']);
    const none = await gqlOk(stack.url, t.key, List, { filter: { createdAfter: new Date(Date.now() + 60_000).toISOString() } });
    expect(none.campaigns.totalCount).toBe(0);
    const drafts = await gqlOk(stack.url, t.key, List, { filter: { status: ['DRAFT'] } });
    expect(drafts.campaigns.totalCount).toBe(4);
    const page1 = await gqlOk(stack.url, t.key, List, { first: 3, orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(page1.campaigns.pageInfo.hasNextPage).toBe(true);
    const page2 = await gqlOk(stack.url, t.key, List, { first: 3, after: page1.campaigns.pageInfo.endCursor, orderBy: { field: 'NAME', direction: 'ASC' } });
    expect([...page1.campaigns.edges, ...page2.campaigns.edges].map((e) => e.node.name)).toEqual(['Alpha promo', 'Beta retention', 'Delta info', 'Gamma promo']);
    expect(page2.campaigns.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses every campaign mutation to a VIEWER key with a ForbiddenError, and lets an OPERATOR through', async () => {
    const id = await create({});
    const viewer = (await createApiKey(tenantId, 'ro', 'VIEWER')).key;
    const operator = (await createApiKey(tenantId, 'op', 'OPERATOR')).key;
    const results = [
      (await gqlOk(stack.url, viewer, Create, { input: { name: 'v' } })).createCampaign,
      (await gqlOk(stack.url, viewer, Update, { id, input: { name: 'v' } })).updateCampaign,
      (await gqlOk(stack.url, viewer, Delete, { id })).deleteCampaign,
      (await gqlOk(stack.url, viewer, Duplicate, { id })).duplicateCampaign,
      (await gqlOk(stack.url, viewer, Schedule, { id, startAt: new Date(Date.now() + 60_000).toISOString() })).scheduleCampaign,
      (await gqlOk(stack.url, viewer, Unschedule, { id })).unscheduleCampaign,
      (await gqlOk(stack.url, viewer, Start, { id })).startCampaign,
      (await gqlOk(stack.url, viewer, Pause, { id })).pauseCampaign,
      (await gqlOk(stack.url, viewer, Resume, { id })).resumeCampaign,
      (await gqlOk(stack.url, viewer, Cancel, { id })).cancelCampaign,
      (await gqlOk(stack.url, viewer, Retry, { id })).retryFailed,
    ];
    for (const r of results) expect(r.__typename).toBe('ForbiddenError');
    expect(await status(id)).toBe('DRAFT');
    // Reading is allowed.
    expect((await gqlOk(stack.url, viewer, Settings, { id })).campaign?.id).toBe(id);
    const op = await gqlOk(stack.url, operator, Update, { id, input: { name: 'By operator' } });
    expect(op.updateCampaign.__typename).toBe('UpdateCampaignSuccess');
  });
});

