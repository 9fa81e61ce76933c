// The product's BullMQ workers (every queue, as `npm run worker` runs them) in their own process for
// benchmarks; prints {"ready": true} once they take jobs, and stops in order on SIGTERM.
import { prisma } from '../../src/infra/db/client.js';
import { closeQueues } from '../../src/infra/queues/index.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { startWorkers } from '../../src/workers/runtime.js';

const runtime = await startWorkers();
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);

process.on('SIGTERM', () => {
  void (async () => {
    await runtime.close();
    await closeQueues();
    await closePubsub();
    await prisma.$disconnect();
  })().finally(() => process.exit(0));
});
