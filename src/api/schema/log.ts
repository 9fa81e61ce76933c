import DataLoader from 'dataloader';
import { prisma } from '../../infra/db/client.js';
import { LogSeverity, LogType, type Prisma } from '../../generated/prisma/client.js';
import { builder } from './builder.js';
import { CampaignRef } from './campaign.js';
import type { Context } from './context.js';
import { WhatsAppInstanceRef } from './sender.js';
import { OrderDirectionEnum } from './shared.js';

export const LogTypeEnum = builder.enumType(LogType, { name: 'LogType' });
export const LogSeverityEnum = builder.enumType(LogSeverity, { name: 'LogSeverity' });

const SEVERITY_ORDER = [LogSeverity.INFO, LogSeverity.WARNING, LogSeverity.ERROR, LogSeverity.CRITICAL] as const;

/** The severities at or above `min`. */
export function severitiesFrom(min: LogSeverity): LogSeverity[] {
  return SEVERITY_ORDER.slice(SEVERITY_ORDER.indexOf(min));
}

// Instances named by the log entries of one request, loaded in one query (tenant-scoped).
const instanceLoaders = new WeakMap<Context, DataLoader<string, Prisma.WhatsAppInstanceGetPayload<object> | null>>();
function instanceLoader(ctx: Context) {
  let loader = instanceLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rows = await prisma.whatsAppInstance.findMany({ where: { id: { in: [...ids] }, tenantId: ctx.viewer.tenantId } });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    instanceLoaders.set(ctx, loader);
  }
  return loader;
}

export const CampaignLogRef = builder.prismaNode('CampaignLog', {
  id: { field: 'id' },
  // A malformed id matches nothing (ids are positive), like another tenant's id: node(id) answers null.
  findUnique: (id, ctx) => ({ id: /^\d{1,18}$/.test(id) ? BigInt(id) : -1n, tenantId: ctx.viewer.tenantId }),
  nullable: true,
  description: "An entry of a campaign's log. The log is append-only: no API changes or deletes an entry, and the database refuses it too.",
  fields: (t) => ({
    type: t.expose('type', { type: LogTypeEnum }),
    severity: t.expose('severity', { type: LogSeverityEnum }),
    message: t.exposeString('message'),
    details: t.expose('details', { type: 'JSON', nullable: true }),
    campaignId: t.globalID({ nullable: true, resolve: (l) => (l.campaignId ? { type: 'Campaign', id: l.campaignId } : null) }),
    instanceId: t.globalID({ nullable: true, resolve: (l) => (l.instanceId ? { type: 'WhatsAppInstance', id: l.instanceId } : null) }),
    instance: t.field({
      type: WhatsAppInstanceRef,
      nullable: true,
      description: 'The instance involved, if it still exists.',
      resolve: (l, _args, ctx) => (l.instanceId ? instanceLoader(ctx).load(l.instanceId) : null),
    }),
    contactId: t.globalID({ nullable: true, resolve: (l) => (l.contactId ? { type: 'Contact', id: l.contactId } : null) }),
    recipientId: t.exposeID('recipientId', { nullable: true, description: 'The recipient (one contact of this campaign) involved.' }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    request: t.expose('request', { type: 'JSON', nullable: true, description: 'Summary of the provider request (no secrets).' }),
    response: t.expose('response', { type: 'JSON', nullable: true, description: 'Summary of the provider response.' }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    progress: t.expose('progress', { type: 'JSON', nullable: true, description: "Snapshot of the campaign's progress at the time." }),
    health: t.expose('health', { type: 'JSON', nullable: true, description: "Snapshot of the instance's health at the time." }),
    actor: t.exposeString('actor', { nullable: true, description: 'Who did it: api-key:<id>, worker, webhook or system.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(CampaignRef, 'logs', (t) =>
  t.prismaConnection({
    type: CampaignLogRef,
    cursor: 'id',
    description: "The campaign's log, newest first unless `order` says otherwise, filtered by any of the arguments.",
    args: {
      types: t.arg({ type: [LogTypeEnum] }),
      severities: t.arg({ type: [LogSeverityEnum], description: 'Exactly these severities.' }),
      minSeverity: t.arg({ type: LogSeverityEnum, description: 'This severity and above.' }),
      instanceId: t.arg.globalID({ for: WhatsAppInstanceRef }),
      since: t.arg({ type: 'DateTime', description: 'Entries at or after this time.' }),
      until: t.arg({ type: 'DateTime', description: 'Entries before this time.' }),
      order: t.arg({ type: OrderDirectionEnum, defaultValue: 'DESC', description: 'By time: DESC is newest first.' }),
    },
    resolve: (query, campaign, args, ctx) => {
      const severities = [
        ...(args.severities?.length ? [args.severities] : []),
        ...(args.minSeverity ? [severitiesFrom(args.minSeverity)] : []),
      ].reduce<LogSeverity[] | null>((acc, list) => (acc ? acc.filter((s) => list.includes(s)) : list), null);
      const direction = args.order === 'ASC' ? 'asc' : 'desc';
      return prisma.campaignLog.findMany({
        ...query,
        where: {
          tenantId: ctx.viewer.tenantId,
          campaignId: campaign.id,
          ...(args.types?.length ? { type: { in: args.types } } : {}),
          ...(severities ? { severity: { in: severities } } : {}),
          ...(args.instanceId ? { instanceId: args.instanceId.id } : {}),
          ...(args.since || args.until ? { createdAt: { ...(args.since ? { gte: args.since } : {}), ...(args.until ? { lt: args.until } : {}) } } : {}),
        },
        orderBy: [{ createdAt: direction }, { id: direction }],
      });
    },
  }),
);
