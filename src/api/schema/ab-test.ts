import { z } from 'zod';
import { AB_SELECT, type AbSettings, chooseAbWinner, type DecisionRecord, decisionRecords, holdOutCounts, samplesOf } from '../../features/ab/evaluate.js';
import { type VariantFigures, variantFigures } from '../../features/analytics/campaign.js';
import { prisma } from '../../infra/db/client.js';
import { type AbDecision, type AbMetric, decideAbTest, rateOf, type VariantSample } from '../../domain/ab-test.js';
import { ConflictError, ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { CampaignMessage } from '../../generated/prisma/client.js';
import { batched, withMessages } from './batching.js';
import { builder } from './builder.js';
import { AbMetricEnum, CampaignMessageRef, CampaignRef } from './campaign.js';
import type { Context } from './context.js';
import { FiguresRef } from './counters.js';

// A campaign's A/B test: figures per variant, the winner and its confidence (Campaign.abTestResult),
// and choosing the winner by hand.

export interface VariantResult extends VariantFigures {
  message: CampaignMessage | null;
  sample: VariantSample;
}

export const AbVariantRef = builder.objectRef<VariantResult>('AbVariantFigures').implement({
  description: 'One A/B variant over the recipients the test assigned to it (not the hold-out it may have won).',
  fields: (t) => ({
    variant: t.exposeString('variant'),
    message: t.field({ type: CampaignMessageRef, nullable: true, resolve: (r) => r.message }),
    figures: t.field({ type: FiguresRef, resolve: (r) => r }),
    sample: t.int({ description: "Delivered messages: the test's sample.", resolve: (r) => r.sample.trials }),
    successes: t.int({ description: "Delivered messages that reached the test's metric.", resolve: (r) => r.sample.successes }),
    metricRate: t.float({ description: 'successes / sample', resolve: (r) => Math.round(rateOf(r.sample) * 10000) / 10000 }),
  }),
});

export function loadVariants(ctx: Context, tenantId: string, campaignId: string) {
  return batched(ctx, 'variants', async (ids) => withMessages(tenantId, await variantFigures(tenantId, ids))).load(campaignId);
}

export function variantResults(metric: AbMetric, rows: Array<VariantFigures & { message: CampaignMessage | null }>): VariantResult[] {
  const samples = samplesOf(metric, rows);
  return rows.map((r, i) => ({ ...r, sample: samples[i] as VariantSample }));
}

// ───────────── A/B test result ─────────────

const AbTestStatusEnum = builder.enumType('AbTestStatus', {
  values: {
    NOT_ENABLED: { description: 'The campaign has no A/B test.' },
    COLLECTING: { description: 'Some variant has not reached the minimum sample yet.' },
    NO_SIGNIFICANT_WINNER: { description: 'Every variant has the sample, but no variant beats the others at the required confidence (yet).' },
    WINNER: { description: 'A variant wins at the required confidence. With a test share it is sent to the hold-out at the next evaluation (automatic winner).' },
    DECIDED: { description: 'The winner was chosen and sent to the hold-out.' },
  },
});

type AbSource = AbSettings;

interface AbResult {
  source: AbSource;
  status: 'NOT_ENABLED' | 'COLLECTING' | 'NO_SIGNIFICANT_WINNER' | 'WINNER' | 'DECIDED';
  reason: string | null;
  variants: VariantResult[];
  winner: VariantResult | null;
  confidence: number | null;
  decision: DecisionRecord | null;
  holdOut: number;
}

function statusOf(d: AbDecision): AbResult['status'] {
  if (d.status === 'WINNER') return 'WINNER';
  if (d.status === 'NOT_SIGNIFICANT') return 'NO_SIGNIFICANT_WINNER';
  return 'COLLECTING';
}

const AbTestResultRef = builder.objectRef<AbResult>('AbTestResult').implement({
  description: "The A/B test's figures per variant, the winner and its confidence, or why there is none yet.",
  fields: (t) => ({
    status: t.field({ type: AbTestStatusEnum, resolve: (r) => r.status }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why there is no winner yet, or how the winner won.' }),
    metric: t.field({ type: AbMetricEnum, resolve: (r) => r.source.abMetric }),
    minSample: t.int({ description: 'Delivered messages each variant needs.', resolve: (r) => r.source.abMinSample }),
    significance: t.float({ resolve: (r) => r.source.abSignificance }),
    testShare: t.float({ resolve: (r) => r.source.abTestShare }),
    variants: t.field({ type: [AbVariantRef], resolve: (r) => r.variants }),
    winner: t.field({ type: AbVariantRef, nullable: true, resolve: (r) => r.winner }),
    confidence: t.float({
      nullable: true,
      description: 'Confidence that the winner beats every other variant (two-proportion z-test); for a decided test, at the time of the decision.',
      resolve: (r) => r.confidence,
    }),
    decidedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.source.abDecidedAt }),
    automatic: t.boolean({ nullable: true, description: 'Whether the decision was automatic (false: an operator chose).', resolve: (r) => r.decision?.automatic ?? null }),
    released: t.int({ nullable: true, description: 'Hold-out recipients the winner was sent to.', resolve: (r) => r.decision?.released ?? null }),
    holdOut: t.exposeInt('holdOut', { description: 'Recipients still waiting for the winner.' }),
  }),
});

async function abResult(source: AbSource, ctx: Context): Promise<AbResult> {
  const empty = { source, variants: [], winner: null, confidence: null, decision: null, holdOut: 0 };
  if (!source.abEnabled) return { ...empty, status: 'NOT_ENABLED', reason: 'the campaign has no A/B test' };
  const [rows, holdOut, decision] = await Promise.all([
    loadVariants(ctx, source.tenantId, source.id),
    batched(ctx, 'hold-out', (ids) => holdOutCounts(source.tenantId, ids)).load(source.id),
    source.abDecidedAt ? batched(ctx, 'ab-decision', (ids) => decisionRecords(source.tenantId, ids)).load(source.id) : Promise.resolve(undefined),
  ]);
  const variants = variantResults(source.abMetric, rows).filter((v) => v.sample.trials > 0 || v.message !== null);
  if (source.abDecidedAt) {
    const winner = variants.find((v) => v.message_id === source.abWinnerMessageId) ?? variants.find((v) => v.variant === decision?.winner) ?? null;
    return {
      source,
      status: 'DECIDED',
      reason: decision ? `variant ${decision.winner} ${decision.automatic ? 'won' : 'was chosen by an operator'}` : null,
      variants,
      winner,
      confidence: decision?.confidence ?? null,
      decision: decision ?? null,
      holdOut,
    };
  }
  if (source.status === 'DRAFT' || source.status === 'SCHEDULED') {
    return { ...empty, variants, holdOut, status: 'COLLECTING', reason: 'the campaign has not started' };
  }
  const d = decideAbTest(
    variants.map((v) => v.sample),
    { minSample: source.abMinSample, significance: source.abSignificance },
  );
  const winner = d.status === 'WINNER' ? (variants.find((v) => v.variant === d.winner) ?? null) : null;
  return {
    source,
    status: statusOf(d),
    reason: d.reason,
    variants,
    winner,
    confidence: d.status === 'WINNER' || d.status === 'NOT_SIGNIFICANT' ? Math.round(d.confidence * 10000) / 10000 : null,
    decision: null,
    holdOut,
  };
}

builder.prismaObjectFields(CampaignRef, (t) => ({
  abTestResult: t.field({
    type: AbTestResultRef,
    select: AB_SELECT,
    resolve: (c, _args, ctx) => abResult({ ...c, abMetric: c.abMetric as AbMetric }, ctx),
  }),
}));

builder.mutationFields((t) => ({
  chooseAbWinner: t.field({
    type: CampaignRef,
    description: 'Sends `variant` to the A/B hold-out now (when the automatic winner is off, or no variant is significantly better).',
    authScopes: { operator: true },
    errors: { types: [ValidationError, ForbiddenError, NotFoundError, ConflictError, InvalidTransitionError] },
    args: {
      campaignId: t.arg.globalID({ required: true, for: CampaignRef }),
      variant: t.arg.string({ required: true, validate: z.string().regex(/^[A-Z]$/, 'a variant is one capital letter') }),
    },
    resolve: async (_root, { campaignId, variant }, ctx) => {
      await chooseAbWinner(ctx.viewer.tenantId, campaignId.id, variant, `api-key:${ctx.viewer.apiKeyId}`);
      return prisma.campaign.findUniqueOrThrow({ where: { id: campaignId.id } });
    },
  }),
}));
