/**
 * The simulated Evolution without its HTTP server: instances, the record of sends, the message store,
 * the webhook sender and the behaviour knobs, and what happens to every message, decided with a seeded
 * PRNG. `EvolutionSimulator` (server.ts) serves it over HTTP; the routes call it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type ConnectionUpdateData,
  type EvolutionIntegration,
  errorBody,
  jidUser,
  type MessageRaw,
  type MessagesUpdateData,
  type MetaErrorBody,
  type MetaTemplate,
  versionAtLeast,
} from '../../src/infra/evolution/wire.js';
import { businessReceivedRaw, businessSentRaw, checkTemplate, DEFAULT_TEMPLATES, evolutionChannelSentRaw, metaError, wamid } from './business.js';
import { HttpError } from './http.js';
import { Lifecycle } from './lifecycle.js';
import { MessageStore } from './message-store.js';
import { planReceipts, receivedMessageRaw, sentMessageRaw } from './messages.js';
import { randomCuid, randomKeyId, saltKeyId, seededRandom } from './random.js';
import {
  DEFAULT_BEHAVIOUR,
  type SimCall,
  type SimDisconnectMode,
  type SimInstance,
  type SimSend,
  type SimSendEndpoint,
  type SimThrottled,
  type SimulatorBehaviour,
  type SimulatorOptions,
  type SimWebhookConfig,
  type WebhookStats,
} from './types.js';
import { WebhookSender } from './webhooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export abstract class SimulatorCore {
  readonly behaviour: SimulatorBehaviour;
  readonly instances = new Map<string, SimInstance>();
  readonly sends: SimSend[] = [];
  /** Every send request that reached a route (accepted or not, e.g. a number not on WhatsApp): when, which instance, which number. */
  readonly calls: SimCall[] = [];
  /** Sends refused for going too fast (`throttledSends`), in order. */
  readonly throttled: SimThrottled[] = [];
  /** Evolution's message store: sent and received messages (kept across `crash()`, like its database). */
  readonly store: MessageStore;
  readonly webhooks: WebhookSender;
  readonly lifecycle = new Lifecycle();
  readonly random: () => number;
  private readonly sendByKey = new Map<string, SimSend>();
  /** Baileys instances retrying their connection: name → stop. */
  private readonly reconnecting = new Map<string, () => void>();
  /** WHATSAPP-BUSINESS: each instance's recent recipients (jids, newest last), for `businessWrongJidRate`. */
  private readonly recentRecipients = new Map<string, string[]>();
  private seq = 0;
  /**
   * Mixed into every key id: WhatsApp's key ids are unique across time, and a simulator restarted with
   * the same seed against the same database (a second `npm run dev`) must not hand out ids it already
   * gave. The seed still decides everything else.
   */
  private readonly keySalt = randomBytes(9).toString('hex').toUpperCase();

  constructor(readonly options: SimulatorOptions) {
    this.behaviour = structuredClone(DEFAULT_BEHAVIOUR);
    this.configure(options);
    this.random = seededRandom(options.seed ?? 1);
    this.store = new MessageStore(this.behaviour, this.random);
    this.webhooks = new WebhookSender({
      behaviour: this.behaviour,
      random: this.random,
      lifecycle: this.lifecycle,
      serverUrl: () => this.serverUrl,
      onDelivered: (envelope) => {
        if (envelope.event !== 'messages.update') return;
        const d = envelope.data as MessagesUpdateData;
        this.sendByKey.get(d.keyId)?.acked.push(d.status);
      },
      log: (line) => this.log(line),
    });
    for (const i of options.instances ?? []) {
      this.createInstance(i.name, {
        token: i.token,
        number: i.number,
        state: i.state ?? 'open',
        disconnect: i.disconnect,
        webhook: i.webhook,
        integration: i.integration,
        businessId: i.businessId,
        templates: i.templates,
      });
    }
  }

  /** The address it listens at. */
  abstract get url(): string;

  /** SERVER_URL: what the server says its address is (in webhook envelopes and at `GET /`). */
  get serverUrl(): string {
    return this.options.serverUrl ?? this.url;
  }

  get webhookStats(): WebhookStats {
    return this.webhooks.stats;
  }

  /** Receipts and webhooks still to be sent or retried. */
  get pendingWebhooks(): number {
    return this.lifecycle.pending + this.webhooks.inFlight;
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
    opts: {
      token?: string;
      number?: string;
      state?: SimInstance['state'];
      disconnect?: SimDisconnectMode;
      webhook?: Partial<SimWebhookConfig> & { url: string };
      integration?: EvolutionIntegration;
      businessId?: string;
      templates?: MetaTemplate[];
    } = {},
  ): SimInstance {
    const now = new Date().toISOString();
    const integration = opts.integration ?? 'WHATSAPP-BAILEYS';
    const baileys = integration === 'WHATSAPP-BAILEYS';
    // Baileys: the phone it is linked to. WHATSAPP-BUSINESS: Meta's phone number id (no wuid: its
    // webhooks carry no `sender`). EVOLUTION: whatever was given.
    const number = opts.number ? (baileys ? jidUser(opts.number) : opts.number.replace(/\D/g, '') || opts.number) : null;
    const instance: SimInstance = {
      id: randomUUID(),
      name,
      token: opts.token ?? randomUUID().toUpperCase(),
      integration,
      // WHATSAPP-BUSINESS and EVOLUTION channels are open from the start (stateConnection = open).
      state: baileys ? (opts.state ?? 'open') : 'open',
      disconnect: opts.disconnect ?? 'connection-lost',
      wuid: baileys && number ? `${number}@s.whatsapp.net` : null,
      profileName: baileys && number ? `Sim ${name}` : null,
      number,
      businessId: integration === 'WHATSAPP-BUSINESS' ? (opts.businessId ?? String(100000000000000 + Math.floor(this.random() * 1e14))) : null,
      templates: structuredClone(opts.templates ?? (integration === 'WHATSAPP-BUSINESS' ? DEFAULT_TEMPLATES : [])),
      lastIncomingAt: {},
      webhook: null,
      createdAt: now,
    };
    if (opts.webhook) this.setWebhook(instance, { enabled: true, ...opts.webhook });
    this.instances.set(name, instance);
    return instance;
  }

  /** Replaces a WHATSAPP-BUSINESS instance's templates (what `GET /template/find` lists and sendTemplate checks). */
  setTemplates(name: string, templates: MetaTemplate[]): SimInstance {
    const instance = this.mustGet(name);
    instance.templates = structuredClone(templates);
    return instance;
  }

  /**
   * Sets when `number` last wrote to the instance (epoch ms; null forgets it): Meta's 24-hour
   * customer-service window of WHATSAPP-BUSINESS sends is counted from it.
   */
  setLastIncoming(name: string, number: string, at: number | null): SimInstance {
    const instance = this.mustGet(name);
    const digits = jidUser(number);
    if (at === null) delete instance.lastIncomingAt[digits];
    else instance.lastIncomingAt[digits] = at;
    return instance;
  }

  /**
   * A Baileys instance loses its connection (`connection-lost`: state close, sends answer 500
   * "Connection Closed", and Evolution retries for ever: a `connection.update` connecting every
   * `connectingIntervalMs`, its state flipping between connecting and close; no `close` event, which
   * Evolution sends only for 401/402/403/406) or is one that never connected (`never-connected`: no
   * socket, sends answer 500 "…reading 'onWhatsApp'", nothing retries until `GET /instance/connect`).
   * Reconnect with `setConnectionState(name, 'open')`.
   */
  disconnect(name: string, mode: SimDisconnectMode = 'connection-lost'): SimInstance {
    const instance = this.mustGet(name);
    if (instance.integration !== 'WHATSAPP-BAILEYS') throw new Error(`only a WHATSAPP-BAILEYS instance disconnects (${name} is ${instance.integration})`);
    this.stopReconnecting(name);
    instance.state = 'close';
    instance.disconnect = mode;
    if (mode === 'connection-lost') this.startReconnecting(instance);
    return instance;
  }

  /**
   * `GET /instance/connect` on a Baileys instance that is not open: Evolution starts connecting (and,
   * without WhatsApp's network, retries for ever). From then on a send's 500 says "Connection Closed".
   */
  connect(name: string): SimInstance {
    const instance = this.mustGet(name);
    if (instance.state === 'open' || instance.integration !== 'WHATSAPP-BAILEYS') return instance;
    instance.disconnect = 'connection-lost';
    if (!this.reconnecting.has(name)) {
      instance.state = 'connecting';
      this.startReconnecting(instance);
    }
    return instance;
  }

  /** Whether a Baileys instance is retrying its connection (posting connecting webhooks). */
  isReconnecting(name: string): boolean {
    return this.reconnecting.has(name);
  }

  /** Stops every connection retry (a crash: the process that retried is gone). */
  protected stopAllReconnecting() {
    for (const name of [...this.reconnecting.keys()]) this.stopReconnecting(name);
  }

  private startReconnecting(instance: SimInstance) {
    let tick = 0;
    const stop = this.lifecycle.every(this.behaviour.connectingIntervalMs, () => {
      if (this.instances.get(instance.name) !== instance) return this.stopReconnecting(instance.name);
      instance.state = tick++ % 2 === 0 ? 'connecting' : 'close';
      this.webhooks.emit(instance, 'connection.update', { instance: instance.name, state: 'connecting', statusReason: 200 } satisfies ConnectionUpdateData);
    });
    this.reconnecting.set(instance.name, stop);
  }

  private stopReconnecting(name: string) {
    this.reconnecting.get(name)?.();
    this.reconnecting.delete(name);
  }

  deleteInstance(instance: SimInstance) {
    this.stopReconnecting(instance.name);
    this.instances.delete(instance.name);
    this.webhooks.emit(instance, 'remove.instance', null);
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
    // Open, logged out (close) or out of QR attempts (refused): Evolution stops retrying.
    if (state !== 'connecting') this.stopReconnecting(name);
    if (state === 'open') instance.disconnect = 'connection-lost';
    if (state === 'close') {
      this.webhooks.emit(instance, 'status.instance', {
        instance: instance.name,
        status: 'closed',
        disconnectionAt: new Date().toISOString(),
        disconnectionReasonCode: reason,
        disconnectionObject: JSON.stringify({ error: { output: { statusCode: reason } } }),
      });
      this.webhooks.emit(instance, 'logout.instance', null);
    }
    instance.state = state === 'refused' ? 'close' : state;
    const data: ConnectionUpdateData = { instance: instance.name, state, statusReason: reason };
    if (state === 'open' && instance.wuid) {
      data.wuid = instance.wuid;
      data.profileName = instance.profileName ?? undefined;
      data.profilePictureUrl = `https://pps.whatsapp.net/sim/${instance.name}.jpg`;
    }
    this.webhooks.emit(instance, 'connection.update', data);
    return instance;
  }

  /**
   * An incoming message from `from` (digits) to the instance, as `messages.upsert` (in the instance's
   * dialect). It opens Meta's customer-service window for `from` (at `opts.at`, epoch ms, default now).
   */
  receiveMessage(name: string, from: string, text: string, opts: { lid?: boolean; quotedKeyId?: string; pushName?: string; at?: number } = {}): MessageRaw {
    const instance = this.mustGet(name);
    const digits = jidUser(from);
    instance.lastIncomingAt[digits] = opts.at ?? Date.now();
    let raw: MessageRaw;
    if (instance.integration === 'WHATSAPP-BUSINESS') {
      raw = businessReceivedRaw(instance, digits, text, opts.pushName ?? 'Contato', wamid(this.random, digits, this.keySalt));
    } else if (instance.integration === 'EVOLUTION') {
      raw = {
        key: { id: randomUUID(), remoteJid: `${digits}@s.whatsapp.net`, fromMe: false },
        pushName: opts.pushName ?? 'Contato',
        message: { conversation: text },
        messageType: 'conversation',
        messageTimestamp: Math.floor(Date.now() / 1000),
        source: 'unknown',
        instanceId: instance.id,
      };
    } else {
      raw = receivedMessageRaw(instance, from, text, opts, this.random);
      if (opts.pushName) raw.pushName = opts.pushName;
    }
    this.store.add(instance, raw);
    this.webhooks.emit(instance, 'messages.upsert', raw);
    // Seen from Evolution 2.3.6 business: a contacts.upsert carrying only pushName and instanceId.
    if (instance.integration === 'WHATSAPP-BUSINESS') this.webhooks.emit(instance, 'contacts.upsert', { pushName: raw.pushName, instanceId: instance.id });
    return raw;
  }

  /** Forgets the record of sends and of throttled ones (`DELETE /__simulator/sends`); the message store keeps them. */
  clearSends() {
    this.sends.length = 0;
    this.calls.length = 0;
    this.throttled.length = 0;
    this.sendByKey.clear();
    this.recentRecipients.clear();
  }

  /** Resolves when no webhook is waiting to be sent or retried. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pendingWebhooks > 0 && Date.now() < until) await sleep(20);
  }

  /**
   * A send that passed Evolution's validation: after the caller's `delay` and the simulated latency,
   * the fault knobs apply (throttling, lost numbers, 500s; then per integration: Baileys' closed
   * connection and numbers not on WhatsApp, WHATSAPP-BUSINESS's Meta errors and template checks);
   * otherwise it is recorded, stored and its receipts are scheduled. The answer's body (a `messageRaw`,
   * or for WHATSAPP-BUSINESS possibly Meta's error object, also a 201), or null when the caller gets no
   * answer (the connection is dropped). Error answers are thrown as `HttpError`.
   */
  async acceptSend(instance: SimInstance, action: SimSendEndpoint, body: Record<string, unknown>): Promise<MessageRaw | MetaErrorBody | null> {
    const { lifecycle } = this;
    const generation = lifecycle.generation;
    const receivedAt = new Date().toISOString();
    const number = jidUser(String(body.number));
    const call: SimCall = { at: receivedAt, instance: instance.name, number, endpoint: action };
    this.calls.push(call);
    // Evolution shows "composing" for `delay` ms (in chunks of up to 20 s) before it sends, holding the request.
    const delay = typeof body.delay === 'number' ? Math.max(0, Math.min(body.delay, 60_000)) : 0;
    if (delay > 0) await sleep(delay);
    if (this.behaviour.latencyMs > 0) await sleep(this.behaviour.latencyMs);
    // Killed meanwhile: the message was never handed to WhatsApp.
    if (generation !== lifecycle.generation) return null;

    const throttled = this.behaviour.throttledSends[instance.name] ?? 0;
    if (throttled > 0) {
      this.behaviour.throttledSends[instance.name] = throttled - 1;
      const b = this.behaviour;
      const status = b.throttleAnswer === 'gateway-429' ? 429 : 400;
      this.throttled.push({ at: receivedAt, instance: instance.name, number, status });
      if (status === 429) throw new HttpError(429, '429 Too Many Requests', b.throttleRetryAfterS === null ? {} : { 'retry-after': String(b.throttleRetryAfterS) });
      // Baileys' error for WhatsApp's limit, relayed by sendMessageWithTyping as a BadRequestException.
      throw new HttpError(400, errorBody(400, ['Error: rate-overlimit']));
    }
    if (this.behaviour.lostNumbers.includes(number)) {
      await lifecycle.hold(this.behaviour.hangMs);
      return null;
    }
    // Evolution's 500s come before the message reaches WhatsApp (instance not loaded, media download).
    const scripted = this.behaviour.serverErrors[number] ?? 0;
    if (scripted > 0 || (this.behaviour.serverErrorRate > 0 && this.random() < this.behaviour.serverErrorRate)) {
      if (scripted > 0) this.behaviour.serverErrors[number] = scripted - 1;
      const method = action === 'sendText' ? 'textMessage' : action === 'sendMedia' ? 'mediaMessage' : 'templateMessage';
      throw new HttpError(500, errorBody(500, `Cannot read properties of undefined (reading '${method}')`));
    }

    if (instance.integration === 'WHATSAPP-BAILEYS') {
      // BaileysStartupService.templateMessage throws a plain Error: Express's handler makes it a 500.
      if (action === 'sendTemplate') throw new HttpError(500, errorBody(500, 'Method not available in the Baileys service'));
      // Not connected: no socket yet (onWhatsApp of undefined), or a closed one. Always a 500.
      if (instance.state !== 'open') {
        const message = instance.disconnect === 'never-connected' ? "Cannot read properties of undefined (reading 'onWhatsApp')" : 'Connection Closed';
        throw new HttpError(500, errorBody(500, message));
      }
      if (this.behaviour.notOnWhatsapp.includes(number)) {
        throw new HttpError(400, errorBody(400, [{ jid: `${number}@s.whatsapp.net`, exists: false, number }]));
      }
    }
    if (instance.integration === 'EVOLUTION' && action === 'sendTemplate') {
      throw new HttpError(400, errorBody(400, ['Method not available on Evolution Channel']));
    }

    let template: SimSend['template'] = null;
    let outsideWindow = false;
    if (instance.integration === 'WHATSAPP-BUSINESS') {
      // Meta refuses: Evolution's post() returns Meta's error object and the route still answers 201.
      const code = this.behaviour.metaErrors[number];
      if (code !== undefined) {
        call.metaError = code;
        return metaError(code, this.random);
      }
      if (action === 'sendTemplate') {
        const checked = checkTemplate(instance.templates, String(body.name), String(body.language), body.components);
        if (!checked.ok) {
          call.metaError = checked.code;
          return metaError(checked.code, this.random, checked.details);
        }
        template = {
          name: checked.template.name,
          language: checked.template.language,
          components: Array.isArray(body.components) ? structuredClone(body.components) : [],
          parameters: checked.parameters,
          renderedBody: checked.renderedBody,
          renderedHeader: checked.renderedHeader,
        };
      } else {
        // Free-form text or media: only inside the customer-service window. Meta takes it (a wamid)
        // and then fails it with 131047, which reaches us only as a FAILED receipt.
        const last = instance.lastIncomingAt[number];
        outsideWindow = last === undefined || Date.now() - last > this.behaviour.serviceWindowMs;
      }
    }

    let keyId: string;
    let raw: MessageRaw;
    let remoteJid: string;
    if (instance.integration === 'WHATSAPP-BUSINESS') {
      remoteJid = `${number}@s.whatsapp.net`;
      keyId = wamid(this.random, number, this.keySalt);
      raw = businessSentRaw(instance, keyId, remoteJid, action, body, this.random);
    } else if (instance.integration === 'EVOLUTION') {
      remoteJid = String(body.number);
      keyId = typeof body.messageId === 'string' && body.messageId ? body.messageId : randomUUID();
      raw = evolutionChannelSentRaw(instance, keyId, action === 'sendText' ? 'sendText' : 'sendMedia', body);
    } else {
      // 2.4.0 and later send under the caller's `messageId` (top-level in the body); 2.3.x ignores it.
      const chosen = versionAtLeast(this.behaviour.version, '2.4.0') && typeof body.messageId === 'string' && body.messageId ? body.messageId : null;
      keyId = chosen ?? saltKeyId(randomKeyId(this.random, '3EB0'), this.keySalt);
      remoteJid = String(body.number).includes('@') ? String(body.number) : `${number}@s.whatsapp.net`;
      raw = sentMessageRaw(instance, keyId, remoteJid, action === 'sendText' ? 'sendText' : 'sendMedia', body);
    }
    const failureRate = this.behaviour.instanceFailureRates[instance.name] ?? this.behaviour.failureRate;
    const plan =
      instance.integration === 'EVOLUTION'
        ? { statuses: [], final: 'PENDING' as const, reorder: false }
        : planReceipts(this.behaviour, this.random, failureRate, {
            business: instance.integration === 'WHATSAPP-BUSINESS',
            // Meta takes a number that is not on WhatsApp and fails it (131026) afterwards.
            fail: outsideWindow || (instance.integration === 'WHATSAPP-BUSINESS' && this.behaviour.notOnWhatsapp.includes(number)),
          });
    const record: SimSend = {
      seq: ++this.seq,
      at: receivedAt,
      delay,
      sentAt: new Date().toISOString(),
      instance: instance.name,
      integration: instance.integration,
      endpoint: action,
      number,
      keyId,
      remoteJid,
      text: action === 'sendText' ? String(body.text) : template ? template.renderedBody : null,
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
      template,
      outsideWindow,
      statuses: plan.statuses,
      final: plan.final,
      acked: [],
    };
    this.sends.push(record);
    this.sendByKey.set(keyId, record);
    this.store.add(instance, raw);
    if (instance.integration === 'WHATSAPP-BUSINESS') this.rememberRecipient(instance.name, remoteJid);

    // Evolution fires send.message without awaiting it, before the HTTP response: webhooks can
    // overtake the 201.
    this.webhooks.emit(instance, 'send.message', raw);
    this.scheduleReceipts(instance, record, plan.reorder);
    if (this.behaviour.hangNumbers.includes(number) || (this.behaviour.hangRate > 0 && this.random() < this.behaviour.hangRate)) {
      // Sent, but the answer comes too late for the caller: its outcome is unknown to it.
      await lifecycle.hold(this.behaviour.hangMs);
      if (lifecycle.closed || generation !== lifecycle.generation) return null;
    }
    return raw;
  }

  protected log(line: string) {
    this.options.log?.(line);
  }

  private rememberRecipient(name: string, jid: string) {
    const list = this.recentRecipients.get(name) ?? [];
    const i = list.indexOf(jid);
    if (i >= 0) list.splice(i, 1);
    list.push(jid);
    if (list.length > 50) list.shift();
    this.recentRecipients.set(name, list);
  }

  /** WHATSAPP-BUSINESS's shared-state slip: another recent recipient's jid, or the message's own when there is none. */
  private wrongRecipient(name: string, own: string): string {
    const others = (this.recentRecipients.get(name) ?? []).filter((j) => j !== own);
    if (others.length === 0) return own;
    return others[Math.floor(this.random() * others.length)] as string;
  }

  private scheduleReceipts(instance: SimInstance, record: SimSend, reorder: boolean) {
    // No webhook would carry them (none set, disabled, or not subscribed to MESSAGES_UPDATE): no
    // timers (the statuses are stored at once). Evolution too only sends what the webhook asks for
    // when the status arrives.
    if (!this.webhooks.wants(instance, 'messages.update')) {
      for (const status of record.statuses) this.store.addUpdate(record.keyId, status);
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
    const business = instance.integration === 'WHATSAPP-BUSINESS';
    record.statuses.forEach((status, i) => {
      const messageId = business ? randomCuid(this.random) : `cm${randomKeyId(this.random, '').toLowerCase().slice(0, 23)}`;
      let data: MessagesUpdateData;
      if (business) {
        // whatsapp.business.service.ts: fromMe false (recipient compared with the phone number id),
        // participant = remoteJid, Meta's status words, errors[] not forwarded.
        const jid = b.businessWrongJidRate > 0 && this.random() < b.businessWrongJidRate ? this.wrongRecipient(instance.name, record.remoteJid) : record.remoteJid;
        data = { messageId, keyId: record.keyId, remoteJid: jid, fromMe: false, participant: jid, status, instanceId: instance.id };
      } else {
        const remoteJid = this.random() < b.lidRate ? `${Math.floor(this.random() * 1e15)}@lid` : record.remoteJid;
        data = { keyId: record.keyId, remoteJid, fromMe: true, status, instanceId: instance.id, messageId };
      }
      this.lifecycle.later(times[i] ?? 0, () => {
        this.store.addUpdate(record.keyId, status);
        this.webhooks.emit(instance, 'messages.update', data);
      });
    });
  }

  private mustGet(name: string): SimInstance {
    const i = this.instances.get(name);
    if (!i) throw new Error(`unknown simulator instance ${name}`);
    return i;
  }
}
