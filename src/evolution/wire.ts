/**
 * Evolution API 2.3.x wire format, shared by our client and our simulator (docs: evolution-api.md,
 * compiled from the Evolution source). Only what we read or write is modelled.
 */

export type EvolutionMediaType = 'image' | 'video' | 'audio' | 'document';

export interface SendTextBody {
  number: string;
  text: string;
  delay?: number;
  linkPreview?: boolean;
}

export interface SendMediaBody {
  number: string;
  mediatype: EvolutionMediaType;
  mimetype?: string;
  caption?: string;
  media: string;
  fileName?: string;
  delay?: number;
}

export interface MessageKey {
  remoteJid: string;
  fromMe: boolean;
  id: string;
  participant?: string;
  remoteJidAlt?: string;
  addressingMode?: string;
}

/** `messageRaw`: the 201 body of /message/send* and the `data` of `send.message`. */
export interface MessageRaw {
  key: MessageKey;
  pushName?: string | null;
  status?: string;
  message?: Record<string, unknown>;
  contextInfo?: unknown;
  messageType?: string;
  messageTimestamp?: number | string;
  instanceId?: string;
  source?: string;
}

/** `{status, error, response: {message}}`, where message is a string or an array of anything. */
export interface EvolutionErrorBody {
  status: number;
  error: string;
  response: { message: unknown };
}

export interface OnWhatsAppResult {
  jid: string;
  exists: boolean;
  number: string;
  name?: string;
  lid?: string;
}

export interface ConnectionStateBody {
  instance: { instanceName: string; state?: 'open' | 'connecting' | 'close' };
}

export interface WebhookEnvelope<D = unknown> {
  event: string;
  instance: string;
  data: D;
  destination?: string;
  date_time?: string;
  sender?: string;
  server_url?: string;
  apikey?: string | null;
}

export interface MessagesUpdateData {
  keyId: string;
  remoteJid: string;
  fromMe: boolean;
  participant?: string;
  status: string;
  instanceId?: string;
  messageId?: string;
}

export interface ConnectionUpdateData {
  instance: string;
  state: 'open' | 'connecting' | 'close' | 'refused';
  statusReason?: number;
  wuid?: string;
  profileName?: string;
  profilePictureUrl?: string;
}

/** `messages.update` event name → "webhook by events" URL suffix: `MESSAGES_UPDATE` → `messages-update`. */
export function eventSuffix(event: string): string {
  return event.replace(/[.-]/g, '_').toLowerCase().replace(/_/g, '-');
}

export function errorBody(status: number, message: unknown): EvolutionErrorBody {
  const names: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    500: 'Internal Server Error',
  };
  return { status, error: names[status] ?? 'Error', response: { message } };
}

/** Digits of a phone or JID user part: `+55 (11) 9…` and `5511…@s.whatsapp.net` → `5511…`. */
export function jidUser(value: string): string {
  return value.split('@')[0]?.split(':')[0]?.replace(/\D/g, '') ?? '';
}
