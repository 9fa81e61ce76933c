import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger, maskPhone } from '../../src/infra/lib/logger.js';
import { addSender, newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';

// Every log line of this file's process (API server, workers, simulator calls) goes to one file, at
// debug: the logger reads LOG_FILE and LOG_LEVEL when it is first imported, after this runs.
const LOG_FILE = vi.hoisted(() => {
  const file = `${process.env.TMPDIR ?? '/tmp'}/access-log-${process.pid}-${Date.now()}.log`;
  process.env.LOG_FILE = file;
  process.env.LOG_LEVEL = 'debug';
  return file;
});

type Line = Record<string, unknown> & { msg?: string; level: number; requestId?: string };
const lines = (): Line[] =>
  readFileSync(LOG_FILE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

// Two numbers in E.164 that this test sends to and hears from; no log line may show them whole.
const PHONE_A = '+5511987650001';
const PHONE_B = '+5521987650002';

async function post(stack: Stack, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as { data?: Record<string, any>; errors?: Array<{ extensions?: Record<string, unknown> }> } };
}

describe('access logs', () => {
  let stack: Stack;
  let key: string;
  let tenantId: string;
  let webhookSecret: string;
  let instanceName: string;
  let instanceId: string;
  beforeAll(async () => {
    stack = await startStack();
    ({ key, tenantId } = await newTenant('Access log'));
    const sender = await addSender(stack, key);
    instanceName = sender.name;
    instanceId = sender.instanceId;
    webhookSecret = new URL(sender.webhookUrl).pathname.split('/')[3] as string;
    expect(webhookSecret.length).toBeGreaterThanOrEqual(16);
  });
  afterAll(async () => {
    await stack?.close();
    if (!process.env.KEEP_LOG) rmSync(LOG_FILE, { force: true });
  });

  it('logs one access line and one operation line per request under the x-request-id given, and returns it', async () => {
    const requestId = `it-${randomBytes(6).toString('hex')}`;
    const r = await post(
      stack,
      {
        query: 'mutation AddTwo($contacts: [ContactInput!]!) { addContacts(contacts: $contacts) { __typename ... on AddContactsSuccess { data { created } } } }',
        variables: { contacts: [{ phone: PHONE_A, name: 'A' }, { phone: PHONE_B, name: 'B' }] },
      },
      { authorization: `Bearer ${key}`, 'x-request-id': requestId },
    );
    expect(r.status).toBe(200);
    expect(r.body.data?.addContacts).toEqual({ __typename: 'AddContactsSuccess', data: { created: 2 } });
    expect(r.requestId).toBe(requestId);
    const mine = lines().filter((l) => l.requestId === requestId);
    const access = mine.filter((l) => l.msg === 'http request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: 30, method: 'POST', route: '/graphql', status: 200, tenantId });
    expect(typeof access[0]?.ms).toBe('number');
    const ops = mine.filter((l) => l.msg === 'graphql operation');
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ level: 30, operation: 'AddTwo', type: 'mutation', fields: ['addContacts'], result: 'ok', tenantId, transport: 'http' });
  });

  it('replaces a request id that is not an id (too long, or not made of id characters) with its own', async () => {
    for (const bad of ['x'.repeat(200), 'two words', `${key}\nforged line`]) {
      const res = await fetch(`${stack.url}/health`, { headers: { 'x-request-id': bad.replace('\n', ' ') } });
      const given = res.headers.get('x-request-id');
      expect(given).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines().filter((l) => l.requestId === given && l.msg === 'http request')).toHaveLength(1);
    }
    expect(readFileSync(LOG_FILE, 'utf8')).not.toContain('x'.repeat(200));
  });

  it('logs client errors at warn with their codes, and the tenant when the key is known', async () => {
    const unauth = await post(stack, { query: '{ viewer { tenant { id } } }' }, { authorization: 'Bearer wcp_AAAAAAAAAAAA_notARealKeyButLongEnoughToLookLikeOne', 'x-request-id': 'it-unauth' });
    expect(unauth.status).toBe(401);
    const complex = await post(stack, { query: '{ campaigns(first: 500) { edges { node { messages { id } instances { id server { instances { id name } } } } } } }' }, { authorization: `Bearer ${key}`, 'x-request-id': 'it-complex' });
    expect(complex.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    const invalid = await post(
      stack,
      { query: 'mutation Bad { createCampaign(input: { name: " ", messages: [{ text: "x" }], audience: { all: true } }) { __typename } }' },
      { authorization: `Bearer ${key}`, 'x-request-id': 'it-invalid' },
    );
    expect(invalid.body.data?.createCampaign.__typename).toBe('ValidationError');

    const op = (id: string) => lines().find((l) => l.requestId === id && l.msg === 'graphql operation');
    expect(op('it-unauth')).toMatchObject({ level: 40, result: 'error', errors: ['UNAUTHENTICATED'] });
    expect(op('it-unauth')?.tenantId).toBeUndefined();
    expect(lines().find((l) => l.requestId === 'it-unauth' && l.msg === 'http request')).toMatchObject({ level: 30, status: 401 });
    expect(op('it-complex')).toMatchObject({ level: 40, result: 'error', errors: ['QUERY_TOO_COMPLEX'], tenantId });
    expect(op('it-invalid')).toMatchObject({ level: 40, operation: 'Bad', type: 'mutation', result: 'error', errors: ['VALIDATION'], tenantId });
  });

  it('names the webhook route by its pattern, and no line anywhere shows a key, the webhook secret or a whole phone number', async () => {
    // A campaign to both numbers (the worker sends, the simulator acknowledges and delivers through
    // the webhook URL), then a reply from one of them.
    const created = await post(
      stack,
      { query: `mutation { createCampaign(input: { name: "Logs", messages: [{ text: "Oi" }], audience: { all: true }, instanceIds: ["${instanceId}"] }) { ... on CreateCampaignSuccess { data { id } } } }` },
      { authorization: `Bearer ${key}` },
    );
    const campaignId = created.body.data?.createCampaign.data.id as string;
    const started = await post(stack, { query: `mutation { startCampaign(id: "${campaignId}") { __typename } }` }, { authorization: `Bearer ${key}` });
    expect(started.body.data?.startCampaign.__typename).toBe('StartCampaignSuccess');
    const delivered = async () => {
      const r = await post(stack, { query: `{ campaign(id: "${campaignId}") { status counters { delivered } } }` }, { authorization: `Bearer ${key}` });
      return r.body.data?.campaign.status === 'COMPLETED' && r.body.data.campaign.counters.delivered === 2;
    };
    await waitFor(delivered, 30_000, 200);
    stack.sim.receiveMessage(instanceName, PHONE_A.slice(1), 'obrigado');
    await waitFor(async () => lines().some((l) => l.msg === 'http request' && String(l.route).startsWith('/webhooks/evolution/') && l.status === 200), 15_000);
    await stack.sim.drain();
    await waitFor(async () => (await post(stack, { query: `{ campaign(id: "${campaignId}") { counters { replied } } }` }, { authorization: `Bearer ${key}` })).body.data?.campaign.counters.replied === 1, 15_000, 200);

    const webhookLines = lines().filter((l) => l.msg === 'http request' && String(l.route).startsWith('/webhooks/evolution/'));
    expect(webhookLines.length).toBeGreaterThan(0);
    for (const l of webhookLines) {
      expect(['/webhooks/evolution/:secret', '/webhooks/evolution/:secret/:event']).toContain(l.route);
      expect(l.tenantId).toBe(tenantId);
    }

    // A line that quotes a number and a key, as an error from Evolution might: the logger masks it.
    logger.warn({ err: `Evolution said: ${PHONE_B.slice(1)}@s.whatsapp.net is not on WhatsApp (key ${key})` }, 'send refused');
    const text = readFileSync(LOG_FILE, 'utf8');
    expect(text).toContain(`${maskPhone(PHONE_B.slice(1))}@s.whatsapp.net`);
    // The run did log its sends and webhooks (at debug), and masked the numbers it logged.
    expect(text).toContain('"msg":"job done"');
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(key.lastIndexOf('_') + 1));
    expect(text).not.toContain(webhookSecret);
    for (const phone of [PHONE_A, PHONE_B]) expect(text).not.toContain(phone.slice(1));
  });
});
