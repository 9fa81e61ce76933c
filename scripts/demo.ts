// The demo `npm run dev` runs once the services are up: everything a new user would do, through the
// public interfaces only (the CLI's tenant creation, GraphQL, and the simulator's Evolution API).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createTenant } from '../src/features/auth/api-keys.js';
import { prisma } from '../src/infra/db/client.js';
import { gql } from './lib/gql.js';

const apiUrl = process.env.DEMO_API_URL ?? 'http://127.0.0.1:4000';
const simUrl = process.env.DEMO_SIM_URL ?? 'http://127.0.0.1:8080';
const simKey = process.env.DEMO_SIM_API_KEY ?? 'sim-global-api-key';
const CONTACTS = 120;

const line = (s = '') => process.stdout.write(`${s}\n`);

async function sim(method: string, path: string, body?: unknown) {
  const res = await fetch(`${simUrl}${path}`, {
    method,
    headers: { apikey: simKey, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const FIRST = ['Ana', 'Bruno', 'Carla', 'Diego', 'Elisa', 'Fábio', 'Gabriela', 'Heitor', 'Isabela', 'João', 'Larissa', 'Marcos'];
const LAST = ['Silva', 'Souza', 'Oliveira', 'Santos', 'Lima', 'Pereira', 'Costa', 'Almeida'];

const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ');
const { tenant, key } = await createTenant({ name: `Demo ${stamp}` });
await prisma.$disconnect();

// Make the simulated network realistic: receipts take a moment, some messages are never read,
// a few fail, webhooks are sometimes duplicated or reordered.
await sim('PATCH', '/__simulator/behaviour', {
  latencyMs: 120,
  ackDelayMs: 400,
  deliveryDelayMs: 1200,
  readDelayMs: 2500,
  noReadRate: 0.35,
  failureRate: 0.03,
  duplicateRate: 0.05,
  reorderRate: 0.1,
  notOnWhatsapp: ['5511955500003', '5511955500077'],
});

const server = await gql(apiUrl, key, `mutation($i: RegisterEvolutionServerInput!) { registerEvolutionServer(input: $i) { ... on RegisterEvolutionServerSuccess { data { id } } ... on Error { message } } }`, {
  i: { name: 'simulator', baseUrl: simUrl, apiKey: simKey },
});
const serverId = server.registerEvolutionServer.data.id;

// Two numbers, one of each kind of Evolution integration: a WhatsApp Web number (Baileys, QR-connected)
// and an official WhatsApp Business number (Meta's Cloud API behind Evolution: templates, 24-hour window).
// As on a real Evolution: create the instance there, register it here (its integration is read from
// Evolution), then point the instance's webhook at the URL we give.
const instanceIds: string[] = [];
const numbers = [
  { n: 1, integration: 'WHATSAPP-BAILEYS', extra: {} },
  { n: 2, integration: 'WHATSAPP-BUSINESS', extra: { token: 'EAAGdemo-meta-access-token', businessId: '102290129340398' } },
] as const;
const names: string[] = [];
for (const { n, integration, extra } of numbers) {
  const name = `demo-${tenant.id.slice(0, 8)}-${n}`;
  names.push(name);
  await sim('POST', '/instance/create', { instanceName: name, integration, number: `551190000000${n}`, qrcode: integration === 'WHATSAPP-BAILEYS', ...extra });
  const r = await gql(
    apiUrl,
    key,
    `mutation($i: RegisterInstanceInput!) { registerInstance(input: $i) { ... on RegisterInstanceSuccess { data { id webhookUrl integration } } ... on Error { message } } }`,
    { i: { serverId, name, limitPerMinute: 60, limitPerHour: 1000, minDelayMs: 400, maxDelayMs: 900 } },
  );
  const { id, webhookUrl } = r.registerInstance.data;
  instanceIds.push(id);
  await sim('POST', `/webhook/set/${name}`, {
    webhook: { enabled: true, url: webhookUrl, byEvents: false, base64: false, events: ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'MESSAGES_UPSERT', 'CONNECTION_UPDATE', 'QRCODE_UPDATED'] },
  });
  if (integration === 'WHATSAPP-BAILEYS') await sim('POST', `/__simulator/instances/${name}/connection`, { state: 'open' });
  line(`instance ${name}: ${r.registerInstance.data.integration}`);
}

const contacts = Array.from({ length: CONTACTS }, (_, i) => ({
  phone: `+55 11 95550-${String(i).padStart(4, '0')}`,
  name: `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}`,
  tags: i % 3 === 0 ? ['vip'] : ['newsletter'],
  customFields: { cidade: i % 2 ? 'São Paulo' : 'Campinas' },
}));
const added = await gql(apiUrl, key, `mutation($c: [ContactInput!]!) { addContacts(contacts: $c) { ... on AddContactsSuccess { data { created failed } } ... on Error { message } } }`, { c: contacts });

// A third of the contacts wrote to the business number today: its 24-hour service window is open for
// them (free text allowed); the others get the approved template instead.
for (const [i, c] of contacts.entries()) {
  if (i % 3 === 1) await sim('POST', `/__simulator/instances/${names[1]}/incoming`, { from: c.phone.replace(/\D/g, ''), text: 'Oi! Quero saber das ofertas' });
}

const created = await gql(
  apiUrl,
  key,
  `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { ... on CreateCampaignSuccess { data { id } } ... on ValidationError { issues { path message } } } }`,
  {
    i: {
      name: 'Demo: Black Friday',
      objective: 'PROMOTIONAL',
      rotationMode: 'INTELLIGENT',
      messages: [
        { text: '{{saudacao}}, {{primeiro_nome}}! A Black Friday chegou em {{cidade}}: 30% em tudo até domingo.' },
        { text: 'Oi {{primeiro_nome}}, {{dia_semana}} é dia de oferta: 30% em tudo na Black Friday!' },
        // Approved by Meta: what the business number sends to contacts outside the 24-hour window.
        { template: { name: 'promo_semana', language: 'pt_BR', bodyParams: ['{{primeiro_nome}}'] } },
      ],
      audience: { all: true },
      instanceIds,
    },
  },
);
if (!created.createCampaign.data) throw new Error(`the demo campaign was refused: ${JSON.stringify(created.createCampaign)}`);
const campaignId: string = created.createCampaign.data.id;

const subscription = `subscription { campaignProgress(campaignId: "${campaignId}") { status percentDone counters { targeted sent delivered read failed skipped unknown remaining deliveryRate readRate } } }`;
line();
line('──────────────────────────────────────────────────────────────────────────────');
line(` GraphiQL:      ${apiUrl}/graphql`);
line(` API key:       ${key}`);
line(`               (in GraphiQL, Headers: {"Authorization": "Bearer ${key}"})`);
line(` Tenant:        ${tenant.name} (${added.addContacts.data.created} contacts, 2 instances on the simulator: Baileys and WhatsApp Business)`);
line(' Subscription to paste:');
line(`   ${subscription}`);
line('──────────────────────────────────────────────────────────────────────────────');
line();

const ws = createClient({ url: `${apiUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` } });
const started = await gql(apiUrl, key, `mutation($id: ID!) { startCampaign(id: $id) { __typename ... on StartCampaignSuccess { data { status counters { targeted } } } ... on Error { message } } }`, {
  id: campaignId,
});
line(`campaign started: ${started.startCampaign.data.counters.targeted} recipients`);

type Counters = { targeted: number; sent: number; delivered: number; read: number; failed: number; skipped: number; unknown: number; remaining: number; deliveryRate: number | null; readRate: number | null };
type Progress = { status: string; percentDone: number; counters: Counters };

const print = (p: Progress) => {
  const c = p.counters;
  line(
    `${new Date().toISOString().slice(11, 19)}  ${p.status.padEnd(9)} ${String(p.percentDone).padStart(6)}%  ` +
      `sent ${c.sent}/${c.targeted}  delivered ${c.delivered}  read ${c.read}  failed ${c.failed}  unknown ${c.unknown}`,
  );
};

let printedAt = 0;
const events = (async () => {
  for await (const event of ws.iterate<{ campaignProgress: Progress }>({ query: subscription })) {
    const p = event.data?.campaignProgress;
    if (!p) continue;
    if (Date.now() - printedAt >= 1000 || p.status === 'COMPLETED') {
      printedAt = Date.now();
      print(p);
    }
    if (p.status === 'COMPLETED') return;
  }
})();
await events;
// Receipts (delivered, read) keep arriving for a few seconds after the last send.
line('all messages sent; waiting a few seconds for the last delivery and read receipts…');
await new Promise((r) => setTimeout(r, 6000));
await ws.dispose();
const final = await gql<{ campaign: Progress & { counters: Counters } }>(
  apiUrl,
  key,
  `query($id: ID!) { campaign(id: $id) { status counters { targeted sent delivered read failed skipped unknown remaining deliveryRate readRate percentDone } } }`,
  { id: campaignId },
);
const c = final.campaign.counters;
line();
line(
  `campaign ${final.campaign.status}: ${c.sent} sent of ${c.targeted}, ${c.delivered} delivered (${Math.round((c.deliveryRate ?? 0) * 100)}%), ` +
    `${c.read} read (${Math.round((c.readRate ?? 0) * 100)}% of delivered), ${c.failed} failed, ${c.skipped} skipped, ${c.unknown} unknown`,
);
