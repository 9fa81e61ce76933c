/**
 * A stand-in Evolution API 2.3.x for development, demos, tests and benchmarks. It speaks Evolution's
 * wire format (routes, guards, bodies, error envelopes, webhook envelopes; see docs/evolution-api.md)
 * over real HTTP, and decides what happens to every message with a seeded PRNG.
 *
 * Everything outside Evolution's API lives under `/__simulator/`: the record of accepted sends and the
 * knobs (rates, delays, connection state, incoming messages, templates, the customer-service window).
 *
 * Each instance speaks its integration's dialect (docs/evolution-integrations.md): WHATSAPP-BAILEYS
 * (the default), WHATSAPP-BUSINESS (Meta's Cloud API behind Evolution: wamid ids, Meta's status
 * words, templates, Meta errors as 201 bodies, the 24-hour window) and EVOLUTION (the generic channel).
 *
 * Files: this one serves it over HTTP and plays a killed or hung server; core.ts is the simulated
 * Evolution (instances, sends, receipts); evolution-routes.ts and control-routes.ts the routes;
 * business.ts the business and EVOLUTION-channel shapes (templates, Meta errors, wamids);
 * webhooks.ts the webhook sender; message-store.ts the message store (`/chat/findMessages`);
 * lifecycle.ts the timers and holds a crash cuts short; messages.ts, random.ts, http.ts, types.ts helpers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody } from '../../src/infra/evolution/wire.js';
import { handleControl } from './control-routes.js';
import { SimulatorCore } from './core.js';
import { handleEvolution } from './evolution-routes.js';
import { HttpError, sendError, sendJson } from './http.js';
import type { SimulatorOptions } from './types.js';

export { DEFAULT_TEMPLATES } from './business.js';
export type {
  EvolutionIntegration,
  MetaTemplate,
  SimCall,
  SimDisconnectMode,
  SimInstance,
  SimInstanceOptions,
  SimSend,
  SimSendEndpoint,
  SimThrottled,
  SimulatorBehaviour,
  SimulatorOptions,
  SimWebhookConfig,
  WebhookStats,
} from './types.js';

export class EvolutionSimulator extends SimulatorCore {
  private server: Server | null = null;
  private listeningPort: number | null = null;

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('simulator is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.log(`unexpected error: ${(err as Error).stack}`);
        if (!res.headersSent) sendJson(res, 500, errorBody(500, String(err)));
      });
    });
    this.server.keepAliveTimeout = 15_000;
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.listeningPort ?? this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.listeningPort = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  /**
   * As if the process were killed: every connection is reset, answers not yet given are never given,
   * sends still before their store are never made, and webhooks not yet posted (or retried) are lost.
   * Stored messages stay (Evolution keeps them in its database). `restart()` listens again on the same port.
   */
  async crash(): Promise<void> {
    this.lifecycle.crash();
    this.stopAllReconnecting();
    const server = this.server;
    this.server = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
  }

  async restart(): Promise<string> {
    if (this.server) return this.url;
    return this.listen();
  }

  /** A hung server: connections are accepted and nothing is answered until `unhang()`; then the held requests run. */
  hang(): void {
    this.lifecycle.hang();
  }

  unhang(): void {
    this.lifecycle.unhang();
  }

  async close(): Promise<void> {
    this.lifecycle.close();
    this.stopAllReconnecting();
    await this.webhooks.settle();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
    await this.webhooks.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    // Parsed only where the query string is read: a WHATWG URL per send was a visible share of the
    // simulator's CPU in bench:dispatch.
    const url = () => new URL(raw, 'http://sim');
    const path = query < 0 ? raw : raw.slice(0, query);
    const method = req.method ?? 'GET';
    try {
      if (path.startsWith('/__simulator/')) return await handleControl(this, req, res, method, path, url);
      return await handleEvolution(this, req, res, method, path, url);
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err);
      throw err;
    }
  }
}

export async function startSimulator(options: SimulatorOptions): Promise<EvolutionSimulator> {
  const sim = new EvolutionSimulator(options);
  await sim.listen();
  return sim;
}
