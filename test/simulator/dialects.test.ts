import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMetaErrorBody } from '../../src/infra/evolution/wire.js';
import { DEFAULT_TEMPLATES, type EvolutionSimulator, startSimulator } from '../../tools/evolution-simulator/server.js';
import { waitFor } from '../helpers/stack.js';

// Each integration's dialect, over real HTTP, webhooks taken by a local receiver
// (docs/evolution-integrations.md; evolution-api.md §12 holds the bodies captured from Evolution 2.3.6).

const KEY = 'global-key-for-dialect-tests';

interface Hook {
  event: string;
  instance: string;
  data: any;
  [k: string]: unknown;
}

async function receiver() {
  const received: Hook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { received, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function call(sim: EvolutionSimulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', apikey: KEY },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: (text ? JSON.parse(text) : undefined) as any };
}

const of = (hooks: Hook[], instance: string, event: string) => hooks.filter((h) => h.instance === instance && h.event === event);
const forKey = (hooks: Hook[], keyId: string) => hooks.filter((h) => h.event === 'messages.update' && h.data.keyId === keyId);
const fast = { ackDelayMs: 10, deliveryDelayMs: 10, readDelayMs: 10, noReadRate: 0, webhookRetry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 100 } };

describe('WHATSAPP-BUSINESS dialect', () => {
  let sim: EvolutionSimulator;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const PHONE_ID = '612345678901234';

  beforeAll(async () => {
    hook = await receiver();
    sim = await startSimulator({ apiKey: KEY, seed: 11, ...fast, notOnWhatsapp: ['5511977770000'] });
    const created = await call(sim, 'POST', '/instance/create', {
      instanceName: 'loja-cloud',
      integration: 'WHATSAPP-BUSINESS',
      token: 'EAAG-meta-access-token',
      number: PHONE_ID,
      businessId: '998877665544332',
      webhook: { url: hook.url, events: [] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      instance: { instanceName: 'loja-cloud', integration: 'WHATSAPP-BUSINESS', webhookWaBusiness: `${sim.url}/webhook/meta`, status: 'open' },
      hash: 'EAAG-meta-access-token',
    });
    expect(created.body.qrcode).toBeUndefined();
  });
  afterAll(async () => {
    await sim.close();
    await hook.close();
  });

  it('needs Meta’s token and phone number id at create, and is open from the start', async () => {
    const noToken = await call(sim, 'POST', '/instance/create', { instanceName: 'x1', integration: 'WHATSAPP-BUSINESS', number: PHONE_ID });
    expect(noToken).toMatchObject({ status: 400, body: { status: 400, error: 'Bad Request', response: { message: ['token is required'] } } });
    const noNumber = await call(sim, 'POST', '/instance/create', { instanceName: 'x2', integration: 'WHATSAPP-BUSINESS', token: 't-x2' });
    expect(noNumber.body.response.message).toEqual(['number is required']);
    const state = await call(sim, 'GET', '/instance/connectionState/loja-cloud');
    expect(state.body).toEqual({ instance: { instanceName: 'loja-cloud', state: 'open' } });
    const connect = await call(sim, 'GET', '/instance/connect/loja-cloud');
    expect(connect.body).toEqual({ instance: { instanceName: 'loja-cloud', state: 'open' } });
  });

  it('reports its integration, phone number id and business id in fetchInstances', async () => {
    const r = await call(sim, 'GET', '/instance/fetchInstances?instanceName=loja-cloud');
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({ name: 'loja-cloud', connectionStatus: 'open', integration: 'WHATSAPP-BUSINESS', number: PHONE_ID, businessId: '998877665544332', ownerJid: null });
  });

  it('posts an incoming message as the business messages.upsert (no contextInfo, no remoteJidAlt), then contacts.upsert', async () => {
    const before = hook.received.length;
    const r = await call(sim, 'POST', '/__simulator/instances/loja-cloud/incoming', { from: '5511922347921', text: 'SAIR', pushName: 'Maria' });
    expect(r.status).toBe(200);
    await waitFor(async () => of(hook.received.slice(before), 'loja-cloud', 'contacts.upsert').length === 1);
    const upsert = of(hook.received.slice(before), 'loja-cloud', 'messages.upsert')[0] as Hook;
    expect(upsert.data).toEqual({
      key: { id: expect.stringMatching(/^wamid\./), remoteJid: '5511922347921@s.whatsapp.net', fromMe: false },
      pushName: 'Maria',
      message: { conversation: 'SAIR' },
      messageType: 'conversation',
      messageTimestamp: expect.any(Number),
      source: 'unknown',
      instanceId: created(sim),
    });
    // No wuid on a business instance: its envelopes carry no `sender`.
    expect(upsert.sender).toBeUndefined();
    expect(upsert).toMatchObject({ destination: hook.url, server_url: sim.url, apikey: 'EAAG-meta-access-token' });
    expect(of(hook.received.slice(before), 'loja-cloud', 'contacts.upsert')[0]?.data).toEqual({ pushName: 'Maria', instanceId: created(sim) });
  });

  it('answers sendText with the business messageRaw and sends it as send.message, then receipts in Meta’s words with fromMe false', async () => {
    const before = hook.received.length;
    const r = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: '5511922347921', text: 'Oi Maria' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      key: { fromMe: true, id: expect.stringMatching(/^wamid\.HBgN[A-Za-z0-9+/=]+$/), remoteJid: '5511922347921@s.whatsapp.net' },
      message: { conversation: 'Oi Maria' },
      messageType: 'conversation',
      messageTimestamp: expect.any(Number),
      instanceId: created(sim),
      status: 'PENDING',
      source: 'unknown',
    });
    expect(Object.keys(r.body)).toEqual(['key', 'message', 'messageType', 'messageTimestamp', 'instanceId', 'status', 'source']);
    const keyId = r.body.key.id as string;
    await waitFor(async () => forKey(hook.received, keyId).length === 3);
    const sent = of(hook.received.slice(before), 'loja-cloud', 'send.message');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.data).toEqual(r.body);
    const receipts = forKey(hook.received, keyId);
    expect(receipts.map((h) => h.data.status).sort()).toEqual(['DELIVERED', 'READ', 'SENT']);
    for (const h of receipts) {
      expect(h.data).toEqual({
        messageId: expect.stringMatching(/^cm[0-9a-z]{23}$/),
        keyId,
        remoteJid: '5511922347921@s.whatsapp.net',
        fromMe: false,
        participant: '5511922347921@s.whatsapp.net',
        status: h.data.status,
        instanceId: created(sim),
      });
      expect(Object.keys(h.data)).toEqual(['messageId', 'keyId', 'remoteJid', 'fromMe', 'participant', 'status', 'instanceId']);
    }
    const record = sim.sends.find((s) => s.keyId === keyId);
    expect(record).toMatchObject({ endpoint: 'sendText', integration: 'WHATSAPP-BUSINESS', outsideWindow: false, final: 'READ', statuses: ['SENT', 'DELIVERED', 'READ'] });
  });

  it('answers 201 with Meta’s error object (no key) for a number given a Meta error, and sends nothing', async () => {
    sim.configure({ metaErrors: { '5511900000131': 131026, '5511900000429': 130429 } });
    try {
      const before = hook.received.length;
      const sendsBefore = sim.sends.length;
      const r = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: '5511900000131', text: 'oi' });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        message: '(#131026) Message undeliverable.',
        type: 'OAuthException',
        code: 131026,
        error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' },
        fbtrace_id: expect.stringMatching(/^A[\w]{22}$/),
      });
      expect(isMetaErrorBody(r.body)).toBe(true);
      const limit = await call(sim, 'POST', '/message/sendTemplate/loja-cloud', { number: '5511900000429', name: 'pedido_confirmado', language: 'pt_BR' });
      expect(limit).toMatchObject({ status: 201, body: { code: 130429, message: '(#130429) Rate limit hit', type: 'OAuthException' } });
      expect(sim.sends.length).toBe(sendsBefore);
      expect(sim.calls.filter((c) => c.metaError !== undefined).map((c) => [c.number, c.endpoint, c.metaError])).toEqual([
        ['5511900000131', 'sendText', 131026],
        ['5511900000429', 'sendTemplate', 130429],
      ]);
      await sim.drain(5000);
      expect(hook.received.slice(before).filter((h) => h.event === 'send.message')).toHaveLength(0);
    } finally {
      sim.configure({ metaErrors: {} });
    }
  });

  it('lists Meta’s templates at GET /template/find and takes a new set from the control route', async () => {
    const r = await call(sim, 'GET', '/template/find/loja-cloud');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(DEFAULT_TEMPLATES);
    const approved = r.body.find((t: any) => t.name === 'pedido_confirmado');
    expect(approved).toMatchObject({ language: 'pt_BR', status: 'APPROVED', category: 'UTILITY', id: expect.stringMatching(/^\d+$/) });
    expect(approved.components[0]).toMatchObject({ type: 'BODY', text: expect.stringContaining('{{2}}') });
    expect(r.body.some((t: any) => t.status === 'PENDING')).toBe(true);

    const mine = [{ name: 'aviso', language: 'pt_BR', status: 'APPROVED', category: 'UTILITY', id: '42', components: [{ type: 'BODY', text: 'Oi {{1}}' }] }];
    const put = await call(sim, 'PUT', '/__simulator/instances/loja-cloud/templates', { templates: mine });
    expect(put.body).toEqual(mine);
    expect((await call(sim, 'GET', '/template/find/loja-cloud')).body).toEqual(mine);
    await call(sim, 'PUT', '/__simulator/instances/loja-cloud/templates', { templates: DEFAULT_TEMPLATES });
  });

  it('sends an approved template to anyone (no window needed): 201 ▶️name◀️, receipts, and the rendered text in the record', async () => {
    const number = '5511944440001'; // never wrote to us
    const r = await call(sim, 'POST', '/message/sendTemplate/loja-cloud', {
      number,
      name: 'pedido_confirmado',
      language: 'pt_BR',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'Maria' }, { type: 'text', text: '10452' }] }],
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      key: { fromMe: true, id: expect.stringMatching(/^wamid\.HBgN/), remoteJid: `${number}@s.whatsapp.net` },
      message: { conversation: '▶️pedido_confirmado◀️' },
      messageType: 'conversation',
      messageTimestamp: expect.any(Number),
      instanceId: created(sim),
      status: 'PENDING',
      source: 'unknown',
    });
    const keyId = r.body.key.id as string;
    await waitFor(async () => forKey(hook.received, keyId).length === 3);
    expect(forKey(hook.received, keyId).map((h) => h.data.status).sort()).toEqual(['DELIVERED', 'READ', 'SENT']);
    const record = sim.sends.find((s) => s.keyId === keyId);
    expect(record).toMatchObject({
      endpoint: 'sendTemplate',
      integration: 'WHATSAPP-BUSINESS',
      outsideWindow: false,
      text: 'Olá Maria, seu pedido 10452 foi confirmado e logo sai para entrega.',
      template: { name: 'pedido_confirmado', language: 'pt_BR', parameters: ['Maria', '10452'], renderedBody: 'Olá Maria, seu pedido 10452 foi confirmado e logo sai para entrega.', renderedHeader: null },
    });
    const listed = await call(sim, 'GET', '/__simulator/sends?instance=loja-cloud');
    expect(listed.body.sends.find((s: any) => s.keyId === keyId).template.renderedBody).toContain('Maria');
  });

  it('refuses a template as Meta does: unknown name or language and non-approved → 132001, wrong parameter count → 132000, schema → 400', async () => {
    const sendsBefore = sim.sends.length;
    const send = (body: Record<string, unknown>) => call(sim, 'POST', '/message/sendTemplate/loja-cloud', { number: '5511944440002', ...body });
    const p = (...texts: string[]) => [{ type: 'body', parameters: texts.map((text) => ({ type: 'text', text })) }];
    const unknown = await send({ name: 'nao_existe', language: 'pt_BR' });
    expect(unknown).toMatchObject({ status: 201, body: { code: 132001, message: '(#132001) Template name does not exist in the translation', type: 'OAuthException' } });
    expect(unknown.body.key).toBeUndefined();
    expect((await send({ name: 'pedido_confirmado', language: 'en_US', components: p('a', 'b') })).body.code).toBe(132001);
    expect((await send({ name: 'lembrete_consulta', language: 'pt_BR', components: p('a', 'b') })).body.code).toBe(132001); // PENDING
    expect((await send({ name: 'oferta_relampago', language: 'pt_BR', components: p('a') })).body.code).toBe(132001); // REJECTED
    const count = await send({ name: 'pedido_confirmado', language: 'pt_BR', components: p('Maria') });
    expect(count).toMatchObject({ status: 201, body: { code: 132000, message: '(#132000) Number of parameters does not match the expected number of params' } });
    expect((await send({ name: 'pedido_confirmado', language: 'pt_BR' })).body.code).toBe(132000);
    const missing = await call(sim, 'POST', '/message/sendTemplate/loja-cloud', { number: '5511944440002', name: 'pedido_confirmado' });
    expect(missing).toMatchObject({ status: 400, body: { status: 400, error: 'Bad Request', response: { message: [['instance requires property "language"']] } } });
    expect(sim.sends.length).toBe(sendsBefore);
  });

  it('accepts a free-form send outside the 24-hour window and then fails it (a lone FAILED receipt), and marks it outsideWindow', async () => {
    const fresh = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: '5511955550001', text: 'Promoção!' });
    expect(fresh.status).toBe(201);
    expect(fresh.body.key.id).toMatch(/^wamid\./);
    // Wrote 25 hours ago: the window is closed again.
    const stale = '5511955550002';
    await call(sim, 'POST', '/__simulator/instances/loja-cloud/window', { number: stale, lastIncomingAt: new Date(Date.now() - 25 * 3600_000).toISOString() });
    const old = await call(sim, 'POST', '/message/sendMedia/loja-cloud', { number: stale, mediatype: 'document', media: 'https://example.com/files/boleto.pdf' });
    expect(old.status).toBe(201);
    expect(old.body).toMatchObject({ messageType: 'documentMessage', message: { documentMessage: { fileName: 'boleto', mediaType: 'document', type: 'link', mimetype: 'application/pdf' } } });
    for (const r of [fresh, old]) {
      const keyId = r.body.key.id as string;
      await waitFor(async () => forKey(hook.received, keyId).length === 1);
      expect(forKey(hook.received, keyId)[0]?.data).toMatchObject({ keyId, status: 'FAILED', fromMe: false });
      expect(sim.sends.find((s) => s.keyId === keyId)).toMatchObject({ outsideWindow: true, final: 'FAILED', statuses: ['FAILED'] });
    }
    await sim.drain(5000);
    expect(forKey(hook.received, fresh.body.key.id)).toHaveLength(1);

    // An incoming message opens it; a shorter window knob closes it sooner.
    await call(sim, 'POST', '/__simulator/instances/loja-cloud/incoming', { from: stale, text: 'oi' });
    const inside = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: stale, text: 'Olá!' });
    expect(sim.sends.find((s) => s.keyId === inside.body.key.id)?.outsideWindow).toBe(false);
    sim.configure({ serviceWindowMs: 0 });
    await waitFor(async () => Date.now() > (sim.instances.get('loja-cloud')?.lastIncomingAt[stale] ?? 0) + 1);
    const shut = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: stale, text: 'Olá de novo' });
    expect(sim.sends.find((s) => s.keyId === shut.body.key.id)?.outsideWindow).toBe(true);
    sim.configure({ serviceWindowMs: 24 * 3600_000 });
  });

  it('takes a number that is not on WhatsApp (no exists:false 400 on the Cloud API) and fails it', async () => {
    await call(sim, 'POST', '/__simulator/instances/loja-cloud/incoming', { from: '5511977770000', text: 'oi' });
    const r = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: '5511977770000', text: 'oi' });
    expect(r.status).toBe(201);
    await waitFor(async () => forKey(hook.received, r.body.key.id).length === 1);
    expect(forKey(hook.received, r.body.key.id)[0]?.data.status).toBe('FAILED');
  });

  it('puts another recent recipient’s jid in remoteJid at businessWrongJidRate', async () => {
    const a = '5511966660001';
    const b = '5511966660002';
    for (const n of [a, b]) await call(sim, 'POST', '/__simulator/instances/loja-cloud/incoming', { from: n, text: 'oi' });
    const ra = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: a, text: 'para A' });
    await waitFor(async () => forKey(hook.received, ra.body.key.id).length === 3);
    sim.configure({ businessWrongJidRate: 1 });
    try {
      const rb = await call(sim, 'POST', '/message/sendText/loja-cloud', { number: b, text: 'para B' });
      await waitFor(async () => forKey(hook.received, rb.body.key.id).length === 3);
      for (const h of forKey(hook.received, rb.body.key.id)) {
        expect(h.data.remoteJid).not.toBe(`${b}@s.whatsapp.net`);
        expect(h.data.remoteJid).toMatch(/^\d+@s\.whatsapp\.net$/);
        expect(h.data.participant).toBe(h.data.remoteJid);
      }
    } finally {
      sim.configure({ businessWrongJidRate: 0 });
    }
  });
});

describe('WHATSAPP-BAILEYS not connected, and the other integrations', () => {
  let sim: EvolutionSimulator;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver();
    sim = await startSimulator({
      apiKey: KEY,
      seed: 12,
      ...fast,
      connectingIntervalMs: 40,
      instances: [
        { name: 'phone', number: '5511900002222', webhook: { url: hook.url } },
        { name: 'channel', integration: 'EVOLUTION', webhook: { url: hook.url } },
      ],
    });
  });
  afterAll(async () => {
    if (!sim.lifecycle.closed) await sim.close();
    await hook.close();
  });

  it('an instance created without a QR never connected: 500 "reading onWhatsApp", state close, no retries until connect', async () => {
    const created = await call(sim, 'POST', '/instance/create', { instanceName: 'fresh', integration: 'WHATSAPP-BAILEYS', webhook: { url: hook.url, events: [] } });
    expect(created.body.instance.status).toBe('close');
    const r = await call(sim, 'POST', '/message/sendText/fresh', { number: '5511988887777', text: 'oi' });
    expect(r).toEqual({ status: 500, text: r.text, body: { status: 500, error: 'Internal Server Error', response: { message: "Cannot read properties of undefined (reading 'onWhatsApp')" } } });
    expect((await call(sim, 'GET', '/instance/connectionState/fresh')).body).toEqual({ instance: { instanceName: 'fresh', state: 'close' } });
    expect(sim.isReconnecting('fresh')).toBe(false);

    // connect: the QR, and without WhatsApp's network, Evolution retries for ever.
    const qr = await call(sim, 'GET', '/instance/connect/fresh');
    expect(qr.body).toEqual({ pairingCode: null, code: expect.stringMatching(/^2@/), base64: expect.stringMatching(/^data:image\/png;base64,/), count: 1 });
    await waitFor(async () => of(hook.received, 'fresh', 'connection.update').length >= 3);
    expect(of(hook.received, 'fresh', 'connection.update')[0]?.data).toEqual({ instance: 'fresh', state: 'connecting', statusReason: 200 });
    const after = await call(sim, 'POST', '/message/sendText/fresh', { number: '5511988887777', text: 'oi' });
    expect(after.body).toEqual({ status: 500, error: 'Internal Server Error', response: { message: 'Connection Closed' } });
    expect(['connecting', 'close']).toContain((await call(sim, 'GET', '/instance/connectionState/fresh')).body.instance.state);
    await call(sim, 'DELETE', '/instance/delete/fresh');
    expect(sim.isReconnecting('fresh')).toBe(false);
  });

  it('a lost connection: 500 Connection Closed, connecting webhooks (never close), then reconnecting emits open and sends work again', async () => {
    const before = hook.received.length;
    const r = await call(sim, 'POST', '/__simulator/instances/phone/disconnect', { mode: 'connection-lost' });
    expect(r.body).toEqual({ instance: { instanceName: 'phone', state: 'close' } });
    const send = await call(sim, 'POST', '/message/sendText/phone', { number: '5511988886666', text: 'oi' });
    expect(send).toMatchObject({ status: 500, body: { status: 500, error: 'Internal Server Error', response: { message: 'Connection Closed' } } });
    const media = await call(sim, 'POST', '/message/sendMedia/phone', { number: '5511988886666', mediatype: 'image', media: 'https://example.com/a.png' });
    expect(media.status).toBe(500);
    await waitFor(async () => of(hook.received.slice(before), 'phone', 'connection.update').length >= 4);
    const states = new Set<string>();
    await waitFor(async () => {
      states.add((await call(sim, 'GET', '/instance/connectionState/phone')).body.instance.state);
      return states.size === 2;
    });
    expect([...states].sort()).toEqual(['close', 'connecting']);
    const updates = of(hook.received.slice(before), 'phone', 'connection.update');
    expect(updates.every((h) => h.data.state === 'connecting' && h.data.statusReason === 200)).toBe(true);
    expect(hook.received.slice(before).filter((h) => h.instance === 'phone' && ['status.instance', 'logout.instance'].includes(h.event))).toHaveLength(0);

    const opened = hook.received.length;
    await call(sim, 'POST', '/__simulator/instances/phone/connection', { state: 'open' });
    expect(sim.isReconnecting('phone')).toBe(false);
    await waitFor(async () => of(hook.received.slice(opened), 'phone', 'connection.update').some((h) => h.data.state === 'open'));
    expect(of(hook.received.slice(opened), 'phone', 'connection.update').find((h) => h.data.state === 'open')?.data).toEqual({
      instance: 'phone',
      state: 'open',
      statusReason: 200,
      wuid: '5511900002222@s.whatsapp.net',
      profileName: 'Sim phone',
      profilePictureUrl: expect.any(String),
    });
    const ok = await call(sim, 'POST', '/message/sendText/phone', { number: '5511988886666', text: 'voltei' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ key: { id: expect.stringMatching(/^3EB0/) }, source: 'web', pushName: 'Você' });
    // The retries stopped: nothing connecting comes after the open (a slower machine only waits longer).
    await sim.drain(5000);
    const settled = of(hook.received, 'phone', 'connection.update').length;
    await new Promise((res) => setTimeout(res, 200));
    expect(of(hook.received, 'phone', 'connection.update').length).toBe(settled);
  });

  it('a never-connected disconnect answers the onWhatsApp 500; sendTemplate on Baileys is a 500 "Method not available"', async () => {
    await call(sim, 'POST', '/__simulator/instances/phone/disconnect', { mode: 'never-connected' });
    expect(sim.isReconnecting('phone')).toBe(false);
    const r = await call(sim, 'POST', '/message/sendText/phone', { number: '5511988886666', text: 'oi' });
    expect(r.body.response.message).toBe("Cannot read properties of undefined (reading 'onWhatsApp')");
    sim.setConnectionState('phone', 'open');
    const t = await call(sim, 'POST', '/message/sendTemplate/phone', { number: '5511988886666', name: 'pedido_confirmado', language: 'pt_BR' });
    expect(t).toMatchObject({ status: 500, body: { status: 500, error: 'Internal Server Error', response: { message: 'Method not available in the Baileys service' } } });
    expect(sim.calls.at(-1)).toMatchObject({ endpoint: 'sendTemplate', number: '5511988886666' });
    const find = await call(sim, 'GET', '/template/find/phone');
    expect(find).toMatchObject({ status: 200, text: '' });
    const biz = await call(sim, 'POST', '/__simulator/instances/channel/disconnect', {});
    expect(biz.status).toBe(400);
  });

  it('stops the retries on crash and on close, and posts nothing after close', async () => {
    sim.disconnect('phone', 'connection-lost');
    await waitFor(async () => of(hook.received, 'phone', 'connection.update').length > 0 && sim.isReconnecting('phone'));
    await sim.crash();
    expect(sim.isReconnecting('phone')).toBe(false);
    await sim.restart();
    sim.disconnect('phone', 'connection-lost');
    const before = of(hook.received, 'phone', 'connection.update').length;
    await waitFor(async () => of(hook.received, 'phone', 'connection.update').length > before);
    await sim.close();
    expect(sim.isReconnecting('phone')).toBe(false);
    const closed = hook.received.length;
    await new Promise((res) => setTimeout(res, 200));
    expect(hook.received.length).toBe(closed);
  });
});

describe('EVOLUTION channel dialect', () => {
  it('is open, answers sends with a uuid key, the number as given and source unknown, no receipts; sendTemplate is a 400', async () => {
    const hook = await receiver();
    const sim = await startSimulator({ apiKey: KEY, seed: 13, ...fast });
    try {
      const created = await call(sim, 'POST', '/instance/create', { instanceName: 'canal', integration: 'EVOLUTION', webhook: { url: hook.url, events: [] } });
      expect(created.body.instance).toMatchObject({ integration: 'EVOLUTION', status: 'open' });
      const list = await call(sim, 'GET', '/instance/fetchInstances');
      expect(list.body.map((i: any) => [i.name, i.integration, i.connectionStatus])).toEqual([['canal', 'EVOLUTION', 'open']]);
      const r = await call(sim, 'POST', '/message/sendText/canal', { number: '5511988881111', text: 'oi' });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        key: { fromMe: true, id: expect.stringMatching(/^[0-9a-f-]{36}$/), remoteJid: '5511988881111' },
        message: { conversation: 'oi' },
        messageType: 'conversation',
        messageTimestamp: expect.any(Number),
        source: 'unknown',
        instanceId: created.body.instance.instanceId,
      });
      await waitFor(async () => of(hook.received, 'canal', 'send.message').length === 1);
      await sim.drain(5000);
      expect(of(hook.received, 'canal', 'messages.update')).toHaveLength(0);
      expect(sim.sends[0]).toMatchObject({ integration: 'EVOLUTION', endpoint: 'sendText', statuses: [], final: 'PENDING' });
      const t = await call(sim, 'POST', '/message/sendTemplate/canal', { number: '5511988881111', name: 'x', language: 'pt_BR' });
      expect(t).toMatchObject({ status: 400, body: { status: 400, error: 'Bad Request', response: { message: ['Method not available on Evolution Channel'] } } });
    } finally {
      await sim.close();
      await hook.close();
    }
  });
});

function created(sim: EvolutionSimulator): string {
  return sim.instances.get('loja-cloud')?.id as string;
}
