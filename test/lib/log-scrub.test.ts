import { describe, expect, it } from 'vitest';
import { maskPhone, scrubLogLine } from '../../src/infra/lib/logger.js';

describe('log scrubbing', () => {
  it('masks a phone number but its country and area digits and its last four', () => {
    expect(maskPhone('+5511999991234')).toBe('+55119****1234');
    expect(maskPhone('551199991234')).toBe('5511****1234');
    expect(maskPhone('+14155550123')).toBe('+141****0123');
  });

  it('masks whole numbers and JIDs in a serialized line, and leaves ids, UUIDs and epoch milliseconds alone', () => {
    const line = JSON.stringify({
      err: 'Evolution 400: {"exists":false,"jid":"5511999991234@s.whatsapp.net","number":"+5511999991234"}',
      jobId: 'repeat:watchdog:1796680308172',
      requestId: '3c45205f-c971-4508-9e67-123456789012',
      messageId: '3EB0C767D26A1B4B2A5E',
    });
    const out = scrubLogLine(line);
    expect(out).not.toContain('5511999991234');
    expect(out).toContain('55119****1234@s.whatsapp.net');
    expect(out).toContain('repeat:watchdog:1796680308172');
    expect(out).toContain('3c45205f-c971-4508-9e67-123456789012');
    expect(out).toContain('3EB0C767D26A1B4B2A5E');
  });

  it('cuts API keys, JWTs and webhook secrets out of a line', () => {
    const key = 'wcp_AbCdEfGhIjKl_0123456789abcdefghijABCDEFGHIJ-_0123456';
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    const out = scrubLogLine(`{"msg":"x ${key} ${jwt} http://h/webhooks/evolution/Zx81_aaBBccDDeeFFgg/messages-upsert"}`);
    expect(out).toContain('wcp_AbCdEfGhIjKl_[redacted]');
    expect(out).not.toContain('0123456789abcdefghij');
    expect(out).not.toContain(jwt);
    expect(out).toContain('/webhooks/evolution/[redacted]/messages-upsert');
  });
});
