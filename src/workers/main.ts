// `npm run worker`: the BullMQ workers, with an ordered shutdown on SIGINT/SIGTERM.
import { config } from '../infra/config/index.js';
import { prisma } from '../infra/db/client.js';
import { logger } from '../infra/lib/logger.js';
import { keepRunningOnUnhandledRejections } from '../infra/lib/process-guards.js';
import { stopOnSignals } from '../infra/lib/shutdown.js';
import { closeQueues } from '../infra/queues/index.js';
import { closePubsub } from '../infra/realtime/pubsub.js';
import { startWorkers } from './runtime.js';
import { startMetricsServer } from '../infra/metrics/http.js';
import { registry } from '../infra/metrics/registry.js';

keepRunningOnUnhandledRejections(logger);
// This process's sends, Evolution calls and webhooks applied, for Prometheus (WORKER_METRICS_PORT; 0: none).
// A port that cannot be taken stops the process, as the API server's PORT does, before it takes any job.
const metrics = config.workerMetricsPort > 0 ? await startMetricsServer({ registry, port: config.workerMetricsPort, host: config.host, token: config.metricsToken }) : null;
if (metrics) logger.info({ url: `${metrics.url}/metrics` }, 'worker metrics listening');
const runtime = await startWorkers();
logger.info({ queues: runtime.workers.map((w) => w.name) }, 'workers started');

stopOnSignals(logger, {
  name: 'workers',
  timeoutMs: config.shutdownTimeoutMs,
  async stop() {
    await runtime.close(); // stop taking jobs, finish the active ones
    await metrics?.close();
    await closeQueues();
    await closePubsub();
    await prisma.$disconnect();
  },
});
