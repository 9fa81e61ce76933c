/**
 * Evolution's own routes (`/`, `/instance/*`, `/message/*`, `/webhook/*`, `/chat/*`): their guards,
 * validation, bodies and error envelopes as Evolution 2.3.x answers them. What a send then does is
 * `SimulatorCore.acceptSend`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../../src/infra/evolution/wire.js';
import type { SimulatorCore } from './core.js';
import { HttpError, readJson, requireApiKey, sendJson } from './http.js';
import { randomKeyId } from './random.js';
import type { EvolutionIntegration, SimInstance, SimWebhookConfig } from './types.js';

export async function handleEvolution(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse, method: string, path: string, url: () => URL) {
  const generation = sim.lifecycle.generation;
  const hung = sim.lifecycle.hung;
  if (hung) {
    await hung;
    if (generation !== sim.lifecycle.generation) return void res.destroy();
  }
  if (method === 'GET' && path === '/') {
    return sendJson(res, 200, {
      status: 200,
      message: 'Welcome to the Evolution API, it is working!',
      version: sim.behaviour.version,
      clientName: 'evolution_simulator',
      manager: `${sim.serverUrl}/manager`,
      documentation: 'https://doc.evolution-api.com',
      whatsappWebVersion: '2.3000.1028419009',
    });
  }
  const route = path.match(/^\/(message|instance|webhook|chat|template)\/([A-Za-z]+)(?:\/([^/]+))?\/?$/);
  if (!route) throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
  const [, group, action, rawName] = route;
  const instanceName = rawName ? decodeURIComponent(rawName) : undefined;

  if (group === 'instance' && action === 'create' && method === 'POST') return await createRoute(sim, req, res);
  if (group === 'instance' && action === 'fetchInstances' && method === 'GET') {
    requireApiKey(req, sim.options.apiKey);
    const name = url().searchParams.get('instanceName');
    const list = [...sim.instances.values()].filter((i) => !name || i.name === name);
    if (name && list.length === 0) throw new HttpError(404, errorBody(404, [`Instance "${name}" not found`]));
    return sendJson(res, 200, list.map((i) => instanceRow(sim, i)));
  }
  if (!instanceName) throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));

  // Evolution's guard order: instance exists → logged → apikey. An unknown instance is a 404
  // whatever the key.
  const instance = sim.instances.get(instanceName);
  if (!instance) throw new HttpError(404, errorBody(404, [`The "${instanceName}" instance does not exist`]));
  // The global key (AUTHENTICATION_API_KEY) or the instance's own token.
  requireApiKey(req, sim.options.apiKey, instance.token);

  if (group === 'message' && method === 'POST' && (action === 'sendText' || action === 'sendMedia' || action === 'sendTemplate')) {
    if (sim.behaviour.unauthorizedInstances.includes(instance.name)) throw new HttpError(401, errorBody(401, 'Unauthorized'));
    return await sendRoute(sim, req, res, instance, action);
  }
  if (group === 'instance' && action === 'delete' && method === 'DELETE') {
    sim.deleteInstance(instance);
    return sendJson(res, 200, { status: 'SUCCESS', error: false, response: { message: 'Instance deleted' } });
  }
  if (group === 'instance' && action === 'connectionState' && method === 'GET') {
    return sendJson(res, 200, { instance: { instanceName: instance.name, state: instance.state } });
  }
  if (group === 'instance' && action === 'connect' && method === 'GET') {
    if (instance.state === 'open') return sendJson(res, 200, { instance: { instanceName: instance.name, state: instance.state } });
    // Baileys starts connecting (and, with no way to reach WhatsApp, retries for ever) and shows its QR.
    sim.connect(instance.name);
    return sendJson(res, 200, { pairingCode: null, code: `2@${randomKeyId(sim.random, '')}`, base64: 'data:image/png;base64,iVBORw0KGgo=', count: 1 });
  }
  if (group === 'template' && action === 'find' && method === 'GET') {
    // TemplateService.find returns Meta's `data` as it is. For a non-business instance Meta's answer is
    // an error object without `data`, so the route answers 200 with no body (inferred).
    if (instance.integration !== 'WHATSAPP-BUSINESS') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': 0 });
      return void res.end();
    }
    return sendJson(res, 200, instance.templates);
  }
  if (group === 'instance' && action === 'logout' && method === 'DELETE') {
    sim.setConnectionState(instance.name, 'close', 401);
    return sendJson(res, 200, { status: 'SUCCESS', error: false, response: { message: 'Instance logged out' } });
  }
  if (group === 'webhook' && action === 'set' && method === 'POST') {
    const body = (await readJson(req)) as { webhook?: Partial<SimWebhookConfig> & { url?: string; enabled?: boolean } };
    const w = body?.webhook;
    if (!w || typeof w !== 'object') throw new HttpError(400, errorBody(400, [['instance requires property "webhook"']]));
    const missing = (['enabled', 'url'] as const).filter((k) => w[k] === undefined);
    if (missing.length) throw new HttpError(400, errorBody(400, [missing.map((k) => `instance.webhook requires property "${k}"`)]));
    sim.setWebhook(instance, { ...w, url: String(w.url) });
    return sendJson(res, 201, webhookRow(instance));
  }
  if (group === 'webhook' && action === 'find' && method === 'GET') return sendJson(res, 200, webhookRow(instance));
  if (group === 'chat' && action === 'findMessages' && method === 'POST') return sendJson(res, 200, sim.store.find(instance, await readJson(req)));
  throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
}

async function createRoute(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse) {
  requireApiKey(req, sim.options.apiKey);
  const body = (await readJson(req)) as {
    instanceName?: unknown;
    integration?: unknown;
    token?: string;
    number?: string;
    qrcode?: boolean;
    businessId?: unknown;
    webhook?: Partial<SimWebhookConfig> & { url?: string };
  };
  if (typeof body?.instanceName !== 'string' || !body.instanceName) {
    throw new HttpError(400, errorBody(400, [['instance requires property "instanceName"']]));
  }
  if (sim.instances.has(body.instanceName)) {
    throw new HttpError(403, errorBody(403, [`This name "${body.instanceName}" is already in use.`]));
  }
  if (!['WHATSAPP-BAILEYS', 'WHATSAPP-BUSINESS', 'EVOLUTION'].includes(String(body.integration))) {
    throw new HttpError(400, errorBody(400, ['Invalid integration']));
  }
  const integration = body.integration as EvolutionIntegration;
  const business = integration === 'WHATSAPP-BUSINESS';
  // ChannelController.init / createInstance: a business instance needs Meta's access token (its
  // `token`, which then is also its hash) and its phone number id (`number`).
  if (business && !body.token) throw new HttpError(400, errorBody(400, ['token is required']));
  if (business && !body.number) throw new HttpError(400, errorBody(400, ['number is required']));
  const w = body.webhook;
  const instance = sim.createInstance(body.instanceName, {
    token: body.token,
    number: body.number,
    integration,
    businessId: typeof body.businessId === 'string' ? body.businessId : undefined,
    // Baileys: connecting when asked for a QR code, otherwise it never tried (no socket).
    state: body.qrcode ? 'connecting' : 'close',
    disconnect: body.qrcode ? 'connection-lost' : 'never-connected',
    webhook: w?.url ? { ...w, url: w.url } : undefined,
  });
  const qrcode = body.qrcode && integration === 'WHATSAPP-BAILEYS';
  return sendJson(res, 201, {
    instance: {
      instanceName: instance.name,
      instanceId: instance.id,
      integration,
      webhookWaBusiness: business ? `${sim.serverUrl}/webhook/meta` : null,
      accessTokenWaBusiness: business ? 'evolution' : '',
      status: instance.state,
    },
    hash: instance.token,
    webhook: {
      webhookUrl: instance.webhook?.url ?? '',
      webhookHeaders: instance.webhook?.headers ?? {},
      webhookByEvents: instance.webhook?.byEvents ?? false,
      webhookBase64: instance.webhook?.base64 ?? false,
    },
    websocket: {},
    rabbitmq: {},
    nats: {},
    sqs: {},
    settings: {
      rejectCall: false,
      msgCall: '',
      groupsIgnore: true,
      alwaysOnline: false,
      readMessages: false,
      readStatus: false,
      syncFullHistory: false,
      wavoipToken: '',
    },
    ...(qrcode ? { qrcode: { pairingCode: null, code: `2@${randomKeyId(sim.random, '')}`, base64: 'data:image/png;base64,iVBORw0KGgo=', count: 1 } } : {}),
  });
}

/** Validates a send as Evolution does (400s before anything happens), then hands it to the simulator. */
async function sendRoute(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse, instance: SimInstance, action: 'sendText' | 'sendMedia' | 'sendTemplate') {
  const body = (await readJson(req)) as Record<string, unknown>;
  const required = action === 'sendText' ? ['number', 'text'] : action === 'sendMedia' ? ['number', 'mediatype'] : ['number', 'name', 'language'];
  const problems: string[] = [];
  for (const field of required) if (body?.[field] === undefined) problems.push(`instance requires property "${field}"`);
  if (body?.number !== undefined && typeof body.number !== 'string') problems.push('Invalid format');
  if (body?.delay !== undefined && !Number.isInteger(body.delay)) problems.push('Enter a value in milliseconds');
  if (action === 'sendMedia' && body?.mediatype !== undefined && !['image', 'document', 'video', 'audio'].includes(String(body.mediatype))) {
    problems.push('instance.mediatype is not one of enum values: image,document,video,audio');
  }
  if (action === 'sendTemplate') {
    for (const field of ['name', 'language', 'webhookUrl'] as const) {
      if (body?.[field] !== undefined && typeof body[field] !== 'string') problems.push(`instance.${field} is not of a type(s) string`);
    }
    if (body?.components !== undefined && !Array.isArray(body.components)) problems.push('instance.components is not of a type(s) array');
  }
  if (problems.length) throw new HttpError(400, errorBody(400, [problems]));

  if (action === 'sendText' && (typeof body.text !== 'string' || body.text.trim() === '')) {
    throw new HttpError(400, errorBody(400, ['Text is required']));
  }
  if (action === 'sendMedia') {
    const media = body.media;
    if (typeof media !== 'string' || !(isUrl(media) || isBase64(media))) {
      throw new HttpError(400, errorBody(400, ['Owned media must be a url or base64']));
    }
    if (isBase64(media) && body.mediatype === 'document' && !body.fileName) {
      throw new HttpError(400, errorBody(400, ['For base64 the file name must be informed.']));
    }
  }
  const raw = await sim.acceptSend(instance, action, body);
  // No answer at all: the request was lost, the server was killed meanwhile, or the answer came too late.
  if (!raw) return void res.destroy();
  sendJson(res, 201, raw);
}

function instanceRow(sim: SimulatorCore, i: SimInstance) {
  return {
    id: i.id,
    name: i.name,
    connectionStatus: i.state,
    ownerJid: i.wuid,
    profileName: i.profileName,
    profilePicUrl: null,
    integration: i.integration,
    number: i.number,
    businessId: i.businessId,
    token: i.token,
    clientName: 'evolution_simulator',
    disconnectionReasonCode: null,
    disconnectionObject: null,
    disconnectionAt: null,
    createdAt: i.createdAt,
    updatedAt: i.createdAt,
    _count: { Message: sim.sends.filter((s) => s.instance === i.name).length, Contact: 0, Chat: 0 },
  };
}

function webhookRow(i: SimInstance) {
  const w = i.webhook;
  if (!w) return null;
  return {
    id: w.id,
    url: w.url,
    headers: w.headers,
    enabled: w.enabled,
    events: w.events,
    webhookByEvents: w.byEvents,
    webhookBase64: w.base64,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    instanceId: i.id,
  };
}

function isUrl(v: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(v);
}

function isBase64(v: string): boolean {
  return v.length > 0 && v.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v);
}
