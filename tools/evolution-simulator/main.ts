// `npm run evolution:sim`: the Evolution API simulator as its own process.
import { z } from 'zod';
import { loadOrExit, parseConfig } from '../../src/infra/config/env-source.js';
import { startSimulator } from './server.js';

const num = (d: number) => z.coerce.number().min(0).default(d);
const rate = (d: number) => z.coerce.number().min(0).max(1).default(d);

const schema = z.object({
  SIM_HOST: z.string().default('127.0.0.1'),
  SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Evolution's AUTHENTICATION_API_KEY (the global key). */
  SIM_API_KEY: z.string().min(8, 'at least 8 characters').default('sim-global-api-key'),
  SIM_SERVER_URL: z.url().optional(),
  SIM_SEED: z.coerce.number().int().default(1),
  SIM_LATENCY_MS: num(0),
  SIM_ACK_DELAY_MS: num(50),
  SIM_DELIVERY_DELAY_MS: num(150),
  SIM_READ_DELAY_MS: num(300),
  SIM_FAILURE_RATE: rate(0),
  SIM_NO_READ_RATE: rate(0.3),
  SIM_DUPLICATE_RATE: rate(0),
  SIM_REORDER_RATE: rate(0),
  SIM_LID_RATE: rate(0),
  /** Comma-separated numbers (digits) that answer 400 exists:false. */
  SIM_NOT_ON_WHATSAPP: z.string().default(''),
  /** Share of sends answered 500 without sending. */
  SIM_SERVER_ERROR_RATE: rate(0),
  /** Share of sends that are sent but answered only after SIM_HANG_MS (past the caller's timeout). */
  SIM_HANG_RATE: rate(0),
  SIM_HANG_MS: num(60_000),
  SIM_WEBHOOK_RETRY_BASE_MS: num(5000),
  SIM_WEBHOOK_RETRY_ATTEMPTS: z.coerce.number().int().min(1).default(10),
  /** The Evolution version it reports at GET / (2.4.0 and later send under a caller-chosen messageId). */
  /** WHATSAPP-BUSINESS: Meta's customer-service window (ms; default 24 h). */
  SIM_SERVICE_WINDOW_MS: num(24 * 60 * 60 * 1000),
  /** WHATSAPP-BUSINESS: share of receipts naming another recent recipient in remoteJid. */
  SIM_BUSINESS_WRONG_JID_RATE: rate(0),
  /** WHATSAPP-BAILEYS: a connecting connection.update this often while a lost connection is retried. */
  SIM_CONNECTING_INTERVAL_MS: num(500),
  SIM_VERSION: z.string().regex(/^\d+\.\d+\.\d+(-[\w.]+)?$/, 'a version such as 2.3.6').default('2.3.6'),
});

const c = loadOrExit(() => parseConfig(schema));
const sim = await startSimulator({
  host: c.SIM_HOST,
  port: c.SIM_PORT,
  apiKey: c.SIM_API_KEY,
  serverUrl: c.SIM_SERVER_URL,
  seed: c.SIM_SEED,
  latencyMs: c.SIM_LATENCY_MS,
  ackDelayMs: c.SIM_ACK_DELAY_MS,
  deliveryDelayMs: c.SIM_DELIVERY_DELAY_MS,
  readDelayMs: c.SIM_READ_DELAY_MS,
  failureRate: c.SIM_FAILURE_RATE,
  noReadRate: c.SIM_NO_READ_RATE,
  duplicateRate: c.SIM_DUPLICATE_RATE,
  reorderRate: c.SIM_REORDER_RATE,
  lidRate: c.SIM_LID_RATE,
  notOnWhatsapp: c.SIM_NOT_ON_WHATSAPP.split(',').map((s) => s.replace(/\D/g, '')).filter(Boolean),
  serverErrorRate: c.SIM_SERVER_ERROR_RATE,
  hangRate: c.SIM_HANG_RATE,
  hangMs: c.SIM_HANG_MS,
  version: c.SIM_VERSION,
  serviceWindowMs: c.SIM_SERVICE_WINDOW_MS,
  businessWrongJidRate: c.SIM_BUSINESS_WRONG_JID_RATE,
  connectingIntervalMs: c.SIM_CONNECTING_INTERVAL_MS,
  webhookRetry: { attempts: c.SIM_WEBHOOK_RETRY_ATTEMPTS, baseDelayMs: c.SIM_WEBHOOK_RETRY_BASE_MS, maxDelayMs: 300_000 },
  log: (line) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: line, service: 'evolution-sim' })}\n`),
});
process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: 'evolution simulator listening', url: sim.url, pid: process.pid, service: 'evolution-sim' })}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const line = (msg: string) => `${JSON.stringify({ time: new Date().toISOString(), msg, signal, pid: process.pid, service: 'evolution-sim' })}\n`;
    process.stdout.write(line('evolution simulator stopping'));
    void sim.close().then(() => process.stdout.write(line('evolution simulator stopped'), () => process.exit(0)));
  });
}
