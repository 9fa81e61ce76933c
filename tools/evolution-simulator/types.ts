/** The simulator's shapes: its behaviour knobs (with their defaults), instances, the record of sends, options. */
import type { EvolutionIntegration, MetaTemplate } from '../../src/infra/evolution/wire.js';

export type { EvolutionIntegration, MetaTemplate };

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
  /**
   * Instance name → how many of its next sends are refused for going too fast, nothing sent:
   * `throttleAnswer` says how (a gateway's 429, with Retry-After `throttleRetryAfterS` when set, or
   * WhatsApp's limit as Baileys relays it through Evolution: 400 `["Error: rate-overlimit"]`).
   */
  throttledSends: Record<string, number>;
  throttleAnswer: 'gateway-429' | 'rate-overlimit';
  throttleRetryAfterS: number | null;
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
  /**
   * WHATSAPP-BUSINESS: numbers (digits) → the Meta error code every send to them gets (201 with Meta's
   * error object, nothing sent), e.g. 131026 undeliverable, 131047 re-engagement, 130429 rate limit,
   * 131056 pair rate limit, 132000 / 132001 template errors.
   */
  metaErrors: Record<string, number>;
  /**
   * WHATSAPP-BUSINESS: share of receipts whose `remoteJid` (and `participant`) names another recent
   * recipient of the instance instead of the message's (seen in 4 of 28 real receipts).
   */
  businessWrongJidRate: number;
  /**
   * WHATSAPP-BUSINESS: Meta's customer-service window. A free-form send (sendText/sendMedia) to a number
   * that has not written to the instance within this many ms is accepted (201) and then FAILED (131047).
   */
  serviceWindowMs: number;
  /** WHATSAPP-BAILEYS: while a lost connection is retried, a `connection.update` connecting this often. */
  connectingIntervalMs: number;
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

/**
 * Why a Baileys instance that is not open cannot send (its 500 answer): never connected (no socket:
 * "Cannot read properties of undefined (reading 'onWhatsApp')") or connection failed/lost ("Connection Closed").
 */
export type SimDisconnectMode = 'never-connected' | 'connection-lost';

export interface SimInstance {
  id: string;
  name: string;
  token: string;
  integration: EvolutionIntegration;
  state: 'open' | 'connecting' | 'close';
  /** Meaningful while not open (Baileys): which 500 a send gets. */
  disconnect: SimDisconnectMode;
  wuid: string | null;
  profileName: string | null;
  /** Baileys: the phone (digits); WHATSAPP-BUSINESS: Meta's phone number id. */
  number: string | null;
  /** WHATSAPP-BUSINESS: the WhatsApp Business Account id. */
  businessId: string | null;
  /** WHATSAPP-BUSINESS: the message templates Meta holds for the account (`GET /template/find`). */
  templates: MetaTemplate[];
  /** Digits → epoch ms of the number's last message to this instance (Meta's customer-service window). */
  lastIncomingAt: Record<string, number>;
  webhook: (SimWebhookConfig & { id: string; createdAt: string; updatedAt: string }) | null;
  createdAt: string;
}

export interface SimSend {
  seq: number;
  /** When the request arrived (before the typing presence and any simulated latency). */
  at: string;
  /** The request's `delay`: typing presence ("composing") shown this long before the message (0: none). */
  delay: number;
  /** When the message was handed to WhatsApp: after the typing presence (and the simulated latency). */
  sentAt: string;
  instance: string;
  integration: EvolutionIntegration;
  endpoint: SimSendEndpoint;
  number: string;
  keyId: string;
  remoteJid: string;
  text: string | null;
  media: { mediatype: string; media: string; mimetype?: string; caption?: string; fileName?: string } | null;
  /** sendTemplate: what was asked and what the customer saw (the body with its {{n}} filled in; also in `text`). */
  template: {
    name: string;
    language: string;
    components: unknown[];
    /** The body's parameters, in order. */
    parameters: string[];
    renderedBody: string;
    renderedHeader: string | null;
  } | null;
  /**
   * WHATSAPP-BUSINESS free-form send to a number outside Meta's 24-hour customer-service window: accepted
   * (201, a wamid) and then FAILED (Meta's 131047, which Evolution does not forward).
   */
  outsideWindow: boolean;
  /**
   * The statuses the simulator will report, in the order it decided, and the final one. Baileys:
   * SERVER_ACK, DELIVERY_ACK, READ, ERROR. WHATSAPP-BUSINESS: Meta's words SENT, DELIVERED, READ, FAILED.
   * EVOLUTION: none (PENDING).
   */
  statuses: string[];
  final: 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'ERROR' | 'SENT' | 'DELIVERED' | 'FAILED' | 'PENDING';
  /** The statuses whose `messages.update` webhook the receiver answered with a 2xx (it took them). */
  acked: string[];
}

export type SimSendEndpoint = 'sendText' | 'sendMedia' | 'sendTemplate';

/** A send request that reached a route (accepted or not). */
export interface SimCall {
  at: string;
  instance: string;
  number: string;
  endpoint: SimSendEndpoint;
  /** WHATSAPP-BUSINESS: the Meta error code it was answered with (201, no key), if any. */
  metaError?: number;
}

/** A send refused for going too fast (`throttledSends`): nothing was sent. */
export interface SimThrottled {
  at: string;
  instance: string;
  number: string;
  status: number;
}

export interface SimulatorOptions extends Partial<SimulatorBehaviour> {
  apiKey: string;
  host?: string;
  port?: number;
  /** SERVER_URL, echoed in webhook envelopes. */
  serverUrl?: string;
  seed?: number;
  instances?: Array<SimInstanceOptions>;
  log?: (line: string) => void;
}

export interface SimInstanceOptions {
  name: string;
  token?: string;
  /** Baileys: the phone; WHATSAPP-BUSINESS: Meta's phone number id. */
  number?: string;
  webhook?: Partial<SimWebhookConfig> & { url: string };
  /** Baileys only (default open); WHATSAPP-BUSINESS and EVOLUTION instances are always open. */
  state?: SimInstance['state'];
  /** Baileys not open: which 500 its sends get (default connection-lost). */
  disconnect?: SimDisconnectMode;
  integration?: EvolutionIntegration;
  businessId?: string;
  /** WHATSAPP-BUSINESS: its templates (default: `DEFAULT_TEMPLATES`). */
  templates?: MetaTemplate[];
}

export interface WebhookStats {
  attempts: number;
  delivered: number;
  failed: number;
  retried: number;
  byEvent: Record<string, number>;
}

export const DEFAULT_BEHAVIOUR: SimulatorBehaviour = {
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
  throttledSends: {},
  throttleAnswer: 'gateway-429',
  throttleRetryAfterS: null,
  unauthorizedInstances: [],
  webhookRetry: { attempts: 10, baseDelayMs: 5000, maxDelayMs: 300_000 },
  webhookTimeoutMs: 30_000,
  version: '2.3.6',
  storeMessages: true,
  storeMessageUpdates: true,
  metaErrors: {},
  businessWrongJidRate: 0,
  serviceWindowMs: 24 * 60 * 60 * 1000,
  connectingIntervalMs: 500,
};
