// `npm start`: the API server (GraphQL over HTTP and WebSocket, webhooks, health).
import { config } from './infra/config/index.js';
import { prisma } from './infra/db/client.js';
import { logger } from './infra/lib/logger.js';
import { keepRunningOnUnhandledRejections } from './infra/lib/process-guards.js';
import { stopOnSignals } from './infra/lib/shutdown.js';
import { closeQueues } from './infra/queues/index.js';
import { closePubsub } from './infra/realtime/pubsub.js';
import { startStallWatch } from './features/campaigns/stalls.js';
import { createApp } from './api/server.js';

keepRunningOnUnhandledRejections(logger);
const app = createApp();
const url = await app.listen(config.port, config.host);
logger.info({ url: `${url}/graphql`, publicUrl: config.publicUrl }, 'API server listening');
// Campaigns with work due and no worker alive show it in their progress and logs.
const stopStallWatch = startStallWatch(logger.child({ component: 'stall-watch' }));

stopOnSignals(logger, {
  name: 'API server',
  // app.close() itself gives open requests SHUTDOWN_TIMEOUT_MS, then cuts them: a little more for the rest.
  timeoutMs: config.shutdownTimeoutMs + 2000,
  async stop() {
    stopStallWatch();
    await app.close();
    await closeQueues();
    await closePubsub();
    await prisma.$disconnect();
  },
});
