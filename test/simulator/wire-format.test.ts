import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvolutionSimulator, startSimulator } from '../../tools/evolution-simulator/server.js';
import { waitFor } from '../helpers/stack.js';

const KEY = 'global-key-for-wire-tests';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: { event: string; instance: string; data: Record<string, unknown>; [k: string]: unknown };
}

/** A webhook receiver that records what it gets and answers what `decide` says (200 by default). */
async function receiver() {
  const received: Received[] = [];
  const rules: Array<{ match: (r: Received) => boolean; status: number; times: number }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) };
      received.push(r);
      const rule = rules.find((x) => x.times > 0 && x.match(r));
      if (rule) rule.times--;
      res.writeHead(rule?.status ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { received, rules, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function call(sim: EvolutionSimulator, method: string, path: string, body?: unknown, apikey: string | null = KEY) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(apikey ? { apikey } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('Evolution simulator speaks Evolution 2.3.x', () => {
  let sim: EvolutionSimulator;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver();
    sim = await startSimulator({
      apiKey: KEY,
      seed: 3,
      ackDelayMs: 10,
      deliveryDelayMs: 10,
      readDelayMs: 10,
      noReadRate: 0,
      notOnWhatsapp: ['5511911112222'],
      webhookRetry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
    });
    const created = await call(sim, 'POST', '/instance/create', {
      instanceName: 'wire',
      integration: 'WHATSAPP-BAILEYS',
      token: 'INSTANCE-TOKEN-1',
      number: '5511900001111',
      webhook: { url: hook.url, byEvents: false, headers: { jwt_key: 'a-shared-jwt-secret' }, events: [] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ instance: { instanceName: 'wire', integration: 'WHATSAPP-BAILEYS', status: 'close' }, hash: 'INSTANCE-TOKEN-1' });
    sim.setConnectionState('wire', 'open');
  });
  afterAll(async () => {
    await sim.close();
    await hook.close();
  });

  it('answers an unknown instance with 404 whatever the key (instance guard first)', async () => {
    const r = await call(sim, 'POST', '/message/sendText/nope', { number: '5511999999999', text: 'x' }, 'wrong');
    expect(r).toEqual({ status: 404, body: { status: 404, error: 'Not Found', response: { message: ['The "nope" instance does not exist'] } } });
  });

  it('answers a wrong or missing apikey with 401 and a string message', async () => {
    for (const key of ['wrong', null]) {
      const r = await call(sim, 'POST', '/message/sendText/wire', { number: '5511999999999', text: 'x' }, key);
      expect(r).toEqual({ status: 401, body: { status: 401, error: 'Unauthorized', response: { message: 'Unauthorized' } } });
    }
  });

  it('accepts the instance token as well as the global key', async () => {
    const r = await call(sim, 'GET', '/instance/connectionState/wire', undefined, 'INSTANCE-TOKEN-1');
    expect(r).toEqual({ status: 200, body: { instance: { instanceName: 'wire', state: 'open' } } });
  });

  it('reports schema failures as a nested array, and an empty text as "Text is required"', async () => {
    const missing = await call(sim, 'POST', '/message/sendText/wire', { number: '5511999999999' });
    expect(missing).toEqual({ status: 400, body: { status: 400, error: 'Bad Request', response: { message: [['instance requires property "text"']] } } });
    const empty = await call(sim, 'POST', '/message/sendText/wire', { number: '5511999999999', text: '' });
    expect(empty.body.response.message).toEqual(['Text is required']);
  });

  it('answers a number not on WhatsApp with 400 exists:false', async () => {
    const r = await call(sim, 'POST', '/message/sendText/wire', { number: '+55 (11) 91111-2222', text: 'oi' });
    expect(r).toEqual({
      status: 400,
      body: { status: 400, error: 'Bad Request', response: { message: [{ jid: '5511911112222@s.whatsapp.net', exists: false, number: '5511911112222' }] } },
    });
  });

  it('returns 201 with messageRaw, fires send.message then SERVER_ACK, DELIVERY_ACK, READ with the real envelope and JWT', async () => {
    const before = hook.received.length;
    const r = await call(sim, 'POST', '/message/sendText/wire', { number: '5511988887777', text: 'Olá!' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      key: { remoteJid: '5511988887777@s.whatsapp.net', fromMe: true, id: expect.stringMatching(/^3EB0[0-9A-F]{18}$/) },
      pushName: 'Você',
      status: 'PENDING',
      message: { conversation: 'Olá!' },
      contextInfo: null,
      messageType: 'conversation',
      messageTimestamp: expect.any(Number),
      instanceId: expect.any(String),
      source: 'web',
    });
    const keyId = r.body.key.id as string;
    await waitFor(async () => hook.received.length >= before + 4);
    const mine = hook.received.slice(before);
    expect(mine.map((m) => m.body.event)).toEqual(['send.message', 'messages.update', 'messages.update', 'messages.update']);
    expect(mine[0]?.body.data).toEqual(r.body);
    expect(mine.slice(1).map((m) => m.body.data.status)).toEqual(['SERVER_ACK', 'DELIVERY_ACK', 'READ']);
    for (const m of mine.slice(1)) {
      expect(m.body.data).toMatchObject({ keyId, remoteJid: '5511988887777@s.whatsapp.net', fromMe: true, instanceId: r.body.instanceId });
    }
    expect(mine[1]?.body).toMatchObject({
      instance: 'wire',
      destination: hook.url,
      date_time: expect.stringMatching(/Z$/),
      sender: '5511900001111@s.whatsapp.net',
      server_url: sim.url,
      apikey: 'INSTANCE-TOKEN-1',
    });
    const auth = String(mine[1]?.headers.authorization);
    expect(auth).toMatch(/^Bearer /);
    const { payload } = await jwtVerify(auth.slice(7), new TextEncoder().encode('a-shared-jwt-secret'), { algorithms: ['HS256'] });
    expect(payload).toMatchObject({ app: 'evolution', action: 'webhook' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    expect(mine[1]?.headers.jwt_key).toBeUndefined();
  });

  it('sends media with the Evolution rules (image becomes image/jpeg)', async () => {
    const r = await call(sim, 'POST', '/message/sendMedia/wire', {
      number: '5511988886666',
      mediatype: 'image',
      mimetype: 'image/png',
      media: 'https://example.com/promo.png',
      caption: 'Promo',
    });
    expect(r.status).toBe(201);
    expect(r.body.messageType).toBe('imageMessage');
    expect(r.body.message.imageMessage).toMatchObject({ mimetype: 'image/jpeg', caption: 'Promo', fileName: 'image.jpg' });
    const bad = await call(sim, 'POST', '/message/sendMedia/wire', { number: '5511988886666', mediatype: 'image', media: 'not a url' });
    expect(bad.body.response.message).toEqual(['Owned media must be a url or base64']);
  });

  it('posts to <url>/<event-suffix> when webhook by events is on, retries 5xx and never retries 400', async () => {
    await call(sim, 'POST', '/webhook/set/wire', { webhook: { enabled: true, url: hook.url, byEvents: true, events: ['MESSAGES_UPDATE', 'SEND_MESSAGE'] } });
    try {
      const before = hook.received.length;
      // Our send.message fails once with 500 (retried), our DELIVERY_ACK with 400 (not retried).
      await sim.drain(5000); // earlier tests' webhooks must not take these answers
      const jid = '5511988885555@s.whatsapp.net';
      const toUs = (m: Received) => m.body.data?.remoteJid === jid || (m.body.data?.key as { remoteJid?: string } | undefined)?.remoteJid === jid;
      hook.rules.push({ match: (m) => toUs(m) && m.body.event === 'send.message', status: 500, times: 1 });
      hook.rules.push({ match: (m) => toUs(m) && m.body.data.status === 'DELIVERY_ACK', status: 400, times: 1 });
      const r = await call(sim, 'POST', '/message/sendText/wire', { number: '5511988885555', text: 'x' });
      expect(r.status).toBe(201);
      const keyId = r.body.key.id;
      const ours = (m: Received) => m.body.data?.keyId === keyId || (m.body.data?.key as { id?: string } | undefined)?.id === keyId;
      const seen = () => JSON.stringify(hook.received.slice(before).map((m) => [m.path, m.body.event, m.body.data?.status, m.body.data?.keyId ?? (m.body.data?.key as { id?: string })?.id]));
      await waitFor(async () => hook.received.filter(ours).length >= 5, 30_000).catch((err) => {
        throw new Error(`${(err as Error).message}; our key ${keyId}; received ${seen()}; stats ${JSON.stringify(sim.webhookStats)}`);
      });
      await sim.drain(5000);
      const mine = hook.received.slice(before).filter(ours);
      expect(mine.filter((m) => m.path === '/hook/send-message')).toHaveLength(2);
      expect(mine.filter((m) => m.path === '/hook/messages-update').map((m) => m.body.data.status).sort()).toEqual(['DELIVERY_ACK', 'READ', 'SERVER_ACK']);
      expect(mine.filter((m) => m.path === '/hook/connection-update')).toHaveLength(0);
    } finally {
      await call(sim, 'POST', '/webhook/set/wire', { webhook: { enabled: true, url: hook.url, byEvents: false, headers: { jwt_key: 'a-shared-jwt-secret' }, events: [] } });
    }
  });

  it('records every accepted send on a route outside the Evolution API, behind the global key', async () => {
    const denied = await call(sim, 'GET', '/__simulator/sends', undefined, 'INSTANCE-TOKEN-1');
    expect(denied.status).toBe(401);
    const r = await call(sim, 'GET', '/__simulator/sends?instance=wire');
    expect(r.body.sends.map((s: { number: string }) => s.number)).toEqual(['5511988887777', '5511988886666', '5511988885555']);
    expect(r.body.sends[0]).toMatchObject({ endpoint: 'sendText', final: 'READ', statuses: ['SERVER_ACK', 'DELIVERY_ACK', 'READ'] });
  });

  it('emits connection.update on close after status.instance and logout.instance', async () => {
    const before = hook.received.length;
    await call(sim, 'POST', '/__simulator/instances/wire/connection', { state: 'close', statusReason: 401 });
    await waitFor(async () => hook.received.length >= before + 3);
    const events = hook.received.slice(before).map((m) => m.body.event);
    expect(events).toEqual(expect.arrayContaining(['status.instance', 'logout.instance', 'connection.update']));
    const update = hook.received.slice(before).find((m) => m.body.event === 'connection.update');
    expect(update?.body.data).toEqual({ instance: 'wire', state: 'close', statusReason: 401 });
    const closed = await call(sim, 'POST', '/message/sendText/wire', { number: '5511988884444', text: 'x' });
    // A real Evolution 2.3.6 answers a send through a Baileys instance whose connection closed with a 500.
    expect(closed.status).toBe(500);
    expect(closed.body).toEqual({ status: 500, error: 'Internal Server Error', response: { message: 'Connection Closed' } });
  });
});

describe('simulator key ids', () => {
  it('are new on every start, even with the same seed (a restarted simulator must not reuse ids a database holds)', async () => {
    const sends = async () => {
      const sim = await startSimulator({ apiKey: KEY, seed: 7, instances: [{ name: 'same-seed', number: '5511300000001' }] });
      try {
        const ids: string[] = [];
        for (const n of ['5511988880001', '5511988880002', '5511988880003']) {
          const r = await call(sim, 'POST', '/message/sendText/same-seed', { number: n, text: 'oi' });
          expect(r.status).toBe(201);
          ids.push(r.body.key.id);
        }
        return ids;
      } finally {
        await sim.close();
      }
    };
    const first = await sends();
    const second = await sends();
    for (const id of [...first, ...second]) expect(id).toMatch(/^3EB0[0-9A-F]{18}$/);
    expect(new Set([...first, ...second]).size).toBe(6);
  });
});
