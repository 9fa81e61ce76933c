/**
 * A stand-in Evolution API 2.3.x for development, demos, tests and benchmarks. It speaks Evolution's
 * wire format (routes, guards, bodies, error envelopes, webhook envelopes; see evolution-api.md) over
 * real HTTP, and decides what happens to every message with a seeded PRNG.
 *
 * Everything outside Evolution's API lives under `/__simulator/`: the record of accepted sends and the
 * knobs (rates, delays, connection state, incoming messages).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import {
  type ConnectionUpdateData,
  errorBody,
  eventSuffix,
  jidUser,
  type MessageRaw,
  type MessagesUpdateData,
  versionAtLeast,
  type WebhookEnvelope,
} from '../../src/evolution/wire.js';
import { seededRandom } from './random.js';

export interface SimulatorBehaviour {
  /** Milliseconds before a send answers (after any `delay` the caller asked for). */
  latencyMs: number;
  /** Milliseconds from the send to SERVER_ACK, then to DELIVERY_ACK (or ERROR), then to READ. */
  ackDelayMs: number;
  deliveryDelayMs: number;
  readDelayMs: number;
  /** Share (0–1) of sends that end in ERROR instead of DELIVERY_ACK. */
  failureRate: number;
  /** Per instance name: overrides `failureRate` for that instance's sends. */
  instanceFailureRates: Record<string, number>;
  /** Share of delivered sends that are never read. */
  noReadRate: number;
  /** Share of webhooks delivered twice. */
  duplicateRate: number;
  /** Share of sends whose status webhooks are delivered in shuffled order. */
  reorderRate: number;
  /** Share of receipts that carry a `@lid` remoteJid instead of the phone (Baileys 7). */
  lidRate: number;
  /** Numbers (digits) that answer 400 `exists: false`. */
  notOnWhatsapp: string[];
  /** Share of sends answered 500 before anything is sent (as when Evolution has not loaded the instance). */
  serverErrorRate: number;
  /** Numbers (digits) → how many of their next sends answer 500 without sending. */
  serverErrors: Record<string, number>;
  /** Share of sends that are sent (recorded, webhooks emitted) but whose HTTP answer is held `hangMs`. */
  hangRate: number;
  /** Numbers (digits) whose sends hang like `hangRate`'s. */
  hangNumbers: string[];
  hangMs: number;
  /**
   * Numbers (digits) whose sends are lost: the request is taken, never processed (nothing is sent or
   * stored) and its connection is dropped after `hangMs`, as when Evolution dies or drops a request.
   */
  lostNumbers: string[];
  /** Instances whose sends answer 401 (as after the server's API key changed). */
  unauthorizedInstances: string[];
  webhookRetry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  webhookTimeoutMs: number;
  /**
   * The Evolution version this server claims (`GET /`). From 2.4.0 a send's top-level `messageId`
   * becomes the WhatsApp key id; 2.3.x ignores it.
   */
  version: string;
  /** DATABASE_SAVE_DATA_NEW_MESSAGE: messages are stored, so `/chat/findMessages` finds them. */
  storeMessages: boolean;
  /** DATABASE_SAVE_MESSAGE_UPDATE: status changes are stored (`MessageUpdate` of findMessages). */
  storeMessageUpdates: boolean;
}

export interface SimWebhookConfig {
  url: string;
  enabled: boolean;
  byEvents: boolean;
  base64: boolean;
  headers: Record<string, string>;
  /** UPPER_SNAKE event names; empty means every event. */
  events: string[];
}

export interface SimInstance {
  id: string;
  name: string;
  token: string;
  state: 'open' | 'connecting' | 'close';
  wuid: string | null;
  profileName: string | null;
  number: string | null;
  webhook: (SimWebhookConfig & { id: string; createdAt: string; updatedAt: string }) | null;
  createdAt: string;
}

export interface SimSend {
  seq: number;
  /** When the request arrived (before any simulated latency). */
  at: string;
  instance: string;
  endpoint: 'sendText' | 'sendMedia';
  number: string;
  keyId: string;
  remoteJid: string;
  text: string | null;
  media: { mediatype: string; media: string; mimetype?: string; caption?: string; fileName?: string } | null;
  /** The statuses the simulator will report, in the order it decided, and the final one. */
  statuses: string[];
  final: 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'ERROR';
  /** The statuses whose `messages.update` webhook the receiver answered with a 2xx (it took them). */
  acked: string[];
}

/** A row of Evolution's Message table, as `/chat/findMessages` returns it. */
interface StoredMessage {
  id: string;
  instance: string;
  raw: MessageRaw;
  /** Statuses stored for it (MessageUpdate), in the order they happened. */
  updates: string[];
}

export interface SimulatorOptions extends Partial<SimulatorBehaviour> {
  apiKey: string;
  host?: string;
  port?: number;
  /** SERVER_URL, echoed in webhook envelopes. */
  serverUrl?: string;
  seed?: number;
  instances?: Array<{ name: string; token?: string; number?: string; webhook?: Partial<SimWebhookConfig> & { url: string }; state?: SimInstance['state'] }>;
  log?: (line: string) => void;
}

export interface WebhookStats {
  attempts: number;
  delivered: number;
  failed: number;
  retried: number;
  byEvent: Record<string, number>;
}

const DEFAULT_BEHAVIOUR: SimulatorBehaviour = {
  latencyMs: 0,
  ackDelayMs: 50,
  deliveryDelayMs: 150,
  readDelayMs: 300,
  failureRate: 0,
  instanceFailureRates: {},
  noReadRate: 0.3,
  duplicateRate: 0,
  reorderRate: 0,
  lidRate: 0,
  notOnWhatsapp: [],
  serverErrorRate: 0,
  serverErrors: {},
  hangRate: 0,
  hangNumbers: [],
  hangMs: 60_000,
  lostNumbers: [],
  unauthorizedInstances: [],
  webhookRetry: { attempts: 10, baseDelayMs: 5000, maxDelayMs: 300_000 },
  webhookTimeoutMs: 30_000,
  version: '2.3.6',
  storeMessages: true,
  storeMessageUpdates: true,
};


/** Evolution does not retry these answers (WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES). */
const NON_RETRYABLE = new Set([400, 401, 403, 404, 422]);
const MAX_BODY = 16 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

export class EvolutionSimulator {
  readonly behaviour: SimulatorBehaviour;
  readonly instances = new Map<string, SimInstance>();
  readonly sends: SimSend[] = [];
  /** Evolution's message store: sent and received messages (kept across `crash()`, like its database). */
  private readonly stored: StoredMessage[] = [];
  private readonly sendByKey = new Map<string, SimSend>();
  private readonly storedByKey = new Map<string, StoredMessage>();
  /** Bumped by `crash()`: work begun before it never completes. */
  private generation = 0;
  /** While set, every Evolution route waits (a hung server: connections accepted, nothing answered). */
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  private listeningPort: number | null = null;
  readonly webhookStats: WebhookStats = { attempts: 0, delivered: 0, failed: 0, retried: 0, byEvent: {} };
  private server: Server | null = null;
  private random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Held (hanging) answers, released on close. */
  private readonly holds = new Set<() => void>();
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
  private closed = false;
  private seq = 0;
  /**
   * Mixed into every key id: WhatsApp's key ids are unique across time, and a simulator restarted with
   * the same seed against the same database (a second `npm run dev`) must not hand out ids it already
   * gave. The seed still decides everything else.
   */
  private readonly keySalt = randomBytes(9).toString('hex').toUpperCase();

  constructor(private readonly options: SimulatorOptions) {
    this.behaviour = { ...DEFAULT_BEHAVIOUR };
    this.configure(options);
    this.random = seededRandom(options.seed ?? 1);
    for (const i of options.instances ?? []) {
      this.createInstance(i.name, { token: i.token, number: i.number, state: i.state ?? 'open', webhook: i.webhook });
    }
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('simulator is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.log(`unexpected error: ${(err as Error).stack}`);
        if (!res.headersSent) send(res, 500, errorBody(500, String(err)));
      });
    });
    this.server.keepAliveTimeout = 15_000;
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.listeningPort ?? this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.listeningPort = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  /**
   * As if the process were killed: every connection is reset, answers not yet given are never given,
   * sends still before their store are never made, and webhooks not yet posted (or retried) are lost.
   * Stored messages stay (Evolution keeps them in its database). `restart()` listens again on the same port.
   */
  async crash(): Promise<void> {
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const release of this.holds) release();
    this.holds.clear();
    this.gate?.open();
    this.gate = null;
    const server = this.server;
    this.server = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
  }

  async restart(): Promise<string> {
    if (this.server) return this.url;
    return this.listen();
  }

  /** A hung server: connections are accepted and nothing is answered until `unhang()`; then the held requests run. */
  hang(): void {
    if (this.gate) return;
    let open = () => undefined as void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  unhang(): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const release of this.holds) release();
    this.holds.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
    await this.agent.close();
  }

  /** Changes behaviour knobs; keys that are not knobs are ignored. */
  configure(patch: Partial<SimulatorBehaviour>): SimulatorBehaviour {
    for (const key of Object.keys(DEFAULT_BEHAVIOUR) as Array<keyof SimulatorBehaviour>) {
      if (patch[key] !== undefined) (this.behaviour as unknown as Record<string, unknown>)[key] = patch[key];
    }
    return this.behaviour;
  }

  createInstance(
    name: string,
    opts: { token?: string; number?: string; state?: SimInstance['state']; webhook?: Partial<SimWebhookConfig> & { url: string } } = {},
  ): SimInstance {
    const now = new Date().toISOString();
    const number = opts.number ? jidUser(opts.number) : null;
    const instance: SimInstance = {
      id: randomUUID(),
      name,
      token: opts.token ?? randomUUID().toUpperCase(),
      state: opts.state ?? 'open',
      wuid: number ? `${number}@s.whatsapp.net` : null,
      profileName: number ? `Sim ${name}` : null,
      number,
      webhook: null,
      createdAt: now,
    };
    if (opts.webhook) this.setWebhook(instance, { enabled: true, ...opts.webhook });
    this.instances.set(name, instance);
    return instance;
  }

  setWebhook(instance: SimInstance, w: Partial<SimWebhookConfig> & { url: string; enabled?: boolean }) {
    const now = new Date().toISOString();
    instance.webhook = {
      id: instance.webhook?.id ?? randomUUID(),
      url: w.url,
      enabled: w.enabled ?? true,
      byEvents: w.byEvents ?? false,
      base64: w.base64 ?? false,
      headers: w.headers ?? {},
      events: w.enabled === false ? [] : (w.events ?? []),
      createdAt: instance.webhook?.createdAt ?? now,
      updatedAt: now,
    };
  }

  /** Sets the socket state and emits what Evolution emits for it (connection.update, and on close the logout events). */
  setConnectionState(name: string, state: SimInstance['state'] | 'refused', statusReason?: number): SimInstance {
    const instance = this.mustGet(name);
    const reason = statusReason ?? (state === 'close' ? 401 : state === 'refused' ? 428 : 200);
    if (state === 'close') {
      this.emit(instance, 'status.instance', {
        instance: instance.name,
        status: 'closed',
        disconnectionAt: new Date().toISOString(),
        disconnectionReasonCode: reason,
        disconnectionObject: JSON.stringify({ error: { output: { statusCode: reason } } }),
      });
      this.emit(instance, 'logout.instance', null);
    }
    instance.state = state === 'refused' ? 'close' : state;
    const data: ConnectionUpdateData = { instance: instance.name, state, statusReason: reason };
    if (state === 'open' && instance.wuid) {
      data.wuid = instance.wuid;
      data.profileName = instance.profileName ?? undefined;
      data.profilePictureUrl = `https://pps.whatsapp.net/sim/${instance.name}.jpg`;
    }
    this.emit(instance, 'connection.update', data);
    return instance;
  }

  /** An incoming message from `from` (digits) to the instance, as `messages.upsert`. */
  receiveMessage(name: string, from: string, text: string, opts: { lid?: boolean; quotedKeyId?: string } = {}): MessageRaw {
    const instance = this.mustGet(name);
    const phoneJid = `${jidUser(from)}@s.whatsapp.net`;
    const lidJid = `${Math.floor(this.random() * 1e15)}@lid`;
    const raw: MessageRaw = {
      key: opts.lid
        ? { remoteJid: lidJid, fromMe: false, id: randomKeyId(this.random, '3A'), remoteJidAlt: phoneJid, addressingMode: 'lid' }
        : { remoteJid: phoneJid, fromMe: false, id: randomKeyId(this.random, '3A'), remoteJidAlt: lidJid, addressingMode: 'pn' },
      pushName: 'Contato',
      status: 'DELIVERY_ACK',
      message: { conversation: text, messageContextInfo: {} },
      contextInfo: opts.quotedKeyId ? { stanzaId: opts.quotedKeyId, participant: instance.wuid } : null,
      messageType: 'conversation',
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: instance.id,
      source: 'android',
    };
    this.store(instance, raw);
    this.emit(instance, 'messages.upsert', raw);
    return raw;
  }

  /** Resolves when no webhook is waiting to be sent or retried. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.timers.size > 0 || this.inflight.size > 0) && Date.now() < until) await sleep(20);
  }

  // ───────────────────────────── HTTP ─────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    // Parsed only where the query string is read: a WHATWG URL per send was a visible share of the
    // simulator's CPU in bench:dispatch.
    const url = () => new URL(raw, 'http://sim');
    const path = query < 0 ? raw : raw.slice(0, query);
    const method = req.method ?? 'GET';
    try {
      if (path.startsWith('/__simulator/')) return await this.handleControl(req, res, method, path, url);
      const generation = this.generation;
      if (this.gate) {
        await this.gate.promise;
        if (generation !== this.generation) return void res.destroy();
      }
      if (method === 'GET' && path === '/') {
        return send(res, 200, {
          status: 200,
          message: 'Welcome to the Evolution API, it is working!',
          version: this.behaviour.version,
          clientName: 'evolution_simulator',
          manager: `${this.options.serverUrl ?? this.url}/manager`,
          documentation: 'https://doc.evolution-api.com',
          whatsappWebVersion: '2.3000.1028419009',
        });
      }
      const route = path.match(/^\/(message|instance|webhook|chat)\/([A-Za-z]+)(?:\/([^/]+))?\/?$/);
      if (!route) throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
      const [, group, action, rawName] = route;
      const instanceName = rawName ? decodeURIComponent(rawName) : undefined;

      if (group === 'instance' && action === 'create' && method === 'POST') return await this.createRoute(req, res);
      if (group === 'instance' && action === 'fetchInstances' && method === 'GET') {
        this.requireGlobalKey(req);
        const name = url().searchParams.get('instanceName');
        const list = [...this.instances.values()].filter((i) => !name || i.name === name);
        if (name && list.length === 0) throw new HttpError(404, errorBody(404, [`Instance "${name}" not found`]));
        return send(res, 200, list.map((i) => this.instanceRow(i)));
      }
      if (!instanceName) throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));

      // Evolution's guard order: instance exists → logged → apikey. An unknown instance is a 404
      // whatever the key.
      const instance = this.instances.get(instanceName);
      if (!instance) throw new HttpError(404, errorBody(404, [`The "${instanceName}" instance does not exist`]));
      this.requireKey(req, instance);

      if (group === 'message' && method === 'POST' && (action === 'sendText' || action === 'sendMedia')) {
        if (this.behaviour.unauthorizedInstances.includes(instance.name)) throw new HttpError(401, errorBody(401, 'Unauthorized'));
        return await this.sendRoute(req, res, instance, action);
      }
      if (group === 'instance' && action === 'delete' && method === 'DELETE') {
        this.instances.delete(instance.name);
        this.emit(instance, 'remove.instance', null);
        return send(res, 200, { status: 'SUCCESS', error: false, response: { message: 'Instance deleted' } });
      }
      if (group === 'instance' && action === 'connectionState' && method === 'GET') {
        return send(res, 200, { instance: { instanceName: instance.name, state: instance.state } });
      }
      if (group === 'instance' && action === 'logout' && method === 'DELETE') {
        this.setConnectionState(instance.name, 'close', 401);
        return send(res, 200, { status: 'SUCCESS', error: false, response: { message: 'Instance logged out' } });
      }
      if (group === 'webhook' && action === 'set' && method === 'POST') {
        const body = (await readJson(req)) as { webhook?: Partial<SimWebhookConfig> & { url?: string; enabled?: boolean } };
        const w = body?.webhook;
        if (!w || typeof w !== 'object') throw new HttpError(400, errorBody(400, [['instance requires property "webhook"']]));
        const missing = (['enabled', 'url'] as const).filter((k) => w[k] === undefined);
        if (missing.length) throw new HttpError(400, errorBody(400, [missing.map((k) => `instance.webhook requires property "${k}"`)]));
        this.setWebhook(instance, { ...w, url: String(w.url) });
        return send(res, 201, this.webhookRow(instance));
      }
      if (group === 'webhook' && action === 'find' && method === 'GET') return send(res, 200, this.webhookRow(instance));
      if (group === 'chat' && action === 'findMessages' && method === 'POST') return send(res, 200, this.findMessages(instance, await readJson(req)));
      throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
    } catch (err) {
      if (err instanceof HttpError) return send(res, err.status, err.body);
      throw err;
    }
  }

  private requireGlobalKey(req: IncomingMessage) {
    if (req.headers.apikey !== this.options.apiKey) throw new HttpError(401, errorBody(401, 'Unauthorized'));
  }

  private requireKey(req: IncomingMessage, instance: SimInstance) {
    const key = req.headers.apikey;
    if (key !== this.options.apiKey && key !== instance.token) throw new HttpError(401, errorBody(401, 'Unauthorized'));
  }

  private async createRoute(req: IncomingMessage, res: ServerResponse) {
    this.requireGlobalKey(req);
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
    if (this.instances.has(body.instanceName)) {
      throw new HttpError(403, errorBody(403, [`This name "${body.instanceName}" is already in use.`]));
    }
    if (!['WHATSAPP-BAILEYS', 'WHATSAPP-BUSINESS', 'EVOLUTION'].includes(String(body.integration))) {
      throw new HttpError(400, errorBody(400, ['Invalid integration']));
    }
    const w = body.webhook;
    const instance = this.createInstance(body.instanceName, {
      token: body.token,
      number: body.number,
      state: body.qrcode ? 'connecting' : 'close',
      webhook: w?.url ? { ...w, url: w.url } : undefined,
    });
    return send(res, 201, {
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
      ...(body.qrcode ? { qrcode: { pairingCode: null, code: `2@${randomKeyId(this.random, '')}`, base64: 'data:image/png;base64,iVBORw0KGgo=', count: 1 } } : {}),
    });
  }

  private async sendRoute(req: IncomingMessage, res: ServerResponse, instance: SimInstance, action: 'sendText' | 'sendMedia') {
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

    const generation = this.generation;
    const receivedAt = new Date().toISOString();
    const delay = typeof body.delay === 'number' ? Math.min(body.delay, 60_000) : 0;
    if (delay > 0) await sleep(delay);
    if (this.behaviour.latencyMs > 0) await sleep(this.behaviour.latencyMs);
    // Killed meanwhile: the message was never handed to WhatsApp.
    if (generation !== this.generation) return void res.destroy();

    const number = jidUser(String(body.number));
    if (this.behaviour.lostNumbers.includes(number)) {
      await this.hold(this.behaviour.hangMs);
      return void res.destroy();
    }
    // Evolution's 500s come before the message reaches WhatsApp (instance not loaded, media download).
    const scripted = this.behaviour.serverErrors[number] ?? 0;
    if (scripted > 0 || (this.behaviour.serverErrorRate > 0 && this.random() < this.behaviour.serverErrorRate)) {
      if (scripted > 0) this.behaviour.serverErrors[number] = scripted - 1;
      throw new HttpError(500, errorBody(500, `Cannot read properties of undefined (reading '${action === 'sendText' ? 'textMessage' : 'mediaMessage'}')`));
    }
    if (instance.state !== 'open') throw new HttpError(400, errorBody(400, ['Error: Connection Closed']));
    if (this.behaviour.notOnWhatsapp.includes(number)) {
      throw new HttpError(400, errorBody(400, [{ jid: `${number}@s.whatsapp.net`, exists: false, number }]));
    }

    // 2.4.0 and later send under the caller's `messageId` (top-level in the body); 2.3.x ignores it.
    const chosen = versionAtLeast(this.behaviour.version, '2.4.0') && typeof body.messageId === 'string' && body.messageId ? body.messageId : null;
    const keyId = chosen ?? saltKeyId(randomKeyId(this.random, '3EB0'), this.keySalt);
    const remoteJid = String(body.number).includes('@') ? String(body.number) : `${number}@s.whatsapp.net`;
    const raw = this.messageRaw(instance, keyId, remoteJid, action, body);
    const plan = this.plan(this.behaviour.instanceFailureRates[instance.name] ?? this.behaviour.failureRate);
    const record: SimSend = {
      seq: ++this.seq,
      at: receivedAt,
      instance: instance.name,
      endpoint: action,
      number,
      keyId,
      remoteJid,
      text: action === 'sendText' ? String(body.text) : null,
      media:
        action === 'sendMedia'
          ? {
              mediatype: String(body.mediatype),
              media: String(body.media).slice(0, 200),
              mimetype: body.mimetype as string | undefined,
              caption: body.caption as string | undefined,
              fileName: body.fileName as string | undefined,
            }
          : null,
      statuses: plan.statuses,
      final: plan.final,
      acked: [],
    };
    this.sends.push(record);
    this.sendByKey.set(keyId, record);
    this.store(instance, raw);

    // Evolution fires send.message without awaiting it, before the HTTP response: webhooks can
    // overtake the 201.
    this.emit(instance, 'send.message', raw);
    this.scheduleReceipts(instance, record, plan.reorder);
    if (this.behaviour.hangNumbers.includes(number) || (this.behaviour.hangRate > 0 && this.random() < this.behaviour.hangRate)) {
      // Sent, but the answer comes too late for the caller: its outcome is unknown to it.
      await this.hold(this.behaviour.hangMs);
      if (this.closed || generation !== this.generation) return void res.destroy();
    }
    send(res, 201, raw);
  }

  /** Waits `ms`, or less when the simulator closes or crashes (which release every hold). */
  private hold(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const holds = this.holds;
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        holds.delete(done);
        resolve();
      }
      holds.add(done);
    });
  }

  private messageRaw(
    instance: SimInstance,
    keyId: string,
    remoteJid: string,
    action: 'sendText' | 'sendMedia',
    body: Record<string, unknown>,
  ): MessageRaw {
    let message: Record<string, unknown>;
    let messageType: string;
    if (action === 'sendText') {
      message = { conversation: String(body.text) };
      messageType = 'conversation';
    } else {
      const type = String(body.mediatype);
      messageType = `${type}Message`;
      const fileName = (body.fileName as string | undefined) ?? (type === 'image' ? 'image.jpg' : type === 'video' ? 'video.mp4' : undefined);
      message = {
        [messageType]: {
          url: `https://mmg.whatsapp.net/sim/${keyId}.enc`,
          mimetype: type === 'image' ? 'image/jpeg' : (body.mimetype ?? 'application/octet-stream'),
          ...(type !== 'audio' && body.caption ? { caption: body.caption } : {}),
          ...(fileName ? { fileName } : {}),
          fileLength: '12345',
          mediaKeyTimestamp: String(Math.floor(Date.now() / 1000)),
        },
      };
    }
    return {
      key: { remoteJid, fromMe: true, id: keyId },
      pushName: 'Você',
      status: 'PENDING',
      message,
      contextInfo: null,
      messageType,
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: instance.id,
      source: 'web',
    };
  }

  private plan(failureRate: number): { statuses: string[]; final: SimSend['final']; reorder: boolean } {
    const b = this.behaviour;
    const statuses = ['SERVER_ACK'];
    let final: SimSend['final'];
    if (this.random() < failureRate) {
      statuses.push('ERROR');
      final = 'ERROR';
    } else {
      statuses.push('DELIVERY_ACK');
      final = 'DELIVERY_ACK';
      if (this.random() >= b.noReadRate) {
        statuses.push('READ');
        final = 'READ';
      }
    }
    return { statuses, final, reorder: this.random() < b.reorderRate };
  }

  private scheduleReceipts(instance: SimInstance, record: SimSend, reorder: boolean) {
    // No webhook would carry them (none set, disabled, or not subscribed to MESSAGES_UPDATE): no
    // timers (the statuses are stored at once). Evolution too only sends what the webhook asks for
    // when the status arrives.
    if (!this.wants(instance, 'messages.update')) {
      for (const status of record.statuses) this.storeUpdate(record.keyId, status);
      return;
    }
    const b = this.behaviour;
    const steps = [b.ackDelayMs, b.deliveryDelayMs, b.readDelayMs];
    let at = 0;
    const times = record.statuses.map((_, i) => (at += steps[i] ?? 0));
    if (reorder) {
      for (let i = times.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [times[i], times[j]] = [times[j] as number, times[i] as number];
      }
    }
    record.statuses.forEach((status, i) => {
      const remoteJid = this.random() < b.lidRate ? `${Math.floor(this.random() * 1e15)}@lid` : record.remoteJid;
      const data: MessagesUpdateData = {
        keyId: record.keyId,
        remoteJid,
        fromMe: true,
        status,
        instanceId: instance.id,
        messageId: `cm${randomKeyId(this.random, '').toLowerCase().slice(0, 23)}`,
      };
      this.later(times[i] ?? 0, () => {
        this.storeUpdate(record.keyId, status);
        this.emit(instance, 'messages.update', data);
      });
    });
  }

  // ───────────────────────────── webhooks ─────────────────────────────

  /** Whether the instance's webhook takes `event` now. */
  private wants(instance: SimInstance, event: string): boolean {
    const webhook = instance.webhook;
    if (!webhook || !webhook.enabled || this.closed) return false;
    return webhook.events.length === 0 || webhook.events.includes(event.replace(/[.-]/g, '_').toUpperCase());
  }

  private emit(instance: SimInstance, event: string, data: unknown) {
    const webhook = instance.webhook;
    if (!webhook || !this.wants(instance, event)) return;
    const tzOffset = new Date().getTimezoneOffset() * 60_000;
    const envelope: WebhookEnvelope = {
      event,
      instance: instance.name,
      data,
      destination: webhook.url,
      // Evolution's quirk: local wall-clock time with a misleading Z.
      date_time: new Date(Date.now() - tzOffset).toISOString(),
      ...(instance.wuid ? { sender: instance.wuid } : {}),
      server_url: this.options.serverUrl ?? this.url,
      apikey: instance.token,
    };
    const url = webhook.byEvents ? `${webhook.url}/${eventSuffix(event)}` : webhook.url;
    const copies = this.random() < this.behaviour.duplicateRate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const p = this.deliver(url, webhook, envelope, 1).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private async deliver(url: string, webhook: SimWebhookConfig, envelope: WebhookEnvelope, attempt: number): Promise<void> {
    if (this.closed) return;
    const generation = this.generation;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(webhook.headers)) if (k !== 'jwt_key') headers[k] = String(v);
    if (webhook.headers.jwt_key) {
      const iat = Math.floor(Date.now() / 1000);
      headers.authorization = `Bearer ${await new SignJWT({ app: 'evolution', action: 'webhook' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(iat)
        .setExpirationTime(iat + 600)
        .sign(new TextEncoder().encode(webhook.headers.jwt_key))}`;
    }
    this.webhookStats.attempts++;
    this.webhookStats.byEvent[envelope.event] = (this.webhookStats.byEvent[envelope.event] ?? 0) + 1;
    let status: number | null = null;
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(envelope),
        dispatcher: this.agent,
        headersTimeout: this.behaviour.webhookTimeoutMs,
        bodyTimeout: this.behaviour.webhookTimeoutMs,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      this.log(`webhook ${envelope.event} to ${url} failed: ${(err as Error).message}`);
    }
    // A killed server never learns the answer, and retries nothing.
    if (generation !== this.generation) return;
    if (status !== null && status >= 200 && status < 300) {
      this.webhookStats.delivered++;
      if (envelope.event === 'messages.update') {
        const d = envelope.data as MessagesUpdateData;
        this.sendByKey.get(d.keyId)?.acked.push(d.status);
      }
      return;
    }
    const { attempts, baseDelayMs, maxDelayMs } = this.behaviour.webhookRetry;
    if ((status !== null && NON_RETRYABLE.has(status)) || attempt >= attempts || this.closed) {
      this.webhookStats.failed++;
      this.log(`webhook ${envelope.event} to ${url} given up after attempt ${attempt} (HTTP ${status ?? 'error'})`);
      return;
    }
    this.webhookStats.retried++;
    const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.8 + 0.4 * this.random());
    this.later(wait, () => {
      const p = this.deliver(url, webhook, envelope, attempt + 1).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    });
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  // ───────────────────────────── control routes (not Evolution's API) ─────────────────────────────

  private async handleControl(req: IncomingMessage, res: ServerResponse, method: string, path: string, url: () => URL) {
    this.requireGlobalKey(req);
    if (path === '/__simulator/sends' && method === 'GET') {
      const { searchParams } = url();
      const instance = searchParams.get('instance');
      const since = Number(searchParams.get('sinceSeq') ?? 0);
      return send(res, 200, { sends: this.sends.filter((s) => (!instance || s.instance === instance) && s.seq > since) });
    }
    if (path === '/__simulator/sends' && method === 'DELETE') {
      this.sends.length = 0;
      this.sendByKey.clear();
      return send(res, 200, { ok: true });
    }
    if (path === '/__simulator/state' && method === 'GET') {
      return send(res, 200, {
        behaviour: this.behaviour,
        sends: this.sends.length,
        pendingWebhooks: this.timers.size + this.inflight.size,
        webhooks: this.webhookStats,
        instances: [...this.instances.values()].map((i) => ({ name: i.name, state: i.state, webhook: i.webhook?.url ?? null })),
      });
    }
    if (path === '/__simulator/behaviour' && method === 'PATCH') {
      return send(res, 200, this.configure((await readJson(req)) as Partial<SimulatorBehaviour>));
    }
    const m = path.match(/^\/__simulator\/instances\/([^/]+)\/(connection|incoming)$/);
    if (m && method === 'POST') {
      const name = decodeURIComponent(m[1] as string);
      if (!this.instances.has(name)) throw new HttpError(404, errorBody(404, [`The "${name}" instance does not exist`]));
      const body = (await readJson(req)) as { state?: string; statusReason?: number; from?: string; text?: string; lid?: boolean };
      if (m[2] === 'connection') {
        if (!['open', 'connecting', 'close', 'refused'].includes(String(body.state))) {
          throw new HttpError(400, errorBody(400, ['state must be open, connecting, close or refused']));
        }
        const i = this.setConnectionState(name, body.state as SimInstance['state'], body.statusReason);
        return send(res, 200, { instance: { instanceName: i.name, state: i.state } });
      }
      if (typeof body.from !== 'string' || typeof body.text !== 'string') throw new HttpError(400, errorBody(400, ['from and text are required']));
      return send(res, 200, this.receiveMessage(name, body.from, body.text, { lid: body.lid }));
    }
    throw new HttpError(404, errorBody(404, [`Cannot ${method} ${path}`]));
  }

  private store(instance: SimInstance, raw: MessageRaw) {
    if (!this.behaviour.storeMessages) return;
    const row: StoredMessage = { id: `cm${randomKeyId(this.random, '').toLowerCase().slice(0, 23)}`, instance: instance.name, raw, updates: [] };
    this.stored.push(row);
    this.storedByKey.set(raw.key.id, row);
  }

  private storeUpdate(keyId: string, status: string) {
    if (!this.behaviour.storeMessageUpdates) return;
    this.storedByKey.get(keyId)?.updates.push(status);
  }

  /**
   * `POST /chat/findMessages/{instance}` as 2.3.6 runs it (`BaileysStartupService.fetchMessages`):
   * `where.key.id` / `remoteJid` match exactly, `fromMe` only when true, `messageTimestamp` only with
   * both `gte` and `lte` (dates, compared in seconds); newest first; `offset` is the page size (50).
   */
  private findMessages(instance: SimInstance, body: unknown) {
    const q = (body ?? {}) as { where?: { key?: { id?: string; remoteJid?: string; fromMe?: boolean }; messageTimestamp?: { gte?: unknown; lte?: unknown } }; page?: number; offset?: number };
    const key = q.where?.key ?? {};
    const ts = q.where?.messageTimestamp;
    const seconds = (v: unknown) => Math.floor(new Date(v as string | number).getTime() / 1000);
    const range = ts?.gte && ts?.lte ? { gte: seconds(ts.gte), lte: seconds(ts.lte) } : null;
    const matches = this.stored.filter((m) => {
      if (m.instance !== instance.name) return false;
      if (key.id && m.raw.key.id !== key.id) return false;
      if (key.fromMe && m.raw.key.fromMe !== true) return false;
      if (key.remoteJid && m.raw.key.remoteJid !== key.remoteJid) return false;
      const t = Number(m.raw.messageTimestamp);
      if (range && (t < range.gte || t > range.lte)) return false;
      return true;
    });
    matches.sort((a, b) => Number(b.raw.messageTimestamp) - Number(a.raw.messageTimestamp));
    const offset = Number.isInteger(q.offset) && (q.offset as number) > 0 ? (q.offset as number) : 50;
    const page = Number.isInteger(q.page) && (q.page as number) > 0 ? (q.page as number) : 1;
    const skip = offset * (page === 1 ? 0 : page - 1);
    const records = matches.slice(skip, skip + offset).map((m) => ({
      id: m.id,
      key: m.raw.key,
      pushName: m.raw.pushName || (m.raw.key.fromMe ? 'Você' : jidUser(m.raw.key.remoteJid)),
      messageType: m.raw.messageType,
      message: m.raw.message,
      messageTimestamp: m.raw.messageTimestamp,
      instanceId: instance.id,
      source: m.raw.source,
      contextInfo: m.raw.contextInfo ?? null,
      MessageUpdate: m.updates.map((status) => ({ status })),
    }));
    return { messages: { total: matches.length, pages: Math.ceil(matches.length / offset), currentPage: page, records } };
  }

  private instanceRow(i: SimInstance) {
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
      _count: { Message: this.sends.filter((s) => s.instance === i.name).length, Contact: 0, Chat: 0 },
    };
  }

  private webhookRow(i: SimInstance) {
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

  private mustGet(name: string): SimInstance {
    const i = this.instances.get(name);
    if (!i) throw new Error(`unknown simulator instance ${name}`);
    return i;
  }

  private log(line: string) {
    this.options.log?.(line);
  }
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request's body (events, not an async iterator: cheaper per request, and requests are small). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, { status: 413, error: 'Payload Too Large', response: { message: ['request entity too large'] } }));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, errorBody(400, [`Unexpected token in JSON at position 0`]));
  }
}

function randomKeyId(random: () => number, prefix: string): string {
  let id = prefix;
  while (id.length < 22) id += Math.floor(random() * 16).toString(16).toUpperCase();
  return id;
}

/** XORs the hex digits after the 4-character prefix with the salt's: a bijection, so distinct ids stay distinct. */
function saltKeyId(id: string, salt: string): string {
  let out = id.slice(0, 4);
  for (let i = 4; i < id.length; i++) {
    const d = Number.parseInt(id[i] as string, 16) ^ Number.parseInt(salt[(i - 4) % salt.length] as string, 16);
    out += d.toString(16).toUpperCase();
  }
  return out;
}

function isUrl(v: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(v);
}

function isBase64(v: string): boolean {
  return v.length > 0 && v.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v);
}

export async function startSimulator(options: SimulatorOptions): Promise<EvolutionSimulator> {
  const sim = new EvolutionSimulator(options);
  await sim.listen();
  return sim;
}
