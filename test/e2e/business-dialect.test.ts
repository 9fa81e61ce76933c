import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { uuidOf } from '../helpers/ids.js';
import { SIM_API_KEY, type Stack, startStack, waitFor } from '../helpers/stack.js';

// A WHATSAPP-BUSINESS number (Meta's Cloud API behind Evolution), end to end on the simulator's
// business dialect: receipts with fromMe false and Meta's words, templates, and the 24-hour window
// (free text outside it fails at Meta, so it must never be attempted).

const CreateCampaign = graphql(`
  mutation CreateBusinessCampaign($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id messages { text template { name language bodyParams } } } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const StartCampaign = graphql(`
  mutation StartBusinessCampaign($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on Error { message }
    }
  }
`);

const Plan = graphql(`
  query BusinessCampaignPlan($id: ID!) {
    campaignPlan(id: $id) {
      __typename
      ... on CampaignPlanSuccess { data { audience serviceWindow { outside template } warnings } }
    }
  }
`);

const Campaign = graphql(`
  query BusinessCampaign($id: ID!) {
    campaign(id: $id) {
      status
      counters { targeted sent delivered read failed skipped unknown remaining }
      skippedByReason { reason count }
    }
  }
`);

const Templates = graphql(`
  query BusinessInstanceTemplates($id: ID!) {
    node(id: $id) {
      ... on WhatsAppInstance { integration templates { ok message templates { name language status bodyParameters } } }
    }
  }
`);

const RegisterServer = graphql(`
  mutation DetectServer($input: RegisterEvolutionServerInput!) {
    registerEvolutionServer(input: $input) {
      __typename
      ... on RegisterEvolutionServerSuccess { data { id } }
    }
  }
`);

const Register = graphql(`
  mutation DetectInstance($input: RegisterInstanceInput!) {
    registerInstance(input: $input) {
      __typename
      ... on RegisterInstanceSuccess { data { id integration } }
      ... on Error { message }
    }
  }
`);

const digits = (e164: string) => e164.replace(/\D/g, '');

describe('a campaign on a WhatsApp Business (Cloud API) number', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 0, seed: 23 } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('refuses templates the number cannot send, then sends free text inside the 24-hour window and the template to everyone else; all delivered and read', async () => {
    const { key } = await newTenant('Cloud');
    const sender = await addSender(stack, key, { integration: 'WHATSAPP-BUSINESS' });
    const numbers = phones(8, 23);
    await addContacts(stack, key, numbers.map((phone, i) => ({ phone, name: `Maria${i} Silva` })));
    // Half of them wrote to the number: their service window is open.
    const inside = numbers.slice(0, 4);
    const outside = numbers.slice(4);
    for (const p of inside) stack.sim.receiveMessage(sender.name, digits(p), 'Oi, quero saber das ofertas');
    await waitFor(async () => (await prisma.reply.count({ where: { instanceId: uuidOf(sender.instanceId) } })) === inside.length, 30_000);

    const listed = await gqlOk(stack.url, key, Templates, { id: sender.instanceId });
    const node = listed.node as { integration: string; templates: { ok: boolean; templates: Array<{ name: string; status: string; bodyParameters: number }> } };
    expect(node.integration).toBe('WHATSAPP_BUSINESS');
    expect(node.templates.ok).toBe(true);
    expect(node.templates.templates).toContainEqual({ name: 'pedido_confirmado', language: 'pt_BR', status: 'APPROVED', bodyParameters: 2 });
    expect(node.templates.templates.map((t) => t.name)).toContain('lembrete_consulta');

    const base = { name: 'Cloud', audience: { all: true }, instanceIds: [sender.instanceId] };
    const refused = async (template: { name: string; language: string; bodyParams?: string[] }) => {
      const r = await gqlOk(stack.url, key, CreateCampaign, { input: { ...base, messages: [{ template }] } });
      if (r.createCampaign.__typename !== 'ValidationError') throw new Error(`accepted: ${JSON.stringify(r)}`);
      return r.createCampaign.issues;
    };
    expect(await refused({ name: 'nao_existe', language: 'pt_BR' })).toContainEqual({
      path: ['input', 'messages', '0', 'template', 'name'],
      message: `instance ${sender.name}: no template named "nao_existe"`,
    });
    expect((await refused({ name: 'lembrete_consulta', language: 'pt_BR', bodyParams: ['{{nome}}', 'amanhã'] }))[0]?.message).toMatch(/is PENDING, not APPROVED/);
    expect((await refused({ name: 'pedido_confirmado', language: 'pt_BR', bodyParams: ['{{nome}}'] }))[0]).toMatchObject({
      path: ['input', 'messages', '0', 'template', 'bodyParams'],
      message: expect.stringMatching(/has 2 parameter\(s\); 1 given/),
    });
    expect((await refused({ name: 'pedido_confirmado', language: 'en_US', bodyParams: ['a', 'b'] }))[0]?.message).toMatch(/no "en_US" version/);
    expect(await prisma.campaign.count({ where: { name: 'Cloud' } })).toBe(0);

    const created = await gqlOk(stack.url, key, CreateCampaign, {
      input: {
        ...base,
        messages: [
          { text: 'Oi {{primeiro_nome}}, separamos ofertas para você!' },
          { template: { name: 'pedido_confirmado', language: 'pt_BR', bodyParams: ['{{primeiro_nome}}', '{{pedido|10452}}'] } },
        ],
      },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    const campaignId = created.createCampaign.data.id;
    // The template's body, as Meta has it, is the variation's text.
    expect(created.createCampaign.data.messages[1]).toMatchObject({
      text: 'Olá {{1}}, seu pedido {{2}} foi confirmado e logo sai para entrega.',
      template: { name: 'pedido_confirmado', language: 'pt_BR', bodyParams: ['{{primeiro_nome}}', '{{pedido|10452}}'] },
    });

    const plan = await gqlOk(stack.url, key, Plan, { id: campaignId });
    if (plan.campaignPlan.__typename !== 'CampaignPlanSuccess') throw new Error(JSON.stringify(plan));
    expect(plan.campaignPlan.data.serviceWindow).toEqual({ outside: outside.length, template: 'pedido_confirmado (pt_BR)' });
    expect(plan.campaignPlan.data.warnings.join('\n')).toMatch(/4 recipient\(s\) wrote to none .* they get the template pedido_confirmado/);

    stack.sim.clearSends();
    const started = await gqlOk(stack.url, key, StartCampaign, { id: campaignId });
    expect(started.startCampaign.__typename).toBe('StartCampaignSuccess');
    const done = await waitFor(
      async () => {
        const c = (await gqlOk(stack.url, key, Campaign, { id: campaignId })).campaign;
        return c?.status === 'COMPLETED' && c.counters.read === numbers.length ? c : null;
      },
      60_000,
      200,
    );
    expect(done.counters).toMatchObject({ targeted: 8, sent: 8, delivered: 8, read: 8, failed: 0, skipped: 0, unknown: 0, remaining: 0 });

    // What the simulated Meta saw: each number once; nobody outside the window got free text.
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    expect(sends.map((s) => s.number).sort()).toEqual(numbers.map(digits).sort());
    expect(sends.filter((s) => s.outsideWindow)).toEqual([]);
    for (const p of outside) {
      const s = sends.find((x) => x.number === digits(p));
      expect(s?.endpoint, p).toBe('sendTemplate');
      expect(s?.template).toMatchObject({ name: 'pedido_confirmado', language: 'pt_BR' });
    }
    // Every recipient's stored text is what the contact read.
    const recipients = await prisma.recipient.findMany({ where: { campaignId: uuidOf(campaignId) }, include: { contact: true, message: true } });
    for (const r of recipients) {
      const s = sends.find((x) => x.number === digits(r.phone));
      const first = r.contact.name?.split(' ')[0];
      if (s?.endpoint === 'sendTemplate') {
        expect(r.message?.templateName).toBe('pedido_confirmado');
        expect(r.renderedText).toBe(`Olá ${first}, seu pedido 10452 foi confirmado e logo sai para entrega.`);
        expect(s.text).toBe(r.renderedText);
      } else {
        expect(inside).toContain(r.phone);
        expect(s?.endpoint).toBe('sendText');
        expect(r.renderedText).toBe(`Oi ${first}, separamos ofertas para você!`);
      }
    }
  });

  it('without a template variation, skips those outside the window (OUTSIDE_SERVICE_WINDOW) and says so in the plan', async () => {
    const { key } = await newTenant('Cloud text only');
    const sender = await addSender(stack, key, { integration: 'WHATSAPP-BUSINESS' });
    const numbers = phones(4, 24);
    await addContacts(stack, key, numbers.map((phone) => ({ phone })));
    stack.sim.receiveMessage(sender.name, digits(numbers[0] as string), 'Oi');
    await waitFor(async () => (await prisma.reply.count({ where: { instanceId: uuidOf(sender.instanceId) } })) === 1, 30_000);
    const created = await gqlOk(stack.url, key, CreateCampaign, {
      input: { name: 'Cloud text', audience: { all: true }, instanceIds: [sender.instanceId], messages: [{ text: 'Novidades da semana' }] },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    const campaignId = created.createCampaign.data.id;
    const plan = await gqlOk(stack.url, key, Plan, { id: campaignId });
    if (plan.campaignPlan.__typename !== 'CampaignPlanSuccess') throw new Error(JSON.stringify(plan));
    expect(plan.campaignPlan.data.serviceWindow).toEqual({ outside: 3, template: null });
    expect(plan.campaignPlan.data.warnings.join('\n')).toMatch(/no template variation, so those sent through such a number will be skipped \(OUTSIDE_SERVICE_WINDOW\)/);

    expect((await gqlOk(stack.url, key, StartCampaign, { id: campaignId })).startCampaign.__typename).toBe('StartCampaignSuccess');
    const done = await waitFor(
      async () => {
        const c = (await gqlOk(stack.url, key, Campaign, { id: campaignId })).campaign;
        return c?.status === 'COMPLETED' && c.counters.delivered === 1 ? c : null;
      },
      60_000,
      200,
    );
    expect(done.counters).toMatchObject({ targeted: 4, sent: 1, delivered: 1, failed: 0, skipped: 3, remaining: 0 });
    expect(done.skippedByReason).toEqual([{ reason: 'OUTSIDE_SERVICE_WINDOW', count: 3 }]);
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    expect(sends.map((s) => s.number)).toEqual([digits(numbers[0] as string)]);
  });

  it("treats Meta's refusal (a 201 whose body is Meta's error, no key) as a failed send, not a sent one, without blaming the number", async () => {
    const { key } = await newTenant('Cloud refused');
    const sender = await addSender(stack, key, { integration: 'WHATSAPP-BUSINESS' });
    const numbers = phones(3, 25);
    await addContacts(stack, key, numbers.map((phone) => ({ phone })));
    for (const p of numbers) stack.sim.receiveMessage(sender.name, digits(p), 'Oi');
    await waitFor(async () => (await prisma.reply.count({ where: { instanceId: uuidOf(sender.instanceId) } })) === 3, 30_000);
    const refusedNumber = digits(numbers[1] as string);
    stack.sim.configure({ metaErrors: { [refusedNumber]: 131026 } });
    try {
      const created = await gqlOk(stack.url, key, CreateCampaign, {
        input: { name: 'Cloud refused', audience: { all: true }, instanceIds: [sender.instanceId], messages: [{ text: 'Oi!' }] },
      });
      if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
      const campaignId = created.createCampaign.data.id;
      expect((await gqlOk(stack.url, key, StartCampaign, { id: campaignId })).startCampaign.__typename).toBe('StartCampaignSuccess');
      const done = await waitFor(
        async () => {
          const c = (await gqlOk(stack.url, key, Campaign, { id: campaignId })).campaign;
          return c?.status === 'COMPLETED' && c.counters.read === 2 ? c : null;
        },
        60_000,
        200,
      );
      expect(done.counters).toMatchObject({ targeted: 3, sent: 2, failed: 1, unknown: 0 });
      const failed = await prisma.recipient.findFirstOrThrow({ where: { campaignId: uuidOf(campaignId), status: 'FAILED' } });
      expect(failed.phone).toBe(numbers[1]);
      expect(failed.sentAt).toBeNull();
      expect(failed.providerMessageId).toBeNull();
      expect(failed.errorCode).toBe('REJECTED');
      expect(failed.error).toMatch(/^Meta refused the message: .*\[code 131026\]$/);
      // Called once, never sent; the number is not blamed for the recipient's problem.
      expect(stack.sim.calls.filter((c) => c.number === refusedNumber)).toHaveLength(1);
      expect(stack.sim.sends.filter((x) => x.number === refusedNumber)).toEqual([]);
      const instance = await prisma.whatsAppInstance.findUniqueOrThrow({ where: { id: uuidOf(sender.instanceId) } });
      expect(instance.consecutiveErrors).toBe(0);
      expect(instance.healthScore).toBeGreaterThanOrEqual(100);
    } finally {
      stack.sim.configure({ metaErrors: {} });
    }
  });

  it("reads an instance's integration from Evolution when it is registered without one (fetchInstances), and lists no templates for a Baileys number", async () => {
    const { key } = await newTenant('Cloud detect');
    const server = await gqlOk(stack.url, key, RegisterServer, { input: { name: 'evo-detect', baseUrl: stack.sim.url, apiKey: SIM_API_KEY } });
    if (server.registerEvolutionServer.__typename !== 'RegisterEvolutionServerSuccess') throw new Error(JSON.stringify(server));
    const serverId = server.registerEvolutionServer.data.id;
    const integrations: Record<string, string> = {};
    for (const [name, integration] of [
      ['detect-cloud', 'WHATSAPP-BUSINESS'],
      ['detect-web', 'WHATSAPP-BAILEYS'],
    ] as const) {
      const res = await fetch(`${stack.sim.url}/instance/create`, {
        method: 'POST',
        headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ instanceName: name, integration, number: '5511900001111', ...(integration === 'WHATSAPP-BUSINESS' ? { token: 'EAAGx', businessId: '1022' } : {}) }),
      });
      expect(res.status).toBe(201);
      const r = await gqlOk(stack.url, key, Register, { input: { serverId, name } });
      if (r.registerInstance.__typename !== 'RegisterInstanceSuccess') throw new Error(JSON.stringify(r));
      integrations[name] = r.registerInstance.data.integration;
      const listed = await gqlOk(stack.url, key, Templates, { id: r.registerInstance.data.id });
      const node = listed.node as { templates: { ok: boolean; message: string | null } };
      expect(node.templates.ok).toBe(integration === 'WHATSAPP-BUSINESS');
    }
    expect(integrations).toEqual({ 'detect-cloud': 'WHATSAPP_BUSINESS', 'detect-web': 'WHATSAPP_BAILEYS' });
  });
});
