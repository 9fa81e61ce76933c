import { z } from 'zod';

/**
 * Evolution 2.3.x webhook payloads as we accept them (evolution-api.md §4–§8). Unknown fields are
 * allowed (Evolution adds some between versions); the fields we act on are checked.
 */
export const envelopeSchema = z.object({
  event: z.string().min(1),
  instance: z.string().min(1),
  data: z.unknown(),
  destination: z.string().nullish(),
  date_time: z.string().nullish(),
  sender: z.string().nullish(),
  server_url: z.string().nullish(),
  apikey: z.string().nullish(),
});

const statusValue = z.union([z.string().min(1), z.number().int()]);

/** 2.x: `keyId`; 1.8: `id` (with `owner` and `datetime`). */
export const messagesUpdateSchema = z
  .object({
    keyId: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    remoteJid: z.string().nullish(),
    fromMe: z.boolean().nullish(),
    participant: z.string().nullish(),
    status: statusValue,
    instanceId: z.string().nullish(),
    messageId: z.string().nullish(),
    /** Why a send failed, when the integration forwards it (Meta's `errors[]`; Evolution 2.3.6 does not). */
    errors: z.unknown().optional(),
    error: z.unknown().optional(),
  })
  .refine((d) => d.keyId !== undefined || d.id !== undefined, { message: 'keyId (or id, Evolution 1.8) is required', path: ['keyId'] });

export const messageKeySchema = z.object({
  remoteJid: z.string().min(1),
  fromMe: z.boolean(),
  id: z.string().min(1),
  participant: z.string().nullish(),
  remoteJidAlt: z.string().nullish(),
  addressingMode: z.string().nullish(),
});

/** `messageRaw` (§2, §7). Only the key is acted on strictly; the rest varies between versions and is read leniently. */
export const messageRawSchema = z.object({
  key: messageKeySchema,
  pushName: z.string().nullish(),
  status: z.string().nullish(),
  message: z.record(z.string(), z.unknown()).nullish(),
  messageType: z.string().nullish(),
  messageTimestamp: z.unknown().optional(),
  instanceId: z.string().nullish(),
  source: z.string().nullish(),
  contextInfo: z.unknown().optional(),
});

export const connectionUpdateSchema = z.object({
  instance: z.string().nullish(),
  state: z.enum(['open', 'connecting', 'close', 'refused']),
  statusReason: z.number().nullish(),
  wuid: z.string().nullish(),
  profileName: z.string().nullish(),
  profilePictureUrl: z.string().nullish(),
});

/** A QR code to scan, or (when the attempts ran out) `{message, statusCode}` instead (§8). */
export const qrcodeUpdatedSchema = z
  .object({
    qrcode: z
      .object({
        instance: z.string().nullish(),
        pairingCode: z.string().nullish(),
        code: z.string().nullish(),
        base64: z.string().nullish(),
      })
      .optional(),
    message: z.string().nullish(),
    statusCode: z.number().nullish(),
  })
  .refine((d) => d.qrcode !== undefined || typeof d.message === 'string', { message: 'qrcode (or message) is required', path: ['qrcode'] });

/** Events we act on, with the schema of their `data`. Every other event is acknowledged and ignored. */
export const HANDLED_EVENTS = {
  'messages.update': messagesUpdateSchema,
  'send.message': messageRawSchema,
  'messages.upsert': messageRawSchema,
  'connection.update': connectionUpdateSchema,
  'qrcode.updated': qrcodeUpdatedSchema,
} as const;

export type HandledEvent = keyof typeof HANDLED_EVENTS;

/** A handled event with its parsed data: switching on `event` types `data`. */
export type HandledEventData = { [E in HandledEvent]: { event: E; data: z.infer<(typeof HANDLED_EVENTS)[E]> } }[HandledEvent];

/** Parses `data` with its event's schema; an error names what is wrong (the event can never be applied). */
export function parseEventData(event: string, data: unknown): { ok: true; value: HandledEventData } | { ok: false; error: string } {
  if (!isHandledEvent(event)) return { ok: false, error: `event ${event} is not handled` };
  const parsed = HANDLED_EVENTS[event].safeParse(data);
  if (!parsed.success) return { ok: false, error: `invalid data for ${event}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { ok: true, value: { event, data: parsed.data } as HandledEventData };
}

export function isHandledEvent(event: string): event is HandledEvent {
  return event in HANDLED_EVENTS;
}

/**
 * The dotted event name Evolution puts in the body (`messages.update`). The UPPER_SNAKE form used in
 * its configuration (`MESSAGES_UPDATE`) is accepted for the events we handle.
 */
export function canonicalEvent(event: string): string {
  if (/^[A-Z][A-Z0-9_]*$/.test(event)) {
    const dotted = event.toLowerCase().replace(/_/g, '.');
    if (isHandledEvent(dotted)) return dotted;
  }
  return event;
}
