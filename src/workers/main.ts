// `npm run worker`: the BullMQ workers, with an ordered shutdown on SIGINT/SIGTERM.
import { config } from '../infra/config/index.js';
import { prisma } from '../infra/db/client.js';
import { logger } from '../infra/lib/logger.js';
import { keepRunningOnUnhandledRejections } from '../infra/lib/process-guards.js';
import { stopOnSignals } from '../infra/lib/shutdown.js';
import { closeQueues } from '../infra/queues/index.js';
import { closePubsub } from '../infra/realtime/pubsub.js';
import { startWorkers } from './runtime.js';

keepRunningOnUnhandledRejections(logger);
const runtime = await startWorkers();
logger.info({ queues: runtime.workers.map((w) => w.name) }, 'workers started');

stopOnSignals(logger, {
  name: 'workers',
  timeoutMs: config.shutdownTimeoutMs,
  async stop() {
    await runtime.close(); // stop taking jobs, finish the active ones
    await closeQueues();
    await closePubsub();
    await prisma.$disconnect();
  },
});
