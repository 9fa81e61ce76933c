import { config } from '../../src/infra/config/index.js';
import { prisma } from '../../src/infra/db/client.js';
import { closeQueues } from '../../src/infra/queues/index.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { type App, createApp } from '../../src/api/server.js';
import { type EvolutionSimulator, type SimulatorOptions, startSimulator } from '../../tools/evolution-simulator/server.js';
import { startWorkers, type WorkerRuntime } from '../../src/workers/runtime.js';

export const SIM_API_KEY = 'test-sim-global-key';

export interface Stack {
  app: App;
  /** Base URL of the API server (http://127.0.0.1:PORT). */
  url: string;
  sim: EvolutionSimulator;
  workers: WorkerRuntime | null;
  close(): Promise<void>;
}

/**
 * The real parts of the product, in this test's process: the API server on its port, the BullMQ
 * workers, and the Evolution simulator on its own port. Only the simulator stands in for anything.
 */
export async function startStack(
  opts: { sim?: Partial<SimulatorOptions>; workers?: boolean; responseCacheTtlMs?: number; metricsToken?: string | null } = {},
): Promise<Stack> {
  const sim = await startSimulator({
    apiKey: SIM_API_KEY,
    seed: 7,
    ackDelayMs: 20,
    deliveryDelayMs: 40,
    readDelayMs: 60,
    webhookRetry: { attempts: 5, baseDelayMs: 200, maxDelayMs: 2000 },
    ...opts.sim,
  });
  const app = createApp({ responseCacheTtlMs: opts.responseCacheTtlMs, metricsToken: opts.metricsToken });
  const url = await app.listen(config.port, '127.0.0.1');
  await app.responseCache?.ready();
  const workers = opts.workers === false ? null : await startWorkers();
  return {
    app,
    url,
    sim,
    workers,
    async close() {
      await workers?.close();
      await app.close();
      await sim.close();
      await closeQueues();
      await closePubsub();
      await prisma.$disconnect();
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
