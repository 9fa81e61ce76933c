import { errors as undiciErrors, Pool } from 'undici';
import type {
  ConnectionStateBody,
  FetchedInstance,
  FindMessagesBody,
  FindMessagesResponse,
  MessageRaw,
  MetaTemplate,
  OnWhatsAppResult,
  SendMediaBody,
  SendTemplateBody,
  SendTextBody,
  ServerInfoBody,
  StoredMessageRecord,
} from './wire.js';
import { isMetaErrorBody } from './wire.js';
import { evolutionRequestSeconds } from '../metrics/registry.js';

/**
 * What became of a send. Only `unavailable` is safe to retry: the request certainly did not reach
 * WhatsApp. `unknown` means it may have been sent and must never be retried blindly.
 */
export type SendOutcome =
  | { kind: 'sent'; httpStatus: number; keyId: string; remoteJid: string; response: MessageRaw; durationMs: number }
  | { kind: 'not_on_whatsapp'; httpStatus: 400; number: string; message: string; durationMs: number }
  /** Refused, nothing sent. `providerCode`: Meta's error code when a WHATSAPP-BUSINESS send was refused by Meta. */
  | { kind: 'rejected'; httpStatus: number; message: string; providerCode?: number; durationMs: number }
  | { kind: 'unauthorized'; httpStatus: 401; message: string; durationMs: number }
  | { kind: 'instance_not_found'; httpStatus: 404; message: string; durationMs: number }
  | { kind: 'unavailable'; httpStatus: number | null; message: string; durationMs: number }
  /**
   * Refused for sending too fast, before anything was sent: a gateway's 429 (`retryAfterMs` from its
   * Retry-After) or WhatsApp's `rate-overlimit` relayed by Baileys.
   */
  | { kind: 'throttled'; httpStatus: number; message: string; retryAfterMs: number | null; durationMs: number }
  /**
   * Refused because the instance is not connected to WhatsApp (nothing was sent): Baileys' socket is
   * closed, reconnecting or never opened. `state`: what `connectionState` answered when asked (null:
   * it could not be asked, or gave no state).
   */
  | { kind: 'disconnected'; httpStatus: number; message: string; state: string | null; durationMs: number }
  | { kind: 'unknown'; httpStatus: number | null; message: string; durationMs: number };

export interface EvolutionClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

/** Connection errors raised before any byte of the request left: the send certainly did not happen. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CONNECT',
]);

/**
 * One connection pool per Evolution server (origin), shared by every client of that server in the
 * process. Requests go to the pool directly: undici's `request(url, { dispatcher: agent })` parsed
 * the URL and looked the origin up on every send, about a quarter of the client's CPU per call.
 */
const pools = new Map<string, Pool>();

function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (!pool) {
    pool = new Pool(origin, { keepAliveTimeout: 10_000, connections: 256, pipelining: 1 });
    pools.set(origin, pool);
  }
  return pool;
}

/** WhatsApp's own limit, as Baileys names it; Evolution relays it in a 400 (or 500) error body. */
const RATE_OVERLIMIT = /rate-overlimit/i;

/**
 * What a Baileys instance that is not connected answers a send with (at 400 or 500): the socket closed
 * (`Connection Closed`, `Connection Lost`, `Connection Terminated`), a send before any connection
 * (`reading 'onWhatsApp'` of the missing socket), Baileys' `SessionError`, or a "not connected" text.
 */
const NOT_CONNECTED = /Connection (Closed|Lost|Terminated)|reading 'onWhatsApp'|SessionError|not connected|socket (is )?closed/i;

/** A Retry-After header (seconds, or an HTTP date) in ms from now; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Meta's codes for sending too fast: throughput (130429), pair rate (131056), spam rate (131048), app rate (80007). */
const META_THROTTLE_CODES = new Set([130429, 131056, 131048, 80007]);

/** Flattens Evolution's `response.message` (string, array, nested arrays, objects) into text. */
export function describeErrorMessage(message: unknown): string {
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.map(describeErrorMessage).join('; ');
  if (message && typeof message === 'object') return JSON.stringify(message);
  return String(message ?? '');
}

function findNotOnWhatsapp(message: unknown): OnWhatsAppResult | null {
  if (Array.isArray(message)) {
    for (const m of message) {
      const found = findNotOnWhatsapp(m);
      if (found) return found;
    }
    return null;
  }
  if (message && typeof message === 'object' && (message as OnWhatsAppResult).exists === false) {
    return message as OnWhatsAppResult;
  }
  return null;
}

export class EvolutionClient {
  private readonly pool: Pool;
  /** The base URL's path (Evolution behind a reverse proxy under a prefix), without a trailing slash. */
  private readonly basePath: string;

  constructor(private readonly options: EvolutionClientOptions) {
    const base = new URL(options.baseUrl);
    this.pool = poolFor(base.origin);
    this.basePath = base.pathname.replace(/\/+$/, '');
  }

  sendText(instance: string, body: SendTextBody): Promise<SendOutcome> {
    return this.send(instance, 'sendText', body);
  }

  sendMedia(instance: string, body: SendMediaBody): Promise<SendOutcome> {
    return this.send(instance, 'sendMedia', body);
  }

  /** A Meta message template (WHATSAPP-BUSINESS instances). */
  sendTemplate(instance: string, body: SendTemplateBody): Promise<SendOutcome> {
    return this.send(instance, 'sendTemplate', body);
  }

  /** The instance's message templates as Meta has them (`GET /template/find/{instance}`). */
  async findTemplates(instance: string): Promise<{ ok: true; templates: MetaTemplate[] } | { ok: false; httpStatus: number | null; message: string }> {
    const r = await this.json<unknown>('GET', `/template/find/${encodeURIComponent(instance)}`);
    if (!r.ok) return r;
    // Evolution returns Meta's `data` array; an error from Meta comes back as its error object.
    const list = Array.isArray(r.body) ? r.body : Array.isArray((r.body as { data?: unknown })?.data) ? (r.body as { data: unknown[] }).data : null;
    if (!list) {
      const err = isMetaErrorBody(r.body) ? r.body : null;
      return { ok: false, httpStatus: r.httpStatus, message: err ? `Meta refused: ${err.message} (code ${err.code})` : `unexpected answer (HTTP ${r.httpStatus})` };
    }
    const templates = list.filter(
      (t): t is MetaTemplate => !!t && typeof t === 'object' && typeof (t as MetaTemplate).name === 'string' && typeof (t as MetaTemplate).language === 'string',
    );
    return { ok: true, templates };
  }

  /** The instance as Evolution stores it (`GET /instance/fetchInstances?instanceName=`), or null when it does not know it. */
  async fetchInstance(instance: string): Promise<{ ok: true; instance: FetchedInstance | null } | { ok: false; httpStatus: number | null; message: string }> {
    const r = await this.json<FetchedInstance[]>('GET', `/instance/fetchInstances?instanceName=${encodeURIComponent(instance)}`);
    if (!r.ok) return r.httpStatus === 404 ? { ok: true, instance: null } : r;
    const found = Array.isArray(r.body) ? r.body.find((i) => i && i.name === instance) : undefined;
    return { ok: true, instance: found ?? null };
  }

  /** The instance's socket state, or an error outcome. */
  async connectionState(
    instance: string,
  ): Promise<{ ok: true; state: string | null } | { ok: false; httpStatus: number | null; message: string }> {
    try {
      const res = await this.pool.request({
        path: `${this.basePath}/instance/connectionState/${encodeURIComponent(instance)}`,
        method: 'GET',
        headers: { apikey: this.options.apiKey },
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      const body = (await res.body.json().catch(() => null)) as ConnectionStateBody | { response?: { message?: unknown } } | null;
      if (res.statusCode === 200 && body && 'instance' in body) return { ok: true, state: body.instance.state ?? null };
      const message = body && 'response' in body ? describeErrorMessage(body.response?.message) : `HTTP ${res.statusCode}`;
      return { ok: false, httpStatus: res.statusCode, message };
    } catch (err) {
      return { ok: false, httpStatus: null, message: errorCode(err) ?? (err as Error).message };
    }
  }

  /**
   * The messages Evolution stored that match (`/chat/findMessages`, newest first), up to `pages`
   * pages of 50; an error outcome when Evolution did not answer with them.
   */
  async findMessages(
    instance: string,
    where: FindMessagesBody['where'],
    pages = 1,
  ): Promise<{ ok: true; records: StoredMessageRecord[]; total: number } | { ok: false; httpStatus: number | null; message: string }> {
    const records: StoredMessageRecord[] = [];
    let total = 0;
    for (let page = 1; page <= pages; page++) {
      const r = await this.json<FindMessagesResponse>('POST', `/chat/findMessages/${encodeURIComponent(instance)}`, { where, page, offset: 50 } satisfies FindMessagesBody);
      if (!r.ok) return r;
      const list = r.body?.messages?.records;
      if (r.httpStatus !== 200 || !Array.isArray(list)) return { ok: false, httpStatus: r.httpStatus, message: `unexpected answer (HTTP ${r.httpStatus})` };
      records.push(...list);
      total = Number(r.body.messages.total) || records.length;
      if (records.length >= total || list.length === 0) break;
    }
    return { ok: true, records, total };
  }

  /** The version the server reports at `GET /` (null when it gives none). */
  async serverVersion(): Promise<{ ok: true; version: string | null } | { ok: false; httpStatus: number | null; message: string }> {
    const r = await this.json<ServerInfoBody>('GET', '/');
    if (!r.ok) return r;
    if (r.httpStatus !== 200) return { ok: false, httpStatus: r.httpStatus, message: `HTTP ${r.httpStatus}` };
    return { ok: true, version: typeof r.body?.version === 'string' ? r.body.version : null };
  }

  private async json<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ ok: true; httpStatus: number; body: T } | { ok: false; httpStatus: number | null; message: string }> {
    try {
      const res = await this.pool.request({
        path: this.basePath + path,
        method,
        headers: body === undefined ? { apikey: this.options.apiKey } : { 'content-type': 'application/json', apikey: this.options.apiKey },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      const parsed = (await res.body.json().catch(() => null)) as unknown;
      if (res.statusCode >= 400) {
        const message = (parsed as { response?: { message?: unknown } } | null)?.response?.message;
        return { ok: false, httpStatus: res.statusCode, message: describeErrorMessage(message ?? `HTTP ${res.statusCode}`) };
      }
      return { ok: true, httpStatus: res.statusCode, body: parsed as T };
    } catch (err) {
      return { ok: false, httpStatus: null, message: errorCode(err) ?? (err as Error).message };
    }
  }

  /** Every send call, timed by endpoint and outcome in wc_evolution_request_duration_seconds. */
  private async send(instance: string, action: 'sendText' | 'sendMedia' | 'sendTemplate', body: SendTextBody | SendMediaBody | SendTemplateBody): Promise<SendOutcome> {
    const outcome = await this.post(instance, action, body);
    evolutionRequestSeconds.observe({ endpoint: action, outcome: outcome.kind }, outcome.durationMs / 1000);
    return outcome;
  }

  private async post(instance: string, action: 'sendText' | 'sendMedia' | 'sendTemplate', body: SendTextBody | SendMediaBody | SendTemplateBody): Promise<SendOutcome> {
    const path = `/message/${action}/${encodeURIComponent(instance)}`;
    const started = performance.now();
    // Evolution holds the request through the typing presence (`delay`) before it sends.
    const timeoutMs = this.options.timeoutMs + (body.delay ?? 0);
    const ms = () => Math.round(performance.now() - started);
    let statusCode: number;
    let parsed: unknown;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await this.pool.request({
        path: this.basePath + path,
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: this.options.apiKey },
        body: JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      statusCode = res.statusCode;
      retryAfter = res.headers['retry-after'];
      const text = await res.body.text();
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
    } catch (err) {
      const code = errorCode(err);
      if (code && NOT_SENT_CODES.has(code)) {
        return { kind: 'unavailable', httpStatus: null, message: `connection failed (${code})`, durationMs: ms() };
      }
      // A timeout or a reset after the request went out: WhatsApp may have the message.
      const reason = err instanceof undiciErrors.HeadersTimeoutError ? 'timed out waiting for the response' : (code ?? (err as Error).message);
      return { kind: 'unknown', httpStatus: null, message: reason, durationMs: ms() };
    }

    if (statusCode === 200 || statusCode === 201) {
      const raw = parsed as MessageRaw | null;
      const keyId = raw?.key?.id;
      if (typeof keyId === 'string' && keyId.length > 0) {
        return { kind: 'sent', httpStatus: statusCode, keyId, remoteJid: raw?.key?.remoteJid ?? '', response: raw as MessageRaw, durationMs: ms() };
      }
      // WHATSAPP-BUSINESS: Meta refused it, and Evolution answers 201 with Meta's error: nothing was sent.
      if (isMetaErrorBody(parsed)) {
        const meta = parsed;
        const text = `Meta refused the message: ${meta.message}${meta.error_data?.details ? ` (${meta.error_data.details})` : ''} [code ${meta.code}]`.slice(0, 500);
        if (META_THROTTLE_CODES.has(meta.code)) return { kind: 'throttled', httpStatus: statusCode, message: text, retryAfterMs: null, durationMs: ms() };
        return { kind: 'rejected', httpStatus: statusCode, message: text, providerCode: meta.code, durationMs: ms() };
      }
      // Accepted but no id to track it by: it was probably sent, so it must not be sent again.
      return { kind: 'unknown', httpStatus: statusCode, message: 'accepted without key.id', durationMs: ms() };
    }

    const message = (parsed as { response?: { message?: unknown } } | null)?.response?.message;
    const text = describeErrorMessage(message ?? parsed);
    if (statusCode === 429 || RATE_OVERLIMIT.test(text)) {
      return { kind: 'throttled', httpStatus: statusCode, message: (text || `HTTP ${statusCode}`).slice(0, 500), retryAfterMs: retryAfterMs(retryAfter), durationMs: ms() };
    }
    const notConnected = (statusCode === 400 || statusCode >= 500) && NOT_CONNECTED.test(text);
    if (notConnected || statusCode >= 500) {
      // A refusal that names the connection is one unless the socket says it is open (a reconnect
      // raced the send; Baileys' SessionError may also be about the recipient's sessions). Any other
      // 5xx is one only when the socket says it is not open; otherwise it stays what it was.
      const asked = await this.connectionState(instance);
      const state = asked.ok ? asked.state : null;
      const notOpen = asked.ok && state !== null && state !== 'open';
      if ((notConnected && state !== 'open') || notOpen) {
        return { kind: 'disconnected', httpStatus: statusCode, message: (text || `HTTP ${statusCode}`).slice(0, 500), state, durationMs: ms() };
      }
    }
    if (statusCode === 400) {
      const notOnWa = findNotOnWhatsapp(message);
      if (notOnWa) return { kind: 'not_on_whatsapp', httpStatus: 400, number: notOnWa.number, message: text, durationMs: ms() };
      return { kind: 'rejected', httpStatus: 400, message: text, durationMs: ms() };
    }
    if (statusCode === 401) return { kind: 'unauthorized', httpStatus: 401, message: text, durationMs: ms() };
    if (statusCode === 404) return { kind: 'instance_not_found', httpStatus: 404, message: text, durationMs: ms() };
    // Evolution's 5xx come from failures before the message is handed to WhatsApp (media download,
    // instance not loaded, licence gate): nothing was sent.
    if (statusCode >= 500) return { kind: 'unavailable', httpStatus: statusCode, message: text, durationMs: ms() };
    return { kind: 'rejected', httpStatus: statusCode, message: text, durationMs: ms() };
  }
}
