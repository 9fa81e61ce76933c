import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideSendOutcome } from '../../src/domain/send-outcome.js';
import { EvolutionClient, type SendOutcome } from '../../src/infra/evolution/client.js';

// The bodies a real Evolution 2.3.6 answered for a Baileys instance that is not connected
// (docs/evolution-api.md §12), served by a tiny HTTP server with the connectionState answer
// each case needs.
const BODIES = {
  neverConnected: { status: 500, error: 'Internal Server Error', response: { message: "Cannot read properties of undefined (reading 'onWhatsApp')" } },
  connectionClosed: { status: 500, error: 'Internal Server Error', response: { message: 'Connection Closed' } },
  notLoaded: { status: 500, error: 'Internal Server Error', response: { message: "Cannot read properties of undefined (reading 'textMessage')" } },
  sessionError: { status: 400, error: 'Bad Request', response: { message: ['SessionError: No sessions'] } },
  closed400: { status: 400, error: 'Bad Request', response: { message: ['Error: Connection Closed'] } },
  notConnected: { status: 400, error: 'Bad Request', response: { message: ['Error: instance not connected'] } },
  mediaFailed: { status: 500, error: 'Internal Server Error', response: { message: ['Error: Request failed with status code 404'] } },
} as const;

type Case = { send: keyof typeof BODIES | 'licence'; state: 'open' | 'close' | 'connecting' | 'missing' | 404 | 503 };

describe('the Evolution client tells a send refused because the number is not connected from other failures', () => {
  let server: Server;
  let url: string;
  const cases = new Map<string, Case>();
  const stateCalls: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const name = decodeURIComponent(req.url?.split('/').pop() ?? '');
      const c = cases.get(name);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      req.resume();
      req.on('end', () => {
        if (!c) return reply(404, { status: 404, error: 'Not Found', response: { message: [`The "${name}" instance does not exist`] } });
        if (req.url?.startsWith('/instance/connectionState/')) {
          stateCalls.push(name);
          if (c.state === 404) return reply(404, { status: 404, error: 'Not Found', response: { message: [`The "${name}" instance does not exist`] } });
          if (c.state === 503) return reply(503, { error: 'service not activated', code: 'LICENSE_REQUIRED' });
          return reply(200, { instance: c.state === 'missing' ? { instanceName: name } : { instanceName: name, state: c.state } });
        }
        if (c.send === 'licence') return reply(503, { error: 'service not activated', code: 'LICENSE_REQUIRED', message: 'activate' });
        const body = BODIES[c.send];
        return reply(body.status, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  async function send(name: string, c: Case): Promise<SendOutcome> {
    cases.set(name, c);
    const client = new EvolutionClient({ baseUrl: url, apiKey: 'k', timeoutMs: 5000 });
    return client.sendText(name, { number: '5511999990000', text: 'oi' });
  }

  it("answers 'disconnected' for the 500s of an instance never connected or whose connection closed, with the state Evolution reports", async () => {
    expect(await send('never', { send: 'neverConnected', state: 'close' })).toMatchObject({
      kind: 'disconnected',
      httpStatus: 500,
      state: 'close',
      message: "Cannot read properties of undefined (reading 'onWhatsApp')",
    });
    expect(await send('closed', { send: 'connectionClosed', state: 'connecting' })).toMatchObject({ kind: 'disconnected', httpStatus: 500, state: 'connecting', message: 'Connection Closed' });
    // connectionState could not be read: the body alone says it.
    expect(await send('closed-unknown', { send: 'connectionClosed', state: 404 })).toMatchObject({ kind: 'disconnected', state: null });
  });

  it("answers 'disconnected' for a 400 that names the connection, unless connectionState says open", async () => {
    expect(await send('closed400', { send: 'closed400', state: 'close' })).toMatchObject({ kind: 'disconnected', httpStatus: 400, state: 'close' });
    expect(await send('notconn', { send: 'notConnected', state: 'connecting' })).toMatchObject({ kind: 'disconnected', httpStatus: 400 });
    expect(await send('session-down', { send: 'sessionError', state: 'close' })).toMatchObject({ kind: 'disconnected', httpStatus: 400 });
    // Open: Baileys' SessionError is about the recipient's sessions, a refusal as before.
    expect(await send('session-open', { send: 'sessionError', state: 'open' })).toMatchObject({ kind: 'rejected', httpStatus: 400 });
  });

  it('asks connectionState for any other 5xx: not open means disconnected, open or unknown keeps it unavailable (retried)', async () => {
    expect(await send('notloaded-open', { send: 'notLoaded', state: 'open' })).toMatchObject({ kind: 'unavailable', httpStatus: 500 });
    expect(await send('notloaded-close', { send: 'notLoaded', state: 'close' })).toMatchObject({ kind: 'disconnected', httpStatus: 500, state: 'close' });
    // An instance in the database but not loaded has no state: not known to be down.
    expect(await send('notloaded-missing', { send: 'notLoaded', state: 'missing' })).toMatchObject({ kind: 'unavailable' });
    expect(await send('media-connecting', { send: 'mediaFailed', state: 'connecting' })).toMatchObject({ kind: 'disconnected', state: 'connecting' });
    expect(await send('licence', { send: 'licence', state: 503 })).toMatchObject({ kind: 'unavailable', httpStatus: 503 });
    expect(stateCalls).toEqual(expect.arrayContaining(['notloaded-open', 'notloaded-close', 'notloaded-missing', 'media-connecting', 'licence']));
  });

  it("decides 'disconnected': back to the queue, not a failure or a retry", () => {
    const d = decideSendOutcome(
      { kind: 'disconnected', httpStatus: 500, message: 'Connection Closed', state: 'close' },
      { attempts: 3, maxAttempts: 3, phone: '+5511999990000', instanceName: 'x', nowMs: 0 },
    );
    expect(d).toEqual({ kind: 'disconnected', reason: 'not connected (500, state close): Connection Closed', state: 'close' });
  });
});
