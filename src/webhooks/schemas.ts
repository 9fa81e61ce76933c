import { z } from 'zod';

/**
 * Evolution 2.3.x webhook payloads as we accept them (evolution-api.md §4–§8). Unknown fields are
 * allowed (Evolution adds some between versions); the fields we act on are checked.
 */
export const envelopeSchema = z.object({
  event: z.string().min(1),
  instance: z.string().min(1),
  data: z.unknown(),
  destination: z.string().optional(),
  date_time: z.string().optional(),
  sender: z.string().nullish(),
  server_url: z.string().optional(),
  apikey: z.string().nullish(),
});

const statusValue = z.union([z.string().min(1), z.number().int().min(0).max(5)]);

/** 2.x: `keyId`; 1.8: `id` and `owner`. */
export const messagesUpdateSchema = z
  .object({
    keyId: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    remoteJid: z.string().optional(),
    fromMe: z.boolean().optional(),
    participant: z.string().optional(),
    status: statusValue,
    instanceId: z.string().optional(),
    messageId: z.string().optional(),
  })
  .refine((d) => d.keyId !== undefined || d.id !== undefined, { message: 'keyId (or id, Evolution 1.8) is required', path: ['keyId'] });

export const messageKeySchema = z.object({
  remoteJid: z.string().min(1),
  fromMe: z.boolean(),
  id: z.string().min(1),
  participant: z.string().optional(),
  remoteJidAlt: z.string().optional(),
  addressingMode: z.string().optional(),
});

export const messageRawSchema = z.object({
  key: messageKeySchema,
  pushName: z.string().nullish(),
  status: z.string().optional(),
  message: z.record(z.string(), z.unknown()).nullish(),
  messageType: z.string().optional(),
  messageTimestamp: z.union([z.number(), z.string()]).optional(),
  instanceId: z.string().optional(),
  source: z.string().optional(),
  contextInfo: z.unknown().optional(),
});

export const connectionUpdateSchema = z.object({
  instance: z.string().optional(),
  state: z.enum(['open', 'connecting', 'close', 'refused']),
  statusReason: z.number().optional(),
  wuid: z.string().nullish(),
  profileName: z.string().nullish(),
  profilePictureUrl: z.string().nullish(),
});

export const qrcodeUpdatedSchema = z.object({
  qrcode: z.object({
    instance: z.string().optional(),
    pairingCode: z.string().nullish(),
    code: z.string().nullish(),
    base64: z.string().nullish(),
  }),
});

/** Events we act on, with the schema of their `data`. Every other event is acknowledged and ignored. */
export const HANDLED_EVENTS = {
  'messages.update': messagesUpdateSchema,
  'send.message': messageRawSchema,
  'messages.upsert': messageRawSchema,
  'connection.update': connectionUpdateSchema,
  'qrcode.updated': qrcodeUpdatedSchema,
} as const;

export type HandledEvent = keyof typeof HANDLED_EVENTS;

export function isHandledEvent(event: string): event is HandledEvent {
  return event in HANDLED_EVENTS;
}
