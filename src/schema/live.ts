import { percentDone, readProgress } from '../campaigns/progress.js';
import { findCampaign } from '../campaigns/service.js';
import { prisma } from '../db/client.js';
import type { CampaignStatus } from '../generated/prisma/client.js';
import { campaignProgressStream } from '../realtime/progress-stream.js';
import type { CampaignProgressEvent } from '../realtime/topics.js';
import { builder } from './builder.js';
import { CampaignRef, CampaignStatusEnum, CountersRef } from './campaign.js';

// Live subscriptions (graphql-ws over Redis pub/sub). Each one authorises in `subscribe`, before
// any event, and starts with the current state.

export const ProgressRef = builder.objectRef<CampaignProgressEvent>('CampaignProgress').implement({
  description: 'A live snapshot of a campaign (coalesced: a few per second at most, the last state always delivered).',
  fields: (t) => ({
    campaignId: t.globalID({ resolve: (p) => ({ type: 'Campaign', id: p.campaignId }) }),
    status: t.field({ type: CampaignStatusEnum, resolve: (p) => p.status as CampaignStatus }),
    counters: t.field({ type: CountersRef, resolve: (p) => p }),
    percentDone: t.float({ resolve: (p) => percentDone(p) }),
    resumesAt: t.expose('resumesAt', { type: 'DateTime', nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    at: t.expose('at', { type: 'DateTime', description: 'When this snapshot was taken.' }),
  }),
});

builder.subscriptionField('campaignProgress', (t) =>
  t.field({
    type: ProgressRef,
    description: "The campaign's progress: its current state at once, then every change.",
    args: { campaignId: t.arg.globalID({ required: true, for: CampaignRef }) },
    subscribe: async (_root, { campaignId }, ctx) => {
      // Authorised here, before any event: another tenant's campaign is simply not found.
      await findCampaign(ctx.viewer.tenantId, campaignId.id);
      return campaignProgressStream(ctx.viewer.tenantId, campaignId.id, () => readProgress(prisma, ctx.viewer.tenantId, campaignId.id));
    },
    resolve: (event) => event,
  }),
);
