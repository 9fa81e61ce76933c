/**
 * Run as a separate process by the topic tests: makes one real change through the product's own
 * code (so it publishes exactly as a worker would) and exits. Argument: a JSON description.
 */
import { appendLog } from '../../src/features/campaigns/logs.js';
import { bumpCampaign } from '../../src/features/campaigns/progress.js';
import { prisma } from '../../src/infra/db/client.js';
import { inTransaction } from '../../src/infra/db/transaction.js';
import { closePubsub, publish } from '../../src/infra/realtime/pubsub.js';

type Order =
  | { topic: 'campaign:progress'; campaignId: string }
  | { topic: 'campaign:log'; tenantId: string; campaignId: string; message: string }
  | { topic: 'instance:health'; tenantId: string; instanceId: string; score: number }
  | { topic: 'import:progress'; tenantId: string; importId: string };

const order = JSON.parse(process.argv[2] ?? '{}') as Order;
switch (order.topic) {
  case 'campaign:progress':
    await inTransaction((tx, after) => bumpCampaign(tx, after, order.campaignId, { sent: 1, delivered: 1, remaining: -1 }));
    break;
  case 'campaign:log':
    await inTransaction((tx, after) =>
      appendLog(tx, after, { tenantId: order.tenantId, campaignId: order.campaignId, type: 'HEALTH_ISSUE', severity: 'ERROR', message: order.message, actor: 'other-process' }),
    );
    break;
  case 'instance:health':
    await inTransaction(async (tx, after) => {
      await tx.$executeRaw`UPDATE whatsapp_instance SET health_score = ${order.score} WHERE id = ${order.instanceId}::uuid`;
      after.publish('instance:health', { tenantId: order.tenantId, instanceId: order.instanceId });
    });
    break;
  case 'import:progress':
    await prisma.contactImport.update({ where: { id: order.importId }, data: { status: 'COMPLETED', processedRows: 3, totalRows: 3, finishedAt: new Date() } });
    await publish('import:progress', { tenantId: order.tenantId, importId: order.importId });
    break;
}
await closePubsub();
await prisma.$disconnect();
console.log(`published ${order.topic} from pid ${process.pid}`);
