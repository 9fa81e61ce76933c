/**
 * A worker process for the multi-process test: the product's worker runtime, with only the webhook
 * queue. A full worker's maintenance watchdog pumps every RUNNING campaign in the database, and the
 * test database is shared with the other test files running at the same time.
 */
import { prisma } from '../../src/infra/db/client.js';
import { logger } from '../../src/infra/lib/logger.js';
import { closeQueues } from '../../src/infra/queues/index.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { startWorkers } from '../../src/workers/runtime.js';

const runtime = await startWorkers(['webhooks']);
logger.info({ queues: runtime.workers.map((w) => w.name) }, 'workers started');

async function shutdown() {
  await runtime.close();
  await closeQueues();
  await closePubsub();
  await prisma.$disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
