import type { EvolutionMediaType, SendMediaBody, SendTemplateBody, SendTextBody, TemplateSendComponent } from './wire.js';

/** The requests a send makes to Evolution (campaign sends and follow-ups alike), and their log summary. */

function phoneDigits(e164: string) {
  return e164.replace(/\D/g, '');
}

/** What a send's request is built from: the recipient's phone and its message's media columns. */
export interface MediaColumns {
  phone: string;
  media_type: 'IMAGE' | 'VIDEO' | 'AUDIO' | 'DOCUMENT' | null;
  media_url: string | null;
  media_mimetype: string | null;
  media_file_name: string | null;
}

/**
 * The Evolution request for a send; `messageId` (2.4.0+) makes Evolution send under that key id, and
 * `typingDelayMs` > 0 becomes its `delay`: typing presence for that long before the message (the call
 * lasts as long).
 */
export type SendRequest =
  | { endpoint: 'sendText'; body: SendTextBody }
  | { endpoint: 'sendMedia'; body: SendMediaBody }
  | { endpoint: 'sendTemplate'; body: SendTemplateBody };

/** A Meta message template (WHATSAPP-BUSINESS instances), with the components rendered for the recipient. */
export function templateRequest(
  phone: string,
  template: { name: string; language: string; components: TemplateSendComponent[] },
  typingDelayMs = 0,
): SendRequest {
  return {
    endpoint: 'sendTemplate',
    body: {
      number: phoneDigits(phone),
      name: template.name,
      language: template.language,
      ...(template.components.length ? { components: template.components } : {}),
      ...(typingDelayMs > 0 ? { delay: typingDelayMs } : {}),
    },
  };
}

export function requestFor(claimed: MediaColumns, text: string, messageId: string | null = null, typingDelayMs = 0): SendRequest {
  const number = phoneDigits(claimed.phone);
  const id = { ...(typingDelayMs > 0 ? { delay: typingDelayMs } : {}), ...(messageId ? { messageId } : {}) };
  if (claimed.media_type && claimed.media_url) {
    return {
      endpoint: 'sendMedia',
      body: {
        number,
        mediatype: claimed.media_type.toLowerCase() as EvolutionMediaType,
        media: claimed.media_url,
        ...(claimed.media_mimetype ? { mimetype: claimed.media_mimetype } : {}),
        ...(claimed.media_file_name ? { fileName: claimed.media_file_name } : {}),
        ...(text && claimed.media_type !== 'AUDIO' ? { caption: text } : {}),
        ...id,
      },
    };
  }
  return { endpoint: 'sendText', body: { number, text, ...id } };
}

export function requestSummary(endpoint: string, body: SendTextBody | SendMediaBody | SendTemplateBody) {
  const typing = body.delay ? { typingDelayMs: body.delay } : {};
  if ('text' in body) return { endpoint, number: body.number, textLength: body.text.length, ...typing };
  if ('mediatype' in body) return { endpoint, number: body.number, mediatype: body.mediatype, media: body.media.slice(0, 200), fileName: body.fileName ?? null, ...typing };
  return { endpoint, number: body.number, template: body.name, language: body.language, parameters: body.components?.reduce((n, c) => n + c.parameters.length, 0) ?? 0, ...typing };
}
