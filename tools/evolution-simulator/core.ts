/**
 * The simulated Evolution without its HTTP server: instances, the record of sends, the message store,
 * the webhook sender and the behaviour knobs, and what happens to every message, decided with a seeded
 * PRNG. `EvolutionSimulator` (server.ts) serves it over HTTP; the routes call it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type ConnectionUpdateData, errorBody, jidUser, type MessageRaw, type MessagesUpdateData, versionAtLeast } from '../../src/infra/evolution/wire.js';
import { HttpError } from './http.js';
import { Lifecycle } from './lifecycle.js';
import { MessageStore } from './message-store.js';
import { planReceipts, receivedMessageRaw, sentMessageRaw } from './messages.js';
import { randomKeyId, saltKeyId, seededRandom } from './random.js';
import { DEFAULT_BEHAVIOUR, type SimInstance, type SimSend, type SimulatorBehaviour, type SimThrottled, type SimulatorOptions, type SimWebhookConfig, type WebhookStats } from './types.js';
import { WebhookSender } from './webhooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export abstract class SimulatorCore {
  readonly behaviour: SimulatorBehaviour;
  readonly instances = new Map<string, SimInstance>();
  readonly sends: SimSend[] = [];
  /** Every send request that reached a route (accepted or not, e.g. a number not on WhatsApp): when, which instance, which number. */
  readonly calls: Array<{ at: string; instance: string; number: string }> = [];
  /** Sends refused for going too fast (`throttledSends`), in order. */
  readonly throttled: SimThrottled[] = [];
  /** Evolution's message store: sent and received messages (kept across `crash()`, like its database). */
  readonly store: MessageStore;
  readonly webhooks: WebhookSender;
  readonly lifecycle = new Lifecycle();
  readonly random: () => number;
  private readonly sendByKey = new Map<string, SimSend>();
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
      this.createInstance(i.name, { token: i.token, number: i.number, state: i.state ?? 'open', webhook: i.webhook });
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

  deleteInstance(instance: SimInstance) {
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

  /** An incoming message from `from` (digits) to the instance, as `messages.upsert`. */
  receiveMessage(name: string, from: string, text: string, opts: { lid?: boolean; quotedKeyId?: string } = {}): MessageRaw {
    const instance = this.mustGet(name);
    const raw = receivedMessageRaw(instance, from, text, opts, this.random);
    this.store.add(instance, raw);
    this.webhooks.emit(instance, 'messages.upsert', raw);
    return raw;
  }

  /** Forgets the record of sends and of throttled ones (`DELETE /__simulator/sends`); the message store keeps them. */
  clearSends() {
    this.sends.length = 0;
    this.calls.length = 0;
    this.throttled.length = 0;
    this.sendByKey.clear();
  }

  /** Resolves when no webhook is waiting to be sent or retried. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pendingWebhooks > 0 && Date.now() < until) await sleep(20);
  }

  /**
   * A send that passed Evolution's validation: after the caller's `delay` and the simulated latency,
   * the fault knobs (lost numbers, 500s, closed connection, numbers not on WhatsApp) apply; otherwise
   * it is recorded, stored and its receipts are scheduled. The answer's body, or null when the caller
   * gets no answer (the connection is dropped). Error answers are thrown as `HttpError`.
   */
  async acceptSend(instance: SimInstance, action: 'sendText' | 'sendMedia', body: Record<string, unknown>): Promise<MessageRaw | null> {
    const { lifecycle } = this;
    const generation = lifecycle.generation;
    const receivedAt = new Date().toISOString();
    this.calls.push({ at: receivedAt, instance: instance.name, number: jidUser(String(body.number)) });
    // Evolution shows "composing" for `delay` ms (in chunks of up to 20 s) before it sends, holding the request.
    const delay = typeof body.delay === 'number' ? Math.max(0, Math.min(body.delay, 60_000)) : 0;
    if (delay > 0) await sleep(delay);
    if (this.behaviour.latencyMs > 0) await sleep(this.behaviour.latencyMs);
    // Killed meanwhile: the message was never handed to WhatsApp.
    if (generation !== lifecycle.generation) return null;

    const number = jidUser(String(body.number));
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
      throw new HttpError(500, errorBody(500, `Cannot read properties of undefined (reading '${action === 'sendText' ? 'textMessage' : 'mediaMessage'}')`));
    }
    if (instance.state !== 'open') throw new HttpError(500, errorBody(500, 'Connection Closed'));
    if (this.behaviour.notOnWhatsapp.includes(number)) {
      throw new HttpError(400, errorBody(400, [{ jid: `${number}@s.whatsapp.net`, exists: false, number }]));
    }

    // 2.4.0 and later send under the caller's `messageId` (top-level in the body); 2.3.x ignores it.
    const chosen = versionAtLeast(this.behaviour.version, '2.4.0') && typeof body.messageId === 'string' && body.messageId ? body.messageId : null;
    const keyId = chosen ?? saltKeyId(randomKeyId(this.random, '3EB0'), this.keySalt);
    const remoteJid = String(body.number).includes('@') ? String(body.number) : `${number}@s.whatsapp.net`;
    const raw = sentMessageRaw(instance, keyId, remoteJid, action, body);
    const plan = planReceipts(this.behaviour, this.random, this.behaviour.instanceFailureRates[instance.name] ?? this.behaviour.failureRate);
    const record: SimSend = {
      seq: ++this.seq,
      at: receivedAt,
      delay,
      sentAt: new Date().toISOString(),
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
    this.store.add(instance, raw);

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
