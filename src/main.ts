// `npm start`: the API server (GraphQL over HTTP and WebSocket, webhooks, health).
import { config } from './config/index.js';
import { prisma } from './db/client.js';
import { logger } from './lib/logger.js';
import { keepRunningOnUnhandledRejections } from './lib/process-guards.js';
import { closeQueues } from './queues/index.js';
import { closePubsub } from './realtime/pubsub.js';
import { startStallWatch } from './campaigns/stalls.js';
import { createApp } from './server.js';

keepRunningOnUnhandledRejections(logger);
const app = createApp();
const url = await app.listen(config.port, config.host);
logger.info({ url: `${url}/graphql`, publicUrl: config.publicUrl }, 'API server listening');
// Campaigns with work due and no worker alive show it in their progress and logs.
const stopStallWatch = startStallWatch(logger.child({ component: 'stall-watch' }));

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping API server');
  const timer = setTimeout(() => {
    logger.error('shutdown timed out; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs + 2000);
  timer.unref();
  stopStallWatch();
  await app.close();
  await closeQueues();
  await closePubsub();
  await prisma.$disconnect();
  logger.info('API server stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
