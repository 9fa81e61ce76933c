/**
 * The WHATSAPP-BUSINESS dialect (Meta's Cloud API behind Evolution, `whatsapp.business.service.ts`) and
 * the EVOLUTION channel's (`evolution.channel.service.ts`): Meta's templates and error objects, wamid
 * ids, and the `messageRaw` each builds. docs/evolution-integrations.md says where each shape comes from.
 */
import type { MessageRaw, MetaErrorBody, MetaTemplate } from '../../src/infra/evolution/wire.js';
import { randomKeyId } from './random.js';
import type { SimInstance } from './types.js';

/** A sensible default set of templates for a business instance (pt_BR, and Meta's own sample). */
export const DEFAULT_TEMPLATES: MetaTemplate[] = [
  {
    name: 'pedido_confirmado',
    components: [
      { type: 'BODY', text: 'Olá {{1}}, seu pedido {{2}} foi confirmado e logo sai para entrega.', example: { body_text: [['Maria', '10452']] } },
      { type: 'FOOTER', text: 'Loja Simulada' },
    ],
    language: 'pt_BR',
    status: 'APPROVED',
    category: 'UTILITY',
    id: '1181450230112233',
  },
  {
    name: 'promo_semana',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Ofertas da semana' },
      { type: 'BODY', text: 'Oi {{1}}! Nesta semana tudo com até 30% de desconto.', example: { body_text: [['Maria']] } },
      { type: 'FOOTER', text: 'Responda SAIR para não receber mais' },
      { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Quero ver' }, { type: 'QUICK_REPLY', text: 'SAIR' }] },
    ],
    language: 'pt_BR',
    status: 'APPROVED',
    category: 'MARKETING',
    id: '1181450230114455',
  },
  {
    name: 'lembrete_consulta',
    components: [{ type: 'BODY', text: 'Olá {{1}}, lembramos da sua consulta em {{2}}.', example: { body_text: [['Maria', '12/03 às 10h']] } }],
    language: 'pt_BR',
    status: 'PENDING',
    category: 'UTILITY',
    id: '1181450230116677',
  },
  {
    name: 'oferta_relampago',
    components: [{ type: 'BODY', text: 'Só hoje: {{1}} pela metade do preço!', example: { body_text: [['Tênis']] } }],
    language: 'pt_BR',
    status: 'REJECTED',
    category: 'MARKETING',
    id: '1181450230118899',
  },
  {
    name: 'hello_world',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
      {
        type: 'BODY',
        text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
      },
      { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
    ],
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    id: '1181450230110011',
  },
];

const META_ERRORS: Record<number, { message: string; details: string }> = {
  131026: { message: 'Message undeliverable.', details: 'Message Undeliverable.' },
  131047: {
    message: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  132000: { message: 'Number of parameters does not match the expected number of params', details: 'Number of parameters does not match the expected number of params' },
  132001: { message: 'Template name does not exist in the translation', details: 'template name does not exist in the translation' },
  130429: { message: 'Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  131056: {
    message: '(Business Account, Consumer Account) pair rate limit hit',
    details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
  },
};

/** Meta's inner error object (what Evolution's `post()` returns and the send route answers with 201). */
export function metaError(code: number, random: () => number, details?: string): MetaErrorBody {
  const known = META_ERRORS[code];
  return {
    message: `(#${code}) ${known?.message ?? 'Error'}`,
    type: 'OAuthException',
    code,
    error_data: { messaging_product: 'whatsapp', details: details ?? known?.details ?? 'Error' },
    fbtrace_id: randomFbtrace(random),
  };
}

function randomFbtrace(random: () => number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';
  let s = 'A';
  while (s.length < 23) s += abc[Math.floor(random() * abc.length)];
  return s;
}

/**
 * A Cloud API message id: `wamid.` and base64 of Meta's protobuf-ish bytes (the recipient's digits,
 * length-prefixed, so a 13-digit number gives `wamid.HBgN…`, then 18 hex characters). `salt` keeps ids
 * unique across simulator runs with the same seed.
 */
export function wamid(random: () => number, digits: string, salt: string): string {
  const hex = randomKeyId(random, '').slice(0, 18);
  let mixed = '';
  for (let i = 0; i < hex.length; i++) mixed += (Number.parseInt(hex[i] as string, 16) ^ Number.parseInt(salt[i % salt.length] as string, 16)).toString(16).toUpperCase();
  const bytes = Buffer.concat([
    Buffer.from([0x1c, 0x18, digits.length]),
    Buffer.from(digits, 'ascii'),
    Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, 0x12]),
    Buffer.from(mixed, 'ascii'),
    Buffer.from([0x00]),
  ]);
  return `wamid.${bytes.toString('base64')}`;
}

/** `{{n}}` placeholders of a template text (distinct, as Meta counts them). */
function placeholders(text: string | undefined): number {
  return new Set([...(text ?? '').matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => m[1])).size;
}

function paramText(p: { type?: string; text?: string; [k: string]: unknown }): string {
  if (typeof p.text === 'string') return p.text;
  const fallback = (p[p.type ?? ''] as { fallback_value?: string } | undefined)?.fallback_value;
  return typeof fallback === 'string' ? fallback : '';
}

function fill(text: string, params: string[]): string {
  return text.replace(/\{\{\s*(\d+)\s*\}\}/g, (all, n) => params[Number(n) - 1] ?? all);
}

export type TemplateCheck =
  | { ok: true; template: MetaTemplate; parameters: string[]; renderedBody: string; renderedHeader: string | null }
  | { ok: false; code: number; details: string };

/**
 * What Meta makes of `{name, language, components}`: an unknown name or language → 132001; a template
 * that is not APPROVED → 132001 too (Meta only sends approved templates); a body or text-header whose
 * parameter count differs from its `{{n}}` count → 132000. Otherwise the rendered text.
 */
export function checkTemplate(templates: MetaTemplate[], name: string, language: string, components: unknown): TemplateCheck {
  const template = templates.find((t) => t.name === name && t.language === language);
  if (!template) return { ok: false, code: 132001, details: `template name (${name}) does not exist in ${language}` };
  if (template.status !== 'APPROVED') return { ok: false, code: 132001, details: `template name (${name}) does not exist in ${language}` };
  const sent = Array.isArray(components) ? (components as Array<{ type?: string; parameters?: Array<{ type?: string; text?: string }> }>) : [];
  const paramsOf = (type: string) => (sent.find((c) => String(c?.type).toLowerCase() === type)?.parameters ?? []).map(paramText);
  const body = (template.components ?? []).find((c) => c.type === 'BODY');
  const header = (template.components ?? []).find((c) => c.type === 'HEADER' && (c.format ?? 'TEXT') === 'TEXT');
  const bodyParams = paramsOf('body');
  const headerParams = paramsOf('header');
  const expectedBody = placeholders(body?.text);
  if (bodyParams.length !== expectedBody) {
    return { ok: false, code: 132000, details: `body: number of localizable_params (${bodyParams.length}) does not match the expected number of params (${expectedBody})` };
  }
  const expectedHeader = placeholders(header?.text);
  if (header && headerParams.length !== expectedHeader) {
    return { ok: false, code: 132000, details: `header: number of localizable_params (${headerParams.length}) does not match the expected number of params (${expectedHeader})` };
  }
  return {
    ok: true,
    template,
    parameters: bodyParams,
    renderedBody: fill(body?.text ?? '', bodyParams),
    renderedHeader: header?.text !== undefined ? fill(header.text, headerParams) : null,
  };
}

const MIME: Record<string, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  '3gp': 'video/3gpp',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  aac: 'audio/aac',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** `mime-types.lookup`: by the extension, false when unknown. */
function lookupMime(pathOrName: string): string | false {
  const ext = pathOrName.split(/[?#]/)[0]?.split('.').pop()?.toLowerCase() ?? '';
  return MIME[ext] ?? false;
}

/**
 * WHATSAPP-BUSINESS `messageRaw` (`sendMessageWithTyping`): `{key:{fromMe, id, remoteJid}, message,
 * messageType, messageTimestamp, instanceId, status:"PENDING", source:"unknown"}`, no pushName nor
 * contextInfo. Text → `{conversation}`; a template → `{conversation:"▶️name◀️"}`; media →
 * `{<type>Message: <prepareMedia>}` (the object Evolution built to send, `prepareMediaMessage`).
 */
export function businessSentRaw(
  instance: SimInstance,
  keyId: string,
  remoteJid: string,
  action: 'sendText' | 'sendMedia' | 'sendTemplate',
  body: Record<string, unknown>,
  random: () => number,
): MessageRaw {
  let message: Record<string, unknown>;
  let messageType = 'conversation';
  if (action === 'sendText') message = { conversation: String(body.text) };
  else if (action === 'sendTemplate') message = { conversation: `▶️${String(body.name)}◀️` };
  else {
    const type = String(body.mediatype);
    const media = String(body.media);
    const isUrl = /^https?:\/\//i.test(media);
    let fileName = body.fileName as string | undefined;
    if (!fileName && type === 'document') fileName = /.*\/(.+?)\./.exec(media)?.[1];
    if (!fileName && type === 'image') fileName = 'image.png';
    if (!fileName && type === 'video') fileName = 'video.mp4';
    messageType = `${type}Message`;
    message = {
      [messageType]: {
        ...(body.caption !== undefined ? { caption: body.caption } : {}),
        ...(fileName !== undefined ? { fileName } : {}),
        mediaType: type,
        media: isUrl ? media : media.slice(0, 64),
        gifPlayback: false,
        id: isUrl ? media : String(Math.floor(random() * 1e15)),
        type: isUrl ? 'link' : 'id',
        mimetype: isUrl ? lookupMime(media) : lookupMime(fileName ?? ''),
      },
    };
  }
  return {
    key: { fromMe: true, id: keyId, remoteJid },
    message,
    messageType,
    messageTimestamp: Math.floor(Date.now() / 1000),
    instanceId: instance.id,
    status: 'PENDING',
    source: 'unknown',
  };
}

/** WHATSAPP-BUSINESS `messages.upsert` of an incoming text (§12): no contextInfo, no remoteJidAlt, no status. */
export function businessReceivedRaw(instance: SimInstance, from: string, text: string, pushName: string, keyId: string): MessageRaw {
  return {
    key: { id: keyId, remoteJid: `${from}@s.whatsapp.net`, fromMe: false },
    pushName,
    message: { conversation: text },
    messageType: 'conversation',
    messageTimestamp: Math.floor(Date.now() / 1000),
    source: 'unknown',
    instanceId: instance.id,
  };
}

/**
 * EVOLUTION channel `messageRaw` (`EvolutionStartupService.sendMessageWithTyping`): a uuid key id,
 * `remoteJid` exactly the `number` given, no status; media carries only `mediaUrl` (its base64 is removed).
 */
export function evolutionChannelSentRaw(instance: SimInstance, keyId: string, action: 'sendText' | 'sendMedia', body: Record<string, unknown>): MessageRaw {
  const media = String(body.media ?? '');
  return {
    key: { fromMe: true, id: keyId, remoteJid: String(body.number) },
    message: action === 'sendText' ? { conversation: String(body.text) } : { mediaUrl: /^https?:\/\//i.test(media) ? media : null },
    messageType: action === 'sendText' ? 'conversation' : `${String(body.mediatype)}Message`,
    messageTimestamp: Math.floor(Date.now() / 1000),
    source: 'unknown',
    instanceId: instance.id,
  };
}
