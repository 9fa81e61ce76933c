// What a send's outcome means for its recipient, its instance and its campaign: pure, no I/O.
// src/features/dispatch/send.ts asks, src/features/recipients/outcomes.ts records the answer.

/** The outcome kinds of an Evolution send (src/infra/evolution/client.ts `SendOutcome`), as far as the decision needs them. */
export type OutcomeFacts =
  | { kind: 'sent' }
  | { kind: 'throttled'; httpStatus: number; message: string; retryAfterMs: number | null }
  | { kind: 'disconnected'; httpStatus: number; message: string; state: string | null }
  | {
      kind: 'not_on_whatsapp' | 'rejected' | 'unauthorized' | 'instance_not_found' | 'unavailable' | 'unknown';
      /** null: no HTTP answer at all (connection refused, reset, timed out). */
      httpStatus: number | null;
      /** What Evolution (or the connection) said. */
      message: string;
      /** Meta's error code, when Meta refused a WHATSAPP-BUSINESS send (Evolution answers 201 with it). */
      providerCode?: number;
    };

export interface SendFacts {
  /** Attempts made, this one included. */
  attempts: number;
  maxAttempts: number;
  phone: string;
  instanceName: string;
  nowMs: number;
}

/**
 * Meta's error codes that say the business number itself cannot send (account locked or restricted,
 * payment, certificate, policy block, business eligibility), as opposed to this message or recipient.
 */
const META_ACCOUNT_CODES = new Set([368, 131031, 131042, 131045, 131057, 133010, 190, 200, 10]);

/** Health points an instance loses for a send WhatsApp or Evolution refused. */
export const FAILED_SEND_HEALTH = -10;

export type SendDecision =
  /** Evolution accepted it: recorded SENT (with the others accepted together). */
  | { kind: 'sent' }
  /** Certainly not sent, and not to be tried again by itself. */
  | {
      kind: 'fail';
      code: 'NOT_ON_WHATSAPP' | 'UNAVAILABLE' | 'REJECTED';
      message: string;
      /** What the campaign log says. */
      logMessage: string;
      /** The contact is flagged and skipped from now on. */
      suppressContact: boolean;
      /** The instance is to blame: an error, health points lost, the campaign's consecutive errors up. */
      instanceError: boolean;
      /** What Evolution said, for the log. */
      response: string;
    }
  /** Certainly not sent; queued again after a backoff, using an attempt. */
  | { kind: 'retry'; code: 'UNAVAILABLE'; message: string; atMs: number; attempt: number }
  /** The instance cannot send at all (bad key, unknown instance): paused, the recipient back in the queue. */
  | { kind: 'pause-instance'; reason: string; response: string }
  /**
   * Refused for sending too fast (nothing sent): the instance is deferred (throttleWaitMs), the
   * recipient waits without using an attempt; no error, no health lost, the campaign's errors unchanged.
   */
  | { kind: 'throttle'; reason: string; retryAfterMs: number | null }
  /**
   * The number is not connected to WhatsApp (nothing sent): the recipient goes back to the queue as if
   * never claimed, the instance is paused until it connects again; no error, no health lost, the
   * campaign's errors unchanged. `state`: Evolution's connectionState when known.
   */
  | { kind: 'disconnected'; reason: string; state: string | null }
  /** Evolution did not answer: the recipient waits for the server without using an attempt. */
  | { kind: 'wait-for-server'; reason: string }
  /** May have left: never sent again blindly; resolved against Evolution's message store. */
  | { kind: 'unknown'; reason: string; /** No answer at all: the server, not this send (no instance error, no campaign error). */ transport: boolean };

/** Backoff before the next attempt of a send Evolution could not take: 2 s, 4 s, 8 s … up to 5 min. */
export function backoffMs(attempt: number) {
  return Math.min(300_000, 2000 * 2 ** Math.max(0, attempt - 1));
}

/**
 * How long an instance waits after its `streak`-th throttled send in a row (1 for the first since its
 * last success): 2 s, 4 s, 8 s … up to 10 min, or the gateway's Retry-After when that is longer
 * (up to an hour).
 */
export function throttleWaitMs(streak: number, retryAfterMs: number | null): number {
  const backoff = Math.min(600_000, 2000 * 2 ** Math.max(0, Math.min(30, streak - 1)));
  return Math.max(backoff, Math.min(3_600_000, retryAfterMs ?? 0));
}

export function decideSendOutcome(outcome: OutcomeFacts, f: SendFacts): SendDecision {
  switch (outcome.kind) {
    case 'sent':
      return { kind: 'sent' };
    case 'throttled':
      return { kind: 'throttle', reason: `throttled (${outcome.httpStatus}): ${outcome.message}`, retryAfterMs: outcome.retryAfterMs };
    case 'disconnected':
      return { kind: 'disconnected', reason: `not connected (${outcome.httpStatus}${outcome.state ? `, state ${outcome.state}` : ''}): ${outcome.message}`, state: outcome.state };
    case 'not_on_whatsapp':
      return {
        kind: 'fail',
        code: 'NOT_ON_WHATSAPP',
        message: outcome.message,
        logMessage: `${f.phone} is not on WhatsApp; the contact is flagged and will be skipped from now on`,
        suppressContact: true,
        instanceError: false,
        response: outcome.message,
      };
    case 'unauthorized':
      return { kind: 'pause-instance', reason: 'Evolution refused the API key (401): check the server key', response: outcome.message };
    case 'instance_not_found':
      return { kind: 'pause-instance', reason: `Evolution does not know instance "${f.instanceName}" (404)`, response: outcome.message };
    case 'unavailable': {
      // No answer at all (connection refused, DNS): the server is away, not this message.
      if (outcome.httpStatus === null) return { kind: 'wait-for-server', reason: outcome.message };
      if (f.attempts < f.maxAttempts) {
        return { kind: 'retry', code: 'UNAVAILABLE', message: outcome.message, atMs: f.nowMs + backoffMs(f.attempts), attempt: f.attempts };
      }
      const message = `gave up after ${f.attempts} attempts: ${outcome.message}`;
      return { kind: 'fail', code: 'UNAVAILABLE', message, logMessage: message, suppressContact: false, instanceError: true, response: outcome.message };
    }
    case 'rejected': {
      if (outcome.providerCode !== undefined) {
        // Meta judged this message or this recipient (undeliverable, template, window); only its
        // account-level refusals are the number's fault.
        const message = outcome.message;
        return { kind: 'fail', code: 'REJECTED', message, logMessage: message, suppressContact: false, instanceError: META_ACCOUNT_CODES.has(outcome.providerCode), response: outcome.message };
      }
      const message = `Evolution refused the message (${outcome.httpStatus}): ${outcome.message}`;
      return { kind: 'fail', code: 'REJECTED', message, logMessage: message, suppressContact: false, instanceError: true, response: outcome.message };
    }
    case 'unknown':
      return { kind: 'unknown', reason: outcome.message, transport: outcome.httpStatus === null };
  }
}
