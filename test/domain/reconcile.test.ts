import { describe, expect, it } from 'vitest';
import { type Candidate, decide, type DecisionInput, pickMatch, storedText } from '../../src/domain/reconcile.js';

const base: DecisionInput = {
  lookup: { kind: 'NOT_FOUND' },
  control: 'FOUND',
  sinceSendMs: 120_000,
  settleMs: 65_000,
  maxMs: 1_800_000,
  earlierMisses: 1,
};

describe('deciding an unknown send outcome', () => {
  it('found in the store: sent, whatever else', () => {
    expect(decide({ ...base, lookup: { kind: 'FOUND', keyId: 'K', statuses: [] }, control: null, sinceSendMs: 1000, earlierMisses: 0 })).toBe('SENT');
  });

  it('missing twice from a store shown to work, after the grace time: not sent', () => {
    expect(decide(base)).toBe('NOT_SENT');
  });

  it('a first conclusive miss is looked at again, even past the deadline', () => {
    expect(decide({ ...base, earlierMisses: 0 })).toBe('WAIT');
    expect(decide({ ...base, earlierMisses: 0, sinceSendMs: 2_000_000 })).toBe('WAIT');
  });

  it('never not sent before the grace time: a request Evolution still holds may yet be processed', () => {
    expect(decide({ ...base, sinceSendMs: 30_000, earlierMisses: 5 })).toBe('WAIT');
  });

  it('a miss proves nothing when the store does not keep our messages, has no reference, or failed', () => {
    for (const control of ['MISSING', 'NO_REFERENCE', 'ERROR'] as const) {
      expect(decide({ ...base, control, earlierMisses: 3 })).toBe('WAIT');
      expect(decide({ ...base, control, earlierMisses: 3, sinceSendMs: 1_800_000 })).toBe('UNDECIDABLE');
    }
  });

  it('errors and ambiguity wait, then are undecidable at the deadline', () => {
    expect(decide({ ...base, lookup: { kind: 'ERROR', message: 'ECONNREFUSED' }, control: null })).toBe('WAIT');
    expect(decide({ ...base, lookup: { kind: 'AMBIGUOUS', candidates: 2 }, control: null, sinceSendMs: 1_800_001 })).toBe('UNDECIDABLE');
  });
});

const c = (keyId: string, timestamp: number, text: string | null, fromMe = true): Candidate => ({ keyId, fromMe, timestamp, text, statuses: [] });

describe('finding the send among the messages of its chat', () => {
  const window = { fromS: 1000, toS: 2000, taken: new Set<string>() };

  it('with a key id chosen before the call, only that key id counts', () => {
    const list = [c('A', 1500, 'Oi'), c('MINE', 1500, 'Oi')];
    expect(pickMatch(list, { ...window, requestKeyId: 'MINE', text: 'Oi' })).toMatchObject({ kind: 'FOUND', keyId: 'MINE' });
    expect(pickMatch([c('A', 1500, 'Oi')], { ...window, requestKeyId: 'MINE', text: 'Oi' })).toEqual({ kind: 'NOT_FOUND' });
  });

  it('with the text known: the one message of ours in the window with that text', () => {
    const list = [c('OTHER', 1500, 'Promo de ontem'), c('MINE', 1600, 'Oi Ana'), c('IN', 1700, 'Oi Ana', false), c('OLD', 900, 'Oi Ana')];
    expect(pickMatch(list, { ...window, requestKeyId: null, text: 'Oi Ana' })).toMatchObject({ kind: 'FOUND', keyId: 'MINE' });
    expect(pickMatch(list, { ...window, requestKeyId: null, text: 'Bom dia' })).toEqual({ kind: 'NOT_FOUND' });
    expect(pickMatch([c('X', 1500, 'Oi'), c('Y', 1501, 'Oi')], { ...window, requestKeyId: null, text: 'Oi' })).toEqual({ kind: 'AMBIGUOUS', candidates: 2 });
  });

  it('messages already attributed to another send are never this one', () => {
    const list = [c('TAKEN', 1500, 'Oi'), c('MINE', 1501, 'Oi')];
    expect(pickMatch(list, { ...window, taken: new Set(['TAKEN']), requestKeyId: null, text: 'Oi' })).toMatchObject({ kind: 'FOUND', keyId: 'MINE' });
  });

  it('without the text (the worker died first): the only message of ours in the window, else ambiguous', () => {
    expect(pickMatch([c('MINE', 1500, 'x')], { ...window, requestKeyId: null, text: null })).toMatchObject({ kind: 'FOUND', keyId: 'MINE' });
    expect(pickMatch([c('A', 1500, 'x'), c('B', 1600, 'y')], { ...window, requestKeyId: null, text: null })).toEqual({ kind: 'AMBIGUOUS', candidates: 2 });
    expect(pickMatch([], { ...window, requestKeyId: null, text: null })).toEqual({ kind: 'NOT_FOUND' });
  });

  it('reads the text of a stored text, an extended text and a caption; none for audio', () => {
    expect(storedText({ conversation: 'Oi' })).toBe('Oi');
    expect(storedText({ extendedTextMessage: { text: 'Oi link' } })).toBe('Oi link');
    expect(storedText({ imageMessage: { caption: 'foto', url: 'u' } })).toBe('foto');
    expect(storedText({ audioMessage: { url: 'u' } })).toBeNull();
    expect(storedText(undefined)).toBeNull();
  });
});
