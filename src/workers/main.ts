// `npm run worker`: the BullMQ workers, with an ordered shutdown on SIGINT/SIGTERM.
import { config } from '../config/index.js';
import { prisma } from '../db/client.js';
import { logger } from '../lib/logger.js';
import { keepRunningOnUnhandledRejections } from '../lib/process-guards.js';
import { closeQueues } from '../queues/index.js';
import { closePubsub } from '../realtime/pubsub.js';
import { startWorkers } from './runtime.js';

keepRunningOnUnhandledRejections(logger);
const runtime = await startWorkers();
logger.info({ queues: runtime.workers.map((w) => w.name) }, 'workers started');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping workers');
  const timer = setTimeout(() => {
    logger.error('shutdown timed out; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timer.unref();
  await runtime.close(); // stop taking jobs, finish the active ones
  await closeQueues();
  await closePubsub();
  await prisma.$disconnect();
  logger.info('workers stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
