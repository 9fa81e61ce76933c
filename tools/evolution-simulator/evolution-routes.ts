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
import type { SimInstance, SimWebhookConfig } from './types.js';

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
  const route = path.match(/^\/(message|instance|webhook|chat)\/([A-Za-z]+)(?:\/([^/]+))?\/?$/);
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

  if (group === 'message' && method === 'POST' && (action === 'sendText' || action === 'sendMedia')) {
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
  const w = body.webhook;
  const instance = sim.createInstance(body.instanceName, {
    token: body.token,
    number: body.number,
    state: body.qrcode ? 'connecting' : 'close',
    webhook: w?.url ? { ...w, url: w.url } : undefined,
  });
  return sendJson(res, 201, {
    instance: {
      instanceName: instance.name,
      instanceId: instance.id,
      integration: body.integration,
      webhookWaBusiness: null,
      accessTokenWaBusiness: '',
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
    ...(body.qrcode ? { qrcode: { pairingCode: null, code: `2@${randomKeyId(sim.random, '')}`, base64: 'data:image/png;base64,iVBORw0KGgo=', count: 1 } } : {}),
  });
}

/** Validates a send as Evolution does (400s before anything happens), then hands it to the simulator. */
async function sendRoute(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse, instance: SimInstance, action: 'sendText' | 'sendMedia') {
  const body = (await readJson(req)) as Record<string, unknown>;
  const required = action === 'sendText' ? ['number', 'text'] : ['number', 'mediatype'];
  const problems: string[] = [];
  for (const field of required) if (body?.[field] === undefined) problems.push(`instance requires property "${field}"`);
  if (body?.number !== undefined && typeof body.number !== 'string') problems.push('Invalid format');
  if (body?.delay !== undefined && !Number.isInteger(body.delay)) problems.push('Enter a value in milliseconds');
  if (action === 'sendMedia' && body?.mediatype !== undefined && !['image', 'document', 'video', 'audio'].includes(String(body.mediatype))) {
    problems.push('instance.mediatype is not one of enum values: image,document,video,audio');
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
    integration: 'WHATSAPP-BAILEYS',
    number: i.number,
    businessId: null,
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
