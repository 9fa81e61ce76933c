import type { IncomingMessage, ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import type { z } from 'zod';
import { isDatabaseUnavailable } from '../../infra/db/outage.js';
import { parseProviderStatus } from '../../domain/receipts.js';
import { incomingSender } from '../../domain/replies.js';
import { eventSuffix } from '../../infra/evolution/wire.js';
import { safeEqual } from '../../infra/lib/crypto.js';
import { BodyTooLargeError, closeAfter, readBody } from '../../infra/lib/http-body.js';
import type { Logger } from '../../infra/lib/logger.js';
import { acceptWebhook } from '../../features/webhooks/inbox.js';
import { canonicalEvent, envelopeSchema, HANDLED_EVENTS, isHandledEvent, type messageRawSchema, type messagesUpdateSchema } from '../../features/webhooks/schemas.js';
import { instanceBySecret } from '../../features/webhooks/secrets.js';
import { webhooksReceivedTotal } from '../../infra/metrics/registry.js';

/**
 * POST /webhooks/evolution/<secret>[/<event-suffix>]
 *
 * Authenticates the instance by the secret in its URL (and the HS256 JWT when it has a jwt_key),
 * validates the envelope, writes the event to the webhook inbox (PostgreSQL, group commit) and answers
 * once it is committed: an acknowledged event is never lost, whatever becomes of Redis or a worker.
 * Answers:
 * - 200: durable (or an event we ignore); a redelivered event is applied again, which changes nothing;
 * - 400 / 401 / 404 / 413 / 415: the request is wrong; Evolution does not retry 400/401/404 and nothing is written;
 * - 503: we could not make it durable (the database is away); Evolution retries (which is what we want).
 */
const MAX_BODY = 5 * 1024 * 1024;
const JWT_EXPIRY_TOLERANCE_S = 30 * 60;

class WebhookError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues?: unknown,
  ) {
    super(message);
  }
}

function reply(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function issuesOf(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

async function verifyJwt(req: IncomingMessage, key: string) {
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (!token) throw new WebhookError(401, 'UNAUTHENTICATED', 'this instance requires an Authorization: Bearer <JWT> header');
  try {
    // Evolution signs a token once per event and reuses it for every retry (10 attempts over about 20
    // minutes), while the token expires after 10: an expired but genuine signature is still accepted
    // within this tolerance, or a retry after our own outage would be refused and the event lost.
    await jwtVerify(token, new TextEncoder().encode(key), { algorithms: ['HS256'], clockTolerance: JWT_EXPIRY_TOLERANCE_S });
  } catch (err) {
    throw new WebhookError(401, 'UNAUTHENTICATED', `invalid JWT: ${(err as Error).message}`);
  }
}

/** Why a valid event needs no work (acknowledged without enqueueing), or null when it does. */
function nothingToDo(event: string, data: unknown): string | null {
  if (event === 'messages.update') {
    // `fromMe` is not looked at here: WHATSAPP-BUSINESS receipts of our own sends say false (§12).
    const d = data as z.infer<typeof messagesUpdateSchema>;
    const status = parseProviderStatus(d.status);
    if (status === null || status === 'PENDING') return `status ${String(d.status)} carries no delivery information`;
  }
  if (event === 'send.message' && !(data as z.infer<typeof messageRawSchema>).key.fromMe) return 'not a message we sent';
  if (event === 'messages.upsert') {
    const sender = incomingSender((data as z.infer<typeof messageRawSchema>).key);
    if (sender.kind === 'ignored') return sender.reason;
  }
  return null;
}

export async function handleEvolutionWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  params: { secret: string; suffix: string | null },
  log: Logger,
  /** The request's access record: told the tenant once the instance is known. */
  access?: { tenantId?: string },
): Promise<void> {
  // The metric's event label: a handled event's name, `other` for the rest, `unknown` before the body is read.
  let eventLabel = 'unknown';
  const count = (result: 'accepted' | 'ignored' | 'rejected' | 'unavailable' | 'error') => webhooksReceivedTotal.inc({ event: eventLabel, result });
  try {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new WebhookError(405, 'METHOD_NOT_ALLOWED', 'webhooks are POSTed');
    }
    const instance = await instanceBySecret(params.secret);
    if (!instance || !safeEqual(instance.webhookSecret, params.secret)) {
      throw new WebhookError(401, 'UNKNOWN_WEBHOOK', 'no instance has this webhook URL');
    }
    if (access) access.tenantId = instance.tenantId;
    if (instance.jwtKey) await verifyJwt(req, instance.jwtKey);

    const type = String(req.headers['content-type'] ?? '');
    if (type && !type.includes('json')) throw new WebhookError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send application/json');
    let raw: string;
    try {
      raw = (await readBody(req, MAX_BODY)).toString('utf8');
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      if (!err.drained) closeAfter(res);
      throw new WebhookError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${MAX_BODY} bytes`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new WebhookError(400, 'MALFORMED_JSON', 'the body is not valid JSON');
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) throw new WebhookError(400, 'INVALID_ENVELOPE', 'the body is not an Evolution webhook envelope', issuesOf(envelope.error));
    const { instance: instanceName, data } = envelope.data;
    const event = canonicalEvent(envelope.data.event);
    eventLabel = isHandledEvent(event) ? event : 'other';
    if (params.suffix && params.suffix !== eventSuffix(event)) {
      throw new WebhookError(400, 'EVENT_MISMATCH', `URL suffix "${params.suffix}" does not match event "${event}"`);
    }
    if (instanceName !== instance.name) {
      throw new WebhookError(400, 'INSTANCE_MISMATCH', `envelope instance "${instanceName}" is not the instance of this URL`);
    }
    if (!isHandledEvent(event)) {
      count('ignored');
      reply(res, 200, { ok: true, ignored: `event ${event} is not used` });
      return;
    }
    const parsed = HANDLED_EVENTS[event].safeParse(data);
    if (!parsed.success) throw new WebhookError(400, 'INVALID_DATA', `invalid data for ${event}`, issuesOf(parsed.error));
    const ignored = nothingToDo(event, parsed.data);
    if (ignored) {
      count('ignored');
      reply(res, 200, { ok: true, ignored });
      return;
    }

    try {
      await acceptWebhook({ tenantId: instance.tenantId, instanceId: instance.id, receivedAt: new Date(), event, data: parsed.data });
    } catch (err) {
      log.error({ err, event, instanceId: instance.id }, 'webhook could not be made durable');
      // Our failure: 503 so that Evolution delivers it again.
      throw new WebhookError(503, 'UNAVAILABLE', 'could not accept the event now; retry');
    }
    count('accepted');
    reply(res, 200, { ok: true });
  } catch (err) {
    // A body refused before it was read (an unknown secret, a wrong content type) is read and dropped
    // by Node once the answer is sent, so the connection stays usable.
    if (err instanceof WebhookError) {
      count(err.status >= 500 ? 'unavailable' : 'rejected');
      if (err.status >= 500) log.warn({ code: err.code }, 'webhook refused');
      else log.info({ code: err.code, status: err.status }, 'webhook rejected');
      reply(res, err.status, { error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } });
      return;
    }
    if (isDatabaseUnavailable(err)) {
      // The database is away (restarting): Evolution delivers the event again later.
      log.warn({ err: (err as Error).message }, 'webhook refused: the database is unavailable');
      count('unavailable');
      reply(res, 503, { error: { code: 'UNAVAILABLE', message: 'could not accept the event now; retry' } });
      return;
    }
    log.error({ err }, 'webhook handler failed');
    count('error');
    reply(res, 500, { error: { code: 'INTERNAL', message: 'internal error; retry' } });
  }
}
