/** What a simulated WhatsApp makes of a message: its raw form (sent or received), and its receipts. */
import { jidUser, type MessageRaw } from '../../src/infra/evolution/wire.js';
import { randomKeyId } from './random.js';
import type { SimInstance, SimSend, SimulatorBehaviour } from './types.js';

/** A message from `from` (digits) to the instance, as `messages.upsert` carries it (by its `@lid` when `lid`). */
export function receivedMessageRaw(
  instance: SimInstance,
  from: string,
  text: string,
  opts: { lid?: boolean; quotedKeyId?: string },
  random: () => number,
): MessageRaw {
  const phoneJid = `${jidUser(from)}@s.whatsapp.net`;
  const lidJid = `${Math.floor(random() * 1e15)}@lid`;
  return {
    key: opts.lid
      ? { remoteJid: lidJid, fromMe: false, id: randomKeyId(random, '3A'), remoteJidAlt: phoneJid, addressingMode: 'lid' }
      : { remoteJid: phoneJid, fromMe: false, id: randomKeyId(random, '3A'), remoteJidAlt: lidJid, addressingMode: 'pn' },
    pushName: 'Contato',
    status: 'DELIVERY_ACK',
    message: { conversation: text, messageContextInfo: {} },
    contextInfo: opts.quotedKeyId ? { stanzaId: opts.quotedKeyId, participant: instance.wuid } : null,
    messageType: 'conversation',
    messageTimestamp: Math.floor(Date.now() / 1000),
    instanceId: instance.id,
    source: 'android',
  };
}

/** A message sent through `sendText` / `sendMedia`, as Evolution answers it and stores it. */
export function sentMessageRaw(
  instance: SimInstance,
  keyId: string,
  remoteJid: string,
  action: 'sendText' | 'sendMedia',
  body: Record<string, unknown>,
): MessageRaw {
  let message: Record<string, unknown>;
  let messageType: string;
  if (action === 'sendText') {
    message = { conversation: String(body.text) };
    messageType = 'conversation';
  } else {
    const type = String(body.mediatype);
    messageType = `${type}Message`;
    const fileName = (body.fileName as string | undefined) ?? (type === 'image' ? 'image.jpg' : type === 'video' ? 'video.mp4' : undefined);
    message = {
      [messageType]: {
        url: `https://mmg.whatsapp.net/sim/${keyId}.enc`,
        mimetype: type === 'image' ? 'image/jpeg' : (body.mimetype ?? 'application/octet-stream'),
        ...(type !== 'audio' && body.caption ? { caption: body.caption } : {}),
        ...(fileName ? { fileName } : {}),
        fileLength: '12345',
        mediaKeyTimestamp: String(Math.floor(Date.now() / 1000)),
      },
    };
  }
  return {
    key: { remoteJid, fromMe: true, id: keyId },
    pushName: 'Você',
    status: 'PENDING',
    message,
    contextInfo: null,
    messageType,
    messageTimestamp: Math.floor(Date.now() / 1000),
    instanceId: instance.id,
    source: 'web',
  };
}

/**
 * What becomes of a send: the statuses its receipts will report, its final status, and whether its
 * receipts arrive shuffled. Baileys: SERVER_ACK, then DELIVERY_ACK or ERROR, then READ unless it stays
 * unread. WHATSAPP-BUSINESS (Meta's words): SENT, DELIVERED, READ; a failure is a lone FAILED (as Meta
 * reports 131026 or 131047). `fail` forces the failure.
 */
export function planReceipts(
  behaviour: SimulatorBehaviour,
  random: () => number,
  failureRate: number,
  opts: { business?: boolean; fail?: boolean } = {},
): { statuses: string[]; final: SimSend['final']; reorder: boolean } {
  const failed = random() < failureRate || opts.fail === true;
  if (opts.business) {
    if (failed) return { statuses: ['FAILED'], final: 'FAILED', reorder: false };
    const statuses: string[] = ['SENT', 'DELIVERED'];
    if (random() >= behaviour.noReadRate) statuses.push('READ');
    return { statuses, final: statuses.at(-1) as SimSend['final'], reorder: random() < behaviour.reorderRate };
  }
  const statuses = ['SERVER_ACK'];
  let final: SimSend['final'];
  if (failed) {
    statuses.push('ERROR');
    final = 'ERROR';
  } else {
    statuses.push('DELIVERY_ACK');
    final = 'DELIVERY_ACK';
    if (random() >= behaviour.noReadRate) {
      statuses.push('READ');
      final = 'READ';
    }
  }
  return { statuses, final, reorder: random() < behaviour.reorderRate };
}
