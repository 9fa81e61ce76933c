/**
 * Evolution API 2.3.x wire format, shared by our client and the simulator (tools/evolution-simulator);
 * docs/evolution-api.md, compiled from the Evolution source, describes it. Only what we read or write
 * is modelled. It imports nothing, so that the simulator, a tool, takes no product code with it.
 */

export type EvolutionMediaType = 'image' | 'video' | 'audio' | 'document';

export interface SendTextBody {
  number: string;
  text: string;
  delay?: number;
  linkPreview?: boolean;
  /** 2.4.0 and later: the WhatsApp key id to send under (2.3.x ignores it). */
  messageId?: string;
}

export interface SendMediaBody {
  number: string;
  mediatype: EvolutionMediaType;
  mimetype?: string;
  caption?: string;
  media: string;
  fileName?: string;
  delay?: number;
  /** 2.4.0 and later: the WhatsApp key id to send under (2.3.x ignores it). */
  messageId?: string;
}

/**
 * `POST /message/sendTemplate/{instance}` (2.3.6 `templateMessageSchema`, `SendTemplateDto`): a Meta
 * message template, sent by WHATSAPP-BUSINESS instances. Evolution forwards `{type: "template",
 * template: {name, language: {code: language}, components}}` to Meta's Graph API.
 */
export interface SendTemplateBody {
  number: string;
  name: string;
  /** Meta's language code, e.g. `pt_BR`. */
  language: string;
  /** Meta's send components: `[{type: "body", parameters: [{type: "text", text}]}, {type: "header", …}]`. */
  components?: TemplateSendComponent[];
  delay?: number;
  webhookUrl?: string;
}

export interface TemplateSendComponent {
  type: 'header' | 'body' | 'button';
  sub_type?: string;
  index?: string;
  parameters: Array<{ type: 'text'; text: string }>;
}

/**
 * One item of `GET /template/find/{instance}`: Meta's message_templates `data`, as Evolution returns it
 * (2.3.6 `TemplateService.find`).
 */
export interface MetaTemplate {
  id?: string;
  name: string;
  language: string;
  status: string;
  category?: string;
  components?: Array<{ type: string; format?: string; text?: string; buttons?: unknown[]; example?: unknown }>;
}

/**
 * What Evolution's WHATSAPP-BUSINESS integration answers (201!) when Meta refused a send: Meta's
 * error object as the body, without `key` (2.3.6 `BusinessStartupService.post` returns
 * `e.response.data.error`, and `sendMessageWithTyping` returns it).
 */
export interface MetaErrorBody {
  message: string;
  type?: string;
  code: number;
  error_subcode?: number;
  error_data?: { messaging_product?: string; details?: string };
  fbtrace_id?: string;
}

/** `GET /instance/fetchInstances[?instanceName=x]`: one stored instance (the fields we read). */
export interface FetchedInstance {
  id: string;
  name: string;
  connectionStatus?: string;
  ownerJid?: string | null;
  profileName?: string | null;
  integration?: string;
  number?: string | null;
  businessId?: string | null;
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

/**
 * `POST /chat/findMessages/{instance}` (2.3.6 `fetchMessages`): `key.id` and `key.remoteJid` match
 * exactly (a full JID), `key.fromMe` only filters when true, and `messageTimestamp` applies only with
 * both bounds (ISO dates or epoch milliseconds; stored in seconds). `offset` is the page size (50).
 */
export interface FindMessagesBody {
  where: {
    key?: { id?: string; remoteJid?: string; fromMe?: boolean };
    messageTimestamp?: { gte: string; lte: string };
  };
  page?: number;
  offset?: number;
}

/** One stored message; its status history is `MessageUpdate` (only with DATABASE_SAVE_MESSAGE_UPDATE). */
export interface StoredMessageRecord {
  id: string;
  key: MessageKey;
  pushName?: string | null;
  messageType?: string;
  message?: Record<string, unknown>;
  messageTimestamp?: number | string;
  instanceId?: string;
  source?: string;
  contextInfo?: unknown;
  MessageUpdate?: Array<{ status: string }>;
}

/** 200 answer of findMessages: newest first. */
export interface FindMessagesResponse {
  messages: { total: number; pages: number; currentPage: number; records: StoredMessageRecord[] };
}

/** `GET /`: the server's welcome, with its version. */
export interface ServerInfoBody {
  status?: number;
  message?: string;
  version?: string;
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

/** Whether version `v` (`2.4.0`, `2.4.0-rc2`) is at least `min`; pre-releases count as their release. */
export function versionAtLeast(v: string, min: string): boolean {
  const parts = (x: string) => x.split('-')[0]?.split('.').map((n) => Number(n) || 0) ?? [];
  const a = parts(v);
  const b = parts(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Evolution sends under a caller-chosen key id (`messageId`) from this version on (evolution-api.md §2). */
export const MESSAGE_ID_SINCE = '2.4.0';

/** `integration` of an Evolution instance (`/instance/create`, `fetchInstances`). */
export type EvolutionIntegration = 'WHATSAPP-BAILEYS' | 'WHATSAPP-BUSINESS' | 'EVOLUTION';

/** A send component as a caller may give it (read leniently by the simulator). */
export interface MetaTemplateSendComponent {
  type: string;
  sub_type?: string;
  index?: string | number;
  parameters?: Array<{ type: string; text?: string; [k: string]: unknown }>;
}

/** Whether a send's 201 body is Meta's error object rather than a `messageRaw` (it has a numeric `code` and no `key`). */
export function isMetaErrorBody(body: unknown): body is MetaErrorBody {
  if (!body || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  return typeof b.code === 'number' && !('key' in b);
}
