import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { eventSuffix, type WebhookEnvelope } from '../../src/infra/evolution/wire.js';
import type { Lifecycle } from './lifecycle.js';
import type { SimInstance, SimulatorBehaviour, SimWebhookConfig, WebhookStats } from './types.js';

/** Evolution does not retry these answers (WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES). */
const NON_RETRYABLE = new Set([400, 401, 403, 404, 422]);

export interface WebhookSenderDeps {
  behaviour: SimulatorBehaviour;
  random: () => number;
  lifecycle: Lifecycle;
  /** SERVER_URL, echoed in every envelope. */
  serverUrl: () => string;
  /** Called when the receiver answered an envelope with a 2xx. */
  onDelivered: (envelope: WebhookEnvelope) => void;
  log: (line: string) => void;
}

/**
 * Evolution's webhook sender: an envelope per event to the instance's webhook (with its headers and,
 * given a jwt_key, an HS256 token), retried with exponential backoff as Evolution retries, duplicated
 * at `duplicateRate`. A crash loses what is not yet posted or retried.
 */
export class WebhookSender {
  readonly stats: WebhookStats = { attempts: 0, delivered: 0, failed: 0, retried: 0, byEvent: {} };
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });

  constructor(private readonly deps: WebhookSenderDeps) {}

  /** Posts still waiting for their answer. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Whether the instance's webhook takes `event` now. */
  wants(instance: SimInstance, event: string): boolean {
    const webhook = instance.webhook;
    if (!webhook || !webhook.enabled || this.deps.lifecycle.closed) return false;
    return webhook.events.length === 0 || webhook.events.includes(event.replace(/[.-]/g, '_').toUpperCase());
  }

  emit(instance: SimInstance, event: string, data: unknown) {
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
      server_url: this.deps.serverUrl(),
      apikey: instance.token,
    };
    const url = webhook.byEvents ? `${webhook.url}/${eventSuffix(event)}` : webhook.url;
    const copies = this.deps.random() < this.deps.behaviour.duplicateRate ? 2 : 1;
    for (let c = 0; c < copies; c++) this.track(this.deliver(url, webhook, envelope, 1));
  }

  /** Waits for the posts in flight (after `Lifecycle.close()`, no retry follows them). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private track(delivery: Promise<void>) {
    const p = delivery.finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async deliver(url: string, webhook: SimWebhookConfig, envelope: WebhookEnvelope, attempt: number): Promise<void> {
    const { lifecycle, behaviour, log } = this.deps;
    if (lifecycle.closed) return;
    const generation = lifecycle.generation;
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
    this.stats.attempts++;
    this.stats.byEvent[envelope.event] = (this.stats.byEvent[envelope.event] ?? 0) + 1;
    let status: number | null = null;
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(envelope),
        dispatcher: this.agent,
        headersTimeout: behaviour.webhookTimeoutMs,
        bodyTimeout: behaviour.webhookTimeoutMs,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      log(`webhook ${envelope.event} to ${url} failed: ${(err as Error).message}`);
    }
    // A killed server never learns the answer, and retries nothing.
    if (generation !== lifecycle.generation) return;
    if (status !== null && status >= 200 && status < 300) {
      this.stats.delivered++;
      this.deps.onDelivered(envelope);
      return;
    }
    const { attempts, baseDelayMs, maxDelayMs } = behaviour.webhookRetry;
    if ((status !== null && NON_RETRYABLE.has(status)) || attempt >= attempts || lifecycle.closed) {
      this.stats.failed++;
      log(`webhook ${envelope.event} to ${url} given up after attempt ${attempt} (HTTP ${status ?? 'error'})`);
      return;
    }
    this.stats.retried++;
    const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.8 + 0.4 * this.deps.random());
    lifecycle.later(wait, () => this.track(this.deliver(url, webhook, envelope, attempt + 1)));
  }
}
