import { jidUser, type MessageRaw } from '../../src/infra/evolution/wire.js';
import { randomKeyId } from './random.js';
import type { SimInstance, SimulatorBehaviour } from './types.js';

/** A row of Evolution's Message table, as `/chat/findMessages` returns it. */
interface StoredMessage {
  id: string;
  instance: string;
  raw: MessageRaw;
  /** Statuses stored for it (MessageUpdate), in the order they happened. */
  updates: string[];
}

/**
 * Evolution's message store: sent and received messages and their status changes, kept across
 * `crash()` like its database, and searched as `/chat/findMessages` searches it.
 */
export class MessageStore {
  private readonly stored: StoredMessage[] = [];
  private readonly byKey = new Map<string, StoredMessage>();

  constructor(
    private readonly behaviour: SimulatorBehaviour,
    private readonly random: () => number,
  ) {}

  /** Stores a message (DATABASE_SAVE_DATA_NEW_MESSAGE). */
  add(instance: SimInstance, raw: MessageRaw) {
    if (!this.behaviour.storeMessages) return;
    const row: StoredMessage = { id: `cm${randomKeyId(this.random, '').toLowerCase().slice(0, 23)}`, instance: instance.name, raw, updates: [] };
    this.stored.push(row);
    this.byKey.set(raw.key.id, row);
  }

  /** Stores a status change of a stored message (DATABASE_SAVE_MESSAGE_UPDATE). */
  addUpdate(keyId: string, status: string) {
    if (!this.behaviour.storeMessageUpdates) return;
    this.byKey.get(keyId)?.updates.push(status);
  }

  /**
   * `POST /chat/findMessages/{instance}` as 2.3.6 runs it (`BaileysStartupService.fetchMessages`):
   * `where.key.id` / `remoteJid` match exactly, `fromMe` only when true, `messageTimestamp` only with
   * both `gte` and `lte` (dates, compared in seconds); newest first; `offset` is the page size (50).
   */
  find(instance: SimInstance, body: unknown) {
    const q = (body ?? {}) as { where?: { key?: { id?: string; remoteJid?: string; fromMe?: boolean }; messageTimestamp?: { gte?: unknown; lte?: unknown } }; page?: number; offset?: number };
    const key = q.where?.key ?? {};
    const ts = q.where?.messageTimestamp;
    const seconds = (v: unknown) => Math.floor(new Date(v as string | number).getTime() / 1000);
    const range = ts?.gte && ts?.lte ? { gte: seconds(ts.gte), lte: seconds(ts.lte) } : null;
    const matches = this.stored.filter((m) => {
      if (m.instance !== instance.name) return false;
      if (key.id && m.raw.key.id !== key.id) return false;
      if (key.fromMe && m.raw.key.fromMe !== true) return false;
      if (key.remoteJid && m.raw.key.remoteJid !== key.remoteJid) return false;
      const t = Number(m.raw.messageTimestamp);
      if (range && (t < range.gte || t > range.lte)) return false;
      return true;
    });
    matches.sort((a, b) => Number(b.raw.messageTimestamp) - Number(a.raw.messageTimestamp));
    const offset = Number.isInteger(q.offset) && (q.offset as number) > 0 ? (q.offset as number) : 50;
    const page = Number.isInteger(q.page) && (q.page as number) > 0 ? (q.page as number) : 1;
    const skip = offset * (page === 1 ? 0 : page - 1);
    const records = matches.slice(skip, skip + offset).map((m) => ({
      id: m.id,
      key: m.raw.key,
      pushName: m.raw.pushName || (m.raw.key.fromMe ? 'Você' : jidUser(m.raw.key.remoteJid)),
      messageType: m.raw.messageType,
      message: m.raw.message,
      messageTimestamp: m.raw.messageTimestamp,
      instanceId: instance.id,
      source: m.raw.source,
      contextInfo: m.raw.contextInfo ?? null,
      MessageUpdate: m.updates.map((status) => ({ status })),
    }));
    return { messages: { total: matches.length, pages: Math.ceil(matches.length / offset), currentPage: page, records } };
  }
}
