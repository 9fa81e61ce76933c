import { encodeGlobalID } from '@pothos/plugin-relay';
import { campaignPlan } from '../../features/campaigns/plan.js';
import type { PlanResult } from '../../domain/plan.js';
import { NotFoundError } from '../../domain/errors.js';
import { builder } from './builder.js';
import { CampaignRef } from './campaign.js';

const PlanDayRef = builder.objectRef<PlanResult['perDay'][number]>('CampaignPlanDay').implement({
  description: 'Messages expected to go out on one calendar day of the tenant.',
  fields: (t) => ({
    date: t.exposeString('date', { description: 'yyyy-MM-dd in the tenant\'s time zone.' }),
    volume: t.exposeInt('volume'),
  }),
});

const PlanInstanceRef = builder.objectRef<PlanResult['instances'][number]>('CampaignPlanInstance').implement({
  description: 'A sender of the campaign as the plan sees it: whether it can send, and its limits today (warm-up and re-admission applied).',
  fields: (t) => ({
    instanceId: t.id({ description: 'Global id of the WhatsAppInstance.', resolve: (i) => encodeGlobalID('WhatsAppInstance', i.id) }),
    name: t.exposeString('name'),
    usable: t.exposeBoolean('usable'),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it cannot send.' }),
    healthScore: t.exposeFloat('healthScore'),
    perMinute: t.exposeInt('perMinute'),
    perHour: t.exposeInt('perHour'),
    perDay: t.exposeInt('perDay'),
  }),
});

const PlanServiceWindowRef = builder.objectRef<{ outside: number; template: string | null }>('PlanServiceWindow').implement({
  fields: (t) => ({
    outside: t.exposeInt('outside', { description: "Contacts who wrote to none of the campaign's WhatsApp Business numbers in the last 24 hours." }),
    template: t.exposeString('template', {
      nullable: true,
      description: 'The template variation they get instead of free text ("name (language)"); null: they are skipped (OUTSIDE_SERVICE_WINDOW).',
    }),
  }),
});

const PlanRef = builder.objectRef<PlanResult>('CampaignPlan').implement({
  description:
    'Before (or during) a campaign: whether its audience fits its instances\' limits, sending window and holidays, when it should finish and how much goes out each day.',
  fields: (t) => ({
    audience: t.exposeInt('audience', { description: 'Recipients to send: the audience it would freeze now, or what is left once started.' }),
    startsAt: t.expose('startsAt', { type: 'DateTime' }),
    expectedFinish: t.expose('expectedFinish', { type: 'DateTime', nullable: true, description: 'Null when it cannot finish within the planning horizon (60 days).' }),
    fits: t.exposeBoolean('fits', { description: 'It can send the whole audience within the horizon (and before its next occurrence, if recurring).' }),
    days: t.exposeInt('days', { description: 'Calendar days with sends.' }),
    perDay: t.field({ type: [PlanDayRef], resolve: (p) => p.perDay }),
    dailyCapacity: t.exposeInt('dailyCapacity', { description: 'What the usable instances can send on a full open day at today\'s limits.' }),
    instances: t.field({ type: [PlanInstanceRef], resolve: (p) => p.instances }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'When the campaign expires (safety.expireAfterMinutes); fits is false when it would expire before sending everyone.' }),
    frequencyCapped: t.exposeInt('frequencyCapped', {
      description: 'Recipients whose contact is at its frequency cap now: sent once it frees (after the dates above), or skipped (FREQUENCY_CAP) if that is after the expiry.',
    }),
    serviceWindow: t.field({
      type: PlanServiceWindowRef,
      nullable: true,
      description: "WhatsApp Business numbers send free text only within 24 hours of the contact's last message to them. Null when no free-text variation goes through such a number.",
      resolve: (p) => p.serviceWindow,
    }),
    warnings: t.exposeStringList('warnings'),
  }),
});

builder.queryField('campaignPlan', (t) =>
  t.field({
    type: PlanRef,
    description: "The campaign's pre-launch plan: audience against limits, window and holidays, expected finish, per-day volumes and warnings.",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: CampaignRef }) },
    resolve: (_root, { id }, ctx) => campaignPlan(ctx.viewer.tenantId, id.id),
  }),
);
