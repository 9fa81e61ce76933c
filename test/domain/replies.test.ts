import { describe, expect, it } from 'vitest';
import { incomingSender, incomingText, isKeyword, messageTime, normalizeKeyword, phoneCandidates } from '../../src/domain/replies.js';

const KEYWORDS = ['SAIR', 'PARAR', 'STOP', 'CANCELAR'];

describe('incoming messages', () => {
  it('takes the phone from whichever of remoteJid and remoteJidAlt is a phone JID', () => {
    expect(incomingSender({ remoteJid: '5511988887777@s.whatsapp.net', fromMe: false, remoteJidAlt: '123456789012345@lid' })).toEqual({ kind: 'phone', digits: '5511988887777' });
    expect(incomingSender({ remoteJid: '123456789012345@lid', fromMe: false, remoteJidAlt: '5511988887777@s.whatsapp.net' })).toEqual({ kind: 'phone', digits: '5511988887777' });
    expect(incomingSender({ remoteJid: '5511988887777:12@s.whatsapp.net', fromMe: false })).toEqual({ kind: 'phone', digits: '5511988887777' });
  });

  it('does not treat groups, broadcasts, our own messages or LID-only keys as replies', () => {
    expect(incomingSender({ remoteJid: '120363025246125486@g.us', fromMe: false })).toMatchObject({ kind: 'ignored', reason: 'group message' });
    expect(incomingSender({ remoteJid: 'status@broadcast', fromMe: false })).toMatchObject({ kind: 'ignored' });
    expect(incomingSender({ remoteJid: '5511988887777@s.whatsapp.net', fromMe: true })).toMatchObject({ kind: 'ignored', reason: 'our own message' });
    expect(incomingSender({ remoteJid: '123456789012345@lid', fromMe: false })).toMatchObject({ kind: 'ignored' });
    expect(incomingSender({ remoteJid: '123456789012345@lid', fromMe: false, remoteJidAlt: null })).toMatchObject({ kind: 'ignored' });
  });

  it('tries both forms of a Brazilian mobile number, with and without the ninth digit', () => {
    expect(phoneCandidates('551188887777')).toEqual(['+551188887777', '+5511988887777']);
    expect(phoneCandidates('5511988887777')).toEqual(['+5511988887777', '+551188887777']);
    expect(phoneCandidates('551133334444')).toEqual(['+551133334444']); // a landline has no ninth digit
    expect(phoneCandidates('14155550100')).toEqual(['+14155550100']);
  });

  it('reads the text of conversations, extended texts, captions and button or list choices', () => {
    expect(incomingText({ conversation: 'Sim' })).toBe('Sim');
    expect(incomingText({ extendedTextMessage: { text: 'Com link https://x.y' } })).toBe('Com link https://x.y');
    expect(incomingText({ imageMessage: { caption: 'foto' } })).toBe('foto');
    expect(incomingText({ buttonsResponseMessage: { selectedDisplayText: 'Quero' } })).toBe('Quero');
    expect(incomingText({ listResponseMessage: { title: 'Opção 2' } })).toBe('Opção 2');
    expect(incomingText({ audioMessage: { seconds: 3 } })).toBeNull();
    expect(incomingText(null)).toBeNull();
  });

  it('opts out only when the whole message is a keyword, ignoring case, accents and punctuation', () => {
    for (const text of ['SAIR', 'sair', ' Sair! ', 'parar.', 'Stop', 'cancelár', '🛑 PARAR 🛑']) expect(isKeyword(text, KEYWORDS), text).toBe(true);
    for (const text of ['quero sair', 'não pare', 'sairei', '', 'STOP STOP', null]) expect(isKeyword(text, KEYWORDS), String(text)).toBe(false);
    expect(isKeyword('Descadastrar', ['descadastrar'])).toBe(true);
    expect(normalizeKeyword('  Não   quero ')).toBe('NAO QUERO');
  });

  it('reads message timestamps in seconds (number or string) and rejects nonsense', () => {
    expect(messageTime(1729512399)?.toISOString()).toBe('2024-10-21T12:06:39.000Z');
    expect(messageTime('1729512399')?.getTime()).toBe(1729512399000);
    expect(messageTime(1729512399000)?.getTime()).toBe(1729512399000);
    expect(messageTime({ low: 1, high: 0 })).toBeNull();
    expect(messageTime(-5)).toBeNull();
    expect(messageTime('soon')).toBeNull();
  });
});
