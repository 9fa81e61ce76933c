import { describe, expect, it } from 'vitest';
import { applyReceipt, type ProviderStatus, parseProviderStatus, type ReceiptState } from '../../src/domain/receipts.js';

const sent = (): ReceiptState => ({ status: 'SENT', sentAt: new Date(0), deliveredAt: null, readAt: null, playedAt: null, failedAt: null });

function replay(statuses: ProviderStatus[]): ReceiptState {
  let state = sent();
  statuses.forEach((s, i) => {
    const change = applyReceipt(state, s, new Date(1000 * (i + 1)));
    if (change) state = { ...state, ...change.set, status: change.status, ...(change.status !== 'FAILED' ? { failedAt: null } : {}) };
  });
  return state;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('delivery receipts', () => {
  it('reads Evolution string statuses and Baileys numbers, and ignores statuses without delivery meaning', () => {
    expect(parseProviderStatus('DELIVERY_ACK')).toBe('DELIVERY_ACK');
    expect(parseProviderStatus('read')).toBe('READ');
    expect(parseProviderStatus(4)).toBe('READ');
    expect(parseProviderStatus(0)).toBe('ERROR');
    expect(parseProviderStatus('DELETED')).toBeNull();
    expect(parseProviderStatus(9)).toBeNull();
  });

  it('READ before DELIVERY_ACK sets both timestamps, and the later DELIVERY_ACK changes nothing', () => {
    const read = applyReceipt(sent(), 'READ', new Date(5));
    expect(read).toMatchObject({ status: 'READ', events: ['delivered', 'read'] });
    expect(read?.set.deliveredAt).toEqual(new Date(5));
    const state = { ...sent(), ...read?.set, status: 'READ' };
    expect(applyReceipt(state, 'DELIVERY_ACK', new Date(6))).toBeNull();
  });

  it('a duplicate changes nothing', () => {
    const state = replay(['DELIVERY_ACK']);
    expect(applyReceipt(state, 'DELIVERY_ACK', new Date(9))).toBeNull();
  });

  it('ERROR fails a sent message but never overrides a delivery', () => {
    expect(applyReceipt(sent(), 'ERROR', new Date(1))).toMatchObject({ status: 'FAILED', events: ['failed'] });
    expect(applyReceipt(replay(['DELIVERY_ACK']), 'ERROR', new Date(2))).toBeNull();
    expect(applyReceipt(replay(['READ']), 'ERROR', new Date(2))).toBeNull();
  });

  it('a receipt for a recipient with no send timestamp also records the send', () => {
    const none: ReceiptState = { status: 'UNKNOWN', sentAt: null, deliveredAt: null, readAt: null, playedAt: null, failedAt: null };
    expect(applyReceipt(none, 'DELIVERY_ACK', new Date(3))?.events).toEqual(['sent', 'delivered']);
  });

  it('ends in the same state whatever the order of SERVER_ACK, DELIVERY_ACK, READ and ERROR', () => {
    const all: ProviderStatus[] = ['SERVER_ACK', 'DELIVERY_ACK', 'READ', 'ERROR'];
    for (let mask = 1; mask < 16; mask++) {
      const subset = all.filter((_, i) => mask & (1 << i));
      const outcomes = new Set(permutations(subset).map((p) => replay(p).status));
      expect(outcomes.size, subset.join(',')).toBe(1);
      const [outcome] = outcomes;
      const expected = subset.includes('READ') ? 'READ' : subset.includes('DELIVERY_ACK') ? 'DELIVERED' : subset.includes('ERROR') ? 'FAILED' : 'SENT';
      expect(outcome, subset.join(',')).toBe(expected);
    }
  });
});
