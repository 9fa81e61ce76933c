// Setting up campaigns for the dispatch and start benchmarks through the product's public API
// (GraphQL over HTTP), except the contacts, which are written straight into PostgreSQL: importing
// them is measured by bench:import, not here.
import type pg from 'pg';

/** POSTs a GraphQL operation; throws on any error, returns `data`. */
export async function gql<T>(apiUrl: string, key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`GraphQL failed (HTTP ${res.status}): ${JSON.stringify(body).slice(0, 600)}`);
  return body.data;
}

/** The database id inside a Relay global id (`base64("Type:uuid")`); a plain uuid is returned as is. */
export function uuidOf(globalId: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(globalId)) return globalId;
  const [, id] = Buffer.from(globalId, 'base64').toString().split(':');
  if (!id) throw new Error(`not a global id: ${globalId}`);
  return id;
}

/** `count` contacts with distinct Brazilian mobile numbers (from `offset`), then ANALYZE. */
export async function seedContacts(db: pg.Client, tenantId: string, count: number, offset = 0) {
  await db.query(
    `INSERT INTO contact (tenant_id, phone, name, updated_at)
     SELECT $1::uuid, '+55119' || lpad((60000000 + $2::int + g)::text, 8, '0'), 'Contato ' || g, now()
     FROM generate_series(1, $3::int) g`,
    [tenantId, offset, count],
  );
  await db.query('ANALYZE contact');
}

const REGISTER_SERVER = `mutation ($input: RegisterEvolutionServerInput!) { registerEvolutionServer(input: $input) {
  __typename ... on RegisterEvolutionServerSuccess { data { id } } ... on Error { message } } }`;
const REGISTER_INSTANCE = `mutation ($input: RegisterInstanceInput!) { registerInstance(input: $input) {
  __typename ... on RegisterInstanceSuccess { data { id name webhookUrl } } ... on Error { message } } }`;

/**
 * The pacing the benchmarks give their senders. The API accepts at most 1,000/min, 60,000/h and
 * 1,000,000/day per instance (sane for a real WhatsApp number); the benchmarks measure the engine,
 * not pacing, so the limits are then raised in the database far above anything a run reaches.
 */
export const BENCH_LIMITS = { perMinute: 1_000_000, perHour: 60_000_000, perDay: 1_000_000_000 };

export interface Sender {
  id: string;
  name: string;
  /** The instance's webhook URL, on the API server actually listening. */
  webhookUrl: string;
}

/** Limits and delays a sender is registered with, through the API (which accepts at most 1,000/min, 60,000/h, 1,000,000/day). */
export interface SenderLimits {
  perMinute: number;
  perHour: number;
  perDay: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * Registers an Evolution server and `count` instances through GraphQL. Without `limits`: no random
 * delay between messages, and their limits are then raised to BENCH_LIMITS; with them: exactly those
 * (paced like a real number, as bench:scale wants).
 */
export async function registerSenders(
  apiUrl: string,
  key: string,
  db: pg.Client,
  opts: { baseUrl: string; apiKey: string; count: number; prefix: string; limits?: SenderLimits },
): Promise<Sender[]> {
  const limits = opts.limits ?? { perMinute: 1000, perHour: 60_000, perDay: 1_000_000, minDelayMs: 0, maxDelayMs: 0 };
  const server = await gql<{ registerEvolutionServer: { __typename: string; data?: { id: string }; message?: string } }>(apiUrl, key, REGISTER_SERVER, {
    input: { name: `evo-${opts.prefix}`, baseUrl: opts.baseUrl, apiKey: opts.apiKey },
  });
  if (!server.registerEvolutionServer.data) throw new Error(`registerEvolutionServer: ${JSON.stringify(server)}`);
  const senders: Sender[] = [];
  for (let i = 1; i <= opts.count; i++) {
    const r = await gql<{ registerInstance: { __typename: string; data?: { id: string; name: string; webhookUrl: string }; message?: string } }>(apiUrl, key, REGISTER_INSTANCE, {
      input: {
        serverId: server.registerEvolutionServer.data.id,
        name: `${opts.prefix}-${i}`,
        limitPerMinute: limits.perMinute,
        limitPerHour: limits.perHour,
        limitPerDay: limits.perDay,
        minDelayMs: limits.minDelayMs,
        maxDelayMs: limits.maxDelayMs,
      },
    });
    const data = r.registerInstance.data;
    if (!data) throw new Error(`registerInstance: ${JSON.stringify(r)}`);
    // The product builds the URL from PUBLIC_URL; the benchmark's API server listens on a random port.
    const hook = new URL(data.webhookUrl);
    senders.push({ id: data.id, name: data.name, webhookUrl: `${apiUrl}${hook.pathname}` });
  }
  if (opts.limits) return senders;
  await db.query(
    `UPDATE whatsapp_instance SET limit_per_minute = $2, limit_per_hour = $3, limit_per_day = $4, warmup_enabled = false
     WHERE id = ANY($1::uuid[])`,
    [senders.map((s) => uuidOf(s.id)), BENCH_LIMITS.perMinute, BENCH_LIMITS.perHour, BENCH_LIMITS.perDay],
  );
  return senders;
}

/**
 * Creates the instance on the simulator as on a real Evolution (POST /instance/create, with our webhook
 * when receipts are wanted) and connects it.
 */
export async function connectOnSimulator(simUrl: string, simKey: string, sender: Sender, receipts: boolean, number: string) {
  const headers = { apikey: simKey, 'content-type': 'application/json' };
  const created = await fetch(`${simUrl}/instance/create`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      instanceName: sender.name,
      integration: 'WHATSAPP-BAILEYS',
      number,
      ...(receipts
        ? { webhook: { url: sender.webhookUrl, byEvents: false, base64: false, events: ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'MESSAGES_UPSERT', 'CONNECTION_UPDATE'] } }
        : {}),
    }),
  });
  if (created.status !== 201) throw new Error(`simulator refused the instance: ${created.status} ${await created.text()}`);
  const open = await fetch(`${simUrl}/__simulator/instances/${encodeURIComponent(sender.name)}/connection`, { method: 'POST', headers, body: JSON.stringify({ state: 'open' }) });
  if (open.status !== 200) throw new Error(`simulator did not connect the instance: ${open.status} ${await open.text()}`);
}

const CREATE_CAMPAIGN = `mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) {
  __typename ... on CreateCampaignSuccess { data { id messages { id } } } ... on ValidationError { issues { path message } } ... on Error { message } } }`;

/**
 * A DRAFT campaign to every contact of the tenant (or to `audience`, a CampaignAudienceInput), one
 * variation with variables, no random delay.
 */
export async function createCampaign(
  apiUrl: string,
  key: string,
  name: string,
  instanceIds: string[],
  audience: Record<string, unknown> = { all: true },
): Promise<{ id: string; uuid: string; messageUuid: string }> {
  const r = await gql<{ createCampaign: { __typename: string; data?: { id: string; messages: Array<{ id: string }> } } }>(apiUrl, key, CREATE_CAMPAIGN, {
    input: {
      name,
      messages: [{ text: '{{saudacao}}, {{primeiro_nome}}! Temos novidades para você.' }],
      audience,
      instanceIds,
      pacing: { minDelayMs: 0, maxDelayMs: 0 },
    },
  });
  const data = r.createCampaign.data;
  const message = data?.messages[0];
  if (!data || !message) throw new Error(`createCampaign: ${JSON.stringify(r)}`);
  return { id: data.id, uuid: uuidOf(data.id), messageUuid: uuidOf(message.id) };
}

const START_CAMPAIGN = `mutation ($id: ID!) { startCampaign(id: $id) {
  __typename ... on StartCampaignSuccess { data { status counters { targeted } } } ... on Error { message } } }`;

/** startCampaign through GraphQL; throws unless the campaign is RUNNING with `expected` recipients. */
export async function startCampaign(apiUrl: string, key: string, id: string, expected: number) {
  const r = await gql<{ startCampaign: { __typename: string; data?: { status: string; counters: { targeted: number } }; message?: string } }>(apiUrl, key, START_CAMPAIGN, { id });
  const data = r.startCampaign.data;
  if (!data || data.status !== 'RUNNING' || data.counters.targeted !== expected) throw new Error(`startCampaign: ${JSON.stringify(r)}`);
}
