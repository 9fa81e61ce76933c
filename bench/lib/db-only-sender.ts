// A reference for bench:dispatch (a), in its own process: the database work of a send and nothing
// else. DBONLY_LOOPS loops (the product's DISPATCH_CONCURRENCY) each claim DBONLY_BATCH recipients of a
// RUNNING campaign with the product's own claim statement (src/features/dispatch/send.ts claimNext), then record
// them as accepted by Evolution with the product's own record path (src/features/recipients/record-sent.ts: key
// locks, recipients SENT, a message_sent log each, instance and campaign counters, the progress and log
// events published to Redis), with a made-up key id per send. No Evolution call, no BullMQ, no phone
// locks, no pacing, no rendering. Prints {"ready": true}, then, when the campaign has no QUEUED
// recipient left, {"done": n, "startedAt", "endedAt", "busyMs", "selfMs"} (busyMs: the machine's busy
// core-ms over that time, every process included; selfMs: this process's own CPU time).
import { randomBytes } from 'node:crypto';
import { prisma } from '../../src/infra/db/client.js';
import { type AcceptedSend, recordAcceptedSends } from '../../src/features/recipients/record-sent.js';
import { claimNext } from '../../src/features/recipients/claim.js';
import { logger } from '../../src/infra/lib/logger.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { machineBusyMs } from './measure.js';

const tenantId = process.env.DBONLY_TENANT as string;
const campaignId = process.env.DBONLY_CAMPAIGN as string;
const instanceIds = (process.env.DBONLY_INSTANCES ?? '').split(',').filter(Boolean);
const loops = Number(process.env.DBONLY_LOOPS);
const batch = Number(process.env.DBONLY_BATCH);
if (!tenantId || !campaignId || instanceIds.length === 0 || !(loops > 0) || !(batch > 0)) {
  throw new Error('DBONLY_TENANT, DBONLY_CAMPAIGN, DBONLY_INSTANCES, DBONLY_LOOPS and DBONLY_BATCH are required');
}

await prisma.$queryRaw`SELECT 1`;
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

let done = 0;
async function loop(i: number) {
  const instanceId = instanceIds[i % instanceIds.length] as string;
  for (let round = 0; ; round++) {
    const claimed = await claimNext(campaignId, instanceId, `dbonly-${i}-${round}`, null, 'UTC', batch);
    if (claimed.length === 0) return;
    const sends: AcceptedSend[] = claimed.map((c) => {
      const keyId = `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
      return {
        recipientId: c.id,
        contactId: c.contact_id,
        phone: c.phone,
        text: c.text,
        request: { endpoint: 'sendText', number: c.phone.slice(1), textLength: c.text.length },
        outcome: {
          kind: 'sent',
          httpStatus: 201,
          keyId,
          remoteJid: `${c.phone.slice(1)}@s.whatsapp.net`,
          response: { key: { id: keyId, remoteJid: `${c.phone.slice(1)}@s.whatsapp.net`, fromMe: true }, status: 'PENDING', messageType: 'conversation' } as never,
          durationMs: 1,
        },
      };
    });
    await recordAcceptedSends(tenantId, campaignId, instanceId, sends, logger);
    done += sends.length;
  }
}

const busyBefore = machineBusyMs();
const selfBefore = process.cpuUsage();
const startedAt = Date.now();
await Promise.all(Array.from({ length: loops }, (_, i) => loop(i)));
const endedAt = Date.now();
const busyAfter = machineBusyMs();
const self = process.cpuUsage(selfBefore);
const selfMs = (self.user + self.system) / 1000;
process.stdout.write(`${JSON.stringify({ done, startedAt, endedAt, busyMs: busyBefore !== null && busyAfter !== null ? busyAfter - busyBefore : null, selfMs })}\n`);

process.on('SIGTERM', () => {
  void (async () => {
    await closePubsub();
    await prisma.$disconnect();
  })().finally(() => process.exit(0));
});
