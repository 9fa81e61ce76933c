import { percentDone, readProgress, recentSends } from '../../features/campaigns/progress.js';
import { findCampaign } from '../../features/campaigns/service.js';
import { prisma } from '../../infra/db/client.js';
import { PROGRESS_RATE_KEYS } from '../../domain/counters.js';
import { NotFoundError } from '../../domain/errors.js';
import type { CampaignStatus, LogSeverity } from '../../generated/prisma/client.js';
import { coalescedStream } from '../../infra/realtime/coalesced-stream.js';
import { campaignLogStream } from '../../infra/realtime/log-stream.js';
import { campaignProgressStream, type LiveProgress } from '../../infra/realtime/progress-stream.js';
import { channel } from '../../infra/realtime/pubsub.js';
import type { InstanceHealthEvent } from '../../infra/realtime/topics.js';
import { builder } from './builder.js';
import { CampaignRef, CampaignStatusEnum } from './campaign.js';
import { CountersRef, rateFields } from './counters.js';
import { CampaignLogRef, LogSeverityEnum, LogTypeEnum, severitiesFrom } from './log.js';
import { WhatsAppInstanceRef } from './sender.js';

// Live subscriptions (graphql-ws over Redis pub/sub). Each one authorises in `subscribe`, before
// any event (another tenant's id is simply not found), and starts with the current state.

export const ProgressRef = builder.objectRef<LiveProgress>('CampaignProgress').implement({
  description: 'A live snapshot of a campaign (coalesced: a few per second at most, the last state always delivered).',
  fields: (t) => ({
    campaignId: t.globalID({ resolve: (p) => ({ type: 'Campaign', id: p.campaignId }) }),
    status: t.field({ type: CampaignStatusEnum, resolve: (p) => p.status as CampaignStatus }),
    counters: t.field({ type: CountersRef, resolve: (p) => p }),
    percentDone: t.float({ resolve: (p) => percentDone(p) }),
    ...rateFields(t, PROGRESS_RATE_KEYS),
    sendsPerMinute: t.exposeFloat('sendsPerMinute', { description: 'Messages sent in the last minute.' }),
    expectedFinishAt: t.expose('expectedFinishAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the remaining recipients will have been sent at the current speed (the completion time once completed); null while not sending.',
    }),
    resumesAt: t.expose('resumesAt', { type: 'DateTime', nullable: true }),
    stalledSince: t.expose('stalledSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when the campaign has messages due and no worker process is alive to send them; null when not stalled.',
    }),
    waitingForReconnectSince: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'While every instance it can send through is disconnected from WhatsApp: since when it waits (RUNNING, its recipients stay queued and none fails; it sends again when a number reconnects); null otherwise.',
      resolve: (p) => (p.status === 'RUNNING' ? (p.reconnectWaitSince ?? null) : null),
    }),
    throttledUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'While one of its instances is deferred because WhatsApp or a gateway throttled its sends: until when (those sends wait and go later, none fails); null otherwise.',
      resolve: (p) => (p.throttledUntil && Date.parse(p.throttledUntil) > Date.parse(p.at) ? p.throttledUntil : null),
    }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    at: t.expose('at', { type: 'DateTime', description: 'When this snapshot was taken.' }),
  }),
});

builder.subscriptionFields((t) => ({
  campaignProgress: t.field({
    type: ProgressRef,
    description: "The campaign's progress: its current state at once, then every change (coalesced).",
    args: { campaignId: t.arg.globalID({ required: true, for: CampaignRef }) },
    subscribe: async (_root, { campaignId }, ctx) => {
      const tenantId = ctx.viewer.tenantId;
      await findCampaign(tenantId, campaignId.id);
      return campaignProgressStream(
        tenantId,
        campaignId.id,
        () => readProgress(prisma, tenantId, campaignId.id),
        () => recentSends(prisma, tenantId, campaignId.id),
      );
    },
    resolve: (event) => event,
  }),

  campaignLogs: t.field({
    type: CampaignLogRef,
    description: "The campaign's log: its last `last` entries at once (oldest first), then every new entry, at or above `minSeverity`.",
    args: {
      campaignId: t.arg.globalID({ required: true, for: CampaignRef }),
      minSeverity: t.arg({ type: LogSeverityEnum, defaultValue: 'INFO' }),
      types: t.arg({ type: [LogTypeEnum], description: 'Only these types (all when absent).' }),
      last: t.arg.int({ defaultValue: 20, description: 'How many recent entries to start with (0–200).' }),
    },
    subscribe: async (_root, args, ctx) => {
      const tenantId = ctx.viewer.tenantId;
      const campaignId = args.campaignId.id;
      await findCampaign(tenantId, campaignId);
      const severities = severitiesFrom((args.minSeverity ?? 'INFO') as LogSeverity);
      const types = args.types?.length ? args.types : null;
      const last = Math.min(200, Math.max(0, args.last ?? 20));
      const where = { tenantId, campaignId, severity: { in: severities }, ...(types ? { type: { in: types } } : {}) };
      return campaignLogStream({
        tenantId,
        campaignId,
        accept: (e) => (severities as string[]).includes(e.severity) && (!types || (types as string[]).includes(e.type)),
        readRecent: async () =>
          last === 0 ? [] : (await prisma.campaignLog.findMany({ where, orderBy: { id: 'desc' }, take: last })).reverse(),
        readByIds: (ids) => prisma.campaignLog.findMany({ where: { ...where, id: { in: ids } } }),
      });
    },
    resolve: (log) => log,
  }),

  instanceHealth: t.prismaField({
    type: WhatsAppInstanceRef,
    description: "A sender's health and connection: its current state at once, then after changes (coalesced).",
    args: { instanceId: t.arg.globalID({ required: true, for: WhatsAppInstanceRef }) },
    subscribe: async (_root, { instanceId }, ctx) => {
      const tenantId = ctx.viewer.tenantId;
      const exists = () => prisma.whatsAppInstance.findFirst({ where: { id: instanceId.id, tenantId }, select: { id: true } });
      if (!(await exists())) throw new NotFoundError('WhatsAppInstance', instanceId.id);
      return coalescedStream<InstanceHealthEvent, { id: string }>(
        channel('instance:health', tenantId, instanceId.id),
        exists,
        (e) => e.tenantId === tenantId && e.instanceId === instanceId.id,
      );
    },
    resolve: (query, event: { id: string }, _args, ctx) =>
      prisma.whatsAppInstance.findFirstOrThrow({ ...query, where: { id: event.id, tenantId: ctx.viewer.tenantId } }),
  }),

  instancesHealth: t.prismaField({
    type: [WhatsAppInstanceRef],
    description: "Every sender of the tenant: the current list at once, then again after any of them changes (coalesced).",
    subscribe: (_root, _args, ctx) => {
      const tenantId = ctx.viewer.tenantId;
      return coalescedStream<InstanceHealthEvent, { tenantId: string }>(
        channel('instance:health', tenantId, '*'),
        async () => ({ tenantId }),
        (e) => e.tenantId === tenantId,
      );
    },
    resolve: (query, _event: { tenantId: string }, _args, ctx) =>
      prisma.whatsAppInstance.findMany({ ...query, where: { tenantId: ctx.viewer.tenantId }, orderBy: { createdAt: 'asc' } }),
  }),
}));
