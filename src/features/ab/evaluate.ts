import { releaseHoldOut } from '../recipients/audience.js';
import { variantFigures, type VariantFigures } from '../analytics/campaign.js';
import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { type AbDecision, type AbMetric, decideAbTest, rateOf, successesFor, type VariantSample } from '../../domain/ab-test.js';
import { ConflictError, InvalidTransitionError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/lib/logger.js';
import { requestCampaignPump } from '../../infra/queues/pump.js';

export interface AbSettings {
  id: string;
  tenantId: string;
  status: string;
  abEnabled: boolean;
  abTestShare: number;
  abMetric: AbMetric;
  abMinSample: number;
  abSignificance: number;
  abAutoWinner: boolean;
  abWinnerMessageId: string | null;
  abDecidedAt: Date | null;
}

/** The campaign columns an A/B decision reads. */
export const AB_SELECT = {
  id: true,
  tenantId: true,
  status: true,
  abEnabled: true,
  abTestShare: true,
  abMetric: true,
  abMinSample: true,
  abSignificance: true,
  abAutoWinner: true,
  abWinnerMessageId: true,
  abDecidedAt: true,
} as const;

export function samplesOf(metric: AbMetric, figures: readonly VariantFigures[]): VariantSample[] {
  return figures.map((f) => ({
    variant: f.variant,
    trials: f.delivered,
    successes: successesFor(metric, {
      readDelivered: f.read_delivered,
      repliedDelivered: f.replied_delivered,
      clickedDelivered: f.clicked_delivered,
      convertedDelivered: f.converted_delivered,
    }),
  }));
}

/** The test's current figures and what they decide (nothing is changed). */
export async function currentDecision(s: AbSettings): Promise<{ figures: VariantFigures[]; samples: VariantSample[]; decision: AbDecision }> {
  const figures = (await variantFigures(s.tenantId, [s.id])).get(s.id) ?? [];
  const samples = samplesOf(s.abMetric, figures);
  return { figures, samples, decision: decideAbTest(samples, { minSample: s.abMinSample, significance: s.abSignificance }) };
}

interface Release {
  variant: string;
  confidence: number | null;
  samples: VariantSample[];
  automatic: boolean;
  actor: string;
}

/**
 * Sends the winner to the hold-out: every PENDING recipient without a variation becomes QUEUED with
 * the winner's message in one UPDATE, the decision is stored and logged (AB_WINNER, with the figures
 * it was made on) and the campaign is pumped. The hold-out already counts in `remaining`, so no
 * counter changes. Runs once per campaign: a second caller finds the decision made.
 *
 * The campaign row is taken FOR KEY SHARE first, as a send's claim does: a pause or cancel waits for
 * the release (or the release sees its result), and counter updates of running sends never wait.
 */
async function release(tenantId: string, campaignId: string, r: Release): Promise<number> {
  return inTransaction(
    async (tx, after) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`ab:${campaignId}`}, 0))`;
      const [c] = await tx.$queryRaw<Array<{ status: string; ab_enabled: boolean; ab_decided_at: Date | null; ab_metric: AbMetric; ab_significance: number }>>`
        SELECT status::text, ab_enabled, ab_decided_at, ab_metric::text AS ab_metric, ab_significance
        FROM campaign WHERE id = ${campaignId}::uuid AND tenant_id = ${tenantId}::uuid FOR KEY SHARE`;
      if (!c) throw new NotFoundError('Campaign', campaignId);
      if (!c.ab_enabled) throw ValidationError.field(['campaignId'], 'the campaign has no A/B test');
      if (c.ab_decided_at) throw new ConflictError(`the A/B test was already decided on ${c.ab_decided_at.toISOString()}`, 'variant');
      if (c.status !== 'RUNNING' && c.status !== 'PAUSED') {
        throw new InvalidTransitionError('campaign', c.status, 'choose an A/B winner', ['RUNNING', 'PAUSED']);
      }
      const [winner] = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM campaign_message WHERE campaign_id = ${campaignId}::uuid AND ab_variant = ${r.variant}
        ORDER BY sort_order LIMIT 1`;
      if (!winner) throw ValidationError.field(['variant'], `the campaign has no variant ${r.variant}`);

      const released = await releaseHoldOut(tx, campaignId, winner.id);

      const figures = r.samples.map((s) => ({ variant: s.variant, delivered: s.trials, successes: s.successes, rate: rateOf(s) }));
      const confidence = r.confidence === null ? null : Math.round(r.confidence * 10000) / 10000;
      const progress = await bumpCampaign(tx, after, campaignId, {}, [
        Prisma.sql`ab_winner_message_id = ${winner.id}::uuid`,
        Prisma.sql`ab_decided_at = now()`,
      ]);
      await appendLog(tx, after, {
        tenantId,
        campaignId,
        type: 'AB_WINNER',
        message:
          `variant ${r.variant} ${r.automatic ? 'won' : 'was chosen'} on ${c.ab_metric}` +
          (confidence === null ? '' : ` at ${(confidence * 100).toFixed(1)}% confidence`) +
          `; sent to the remaining ${released} recipients`,
        details: {
          winner: r.variant,
          messageId: winner.id,
          metric: c.ab_metric,
          confidence,
          significance: c.ab_significance,
          automatic: r.automatic,
          released,
          variants: figures,
        },
        progress: progress ? { ...progress } : undefined,
        actor: r.actor,
      });
      if (c.status === 'RUNNING' && released > 0) after.defer(() => requestCampaignPump(tenantId, campaignId));
      return released;
    },
    { timeout: 120_000 },
  );
}

/**
 * Evaluates one campaign's A/B test and, when a variant won at the configured confidence with every
 * variant at the minimum sample, sends it to the hold-out. Returns what happened, for the job log.
 */
export async function evaluateCampaign(tenantId: string, campaignId: string): Promise<string> {
  const s = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: AB_SELECT });
  if (!s) return 'gone';
  if (!s.abEnabled || s.abTestShare <= 0 || !s.abAutoWinner || s.abDecidedAt) return 'nothing to decide';
  if (s.status !== 'RUNNING' && s.status !== 'PAUSED') return `not decided: campaign ${s.status}`;
  const { samples, decision } = await currentDecision(s);
  if (decision.status !== 'WINNER') return `no winner: ${decision.reason}`;
  try {
    const released = await release(tenantId, campaignId, { variant: decision.winner, confidence: decision.confidence, samples, automatic: true, actor: 'system' });
    return `winner ${decision.winner}: released ${released}`;
  } catch (err) {
    // Another evaluator decided first, or the campaign ended meanwhile: nothing left to do.
    if (err instanceof ConflictError || err instanceof InvalidTransitionError || err instanceof NotFoundError) return `not decided: ${err.message}`;
    throw err;
  }
}

/**
 * The periodic sweep: every running or paused campaign with a test share, an automatic winner and
 * no decision yet. Each campaign is evaluated in its own tenant.
 */
export async function evaluateAbTests(log?: Logger): Promise<string> {
  const open = await prisma.campaign.findMany({
    where: { abEnabled: true, abTestShare: { gt: 0 }, abAutoWinner: true, abDecidedAt: null, status: { in: ['RUNNING', 'PAUSED'] } },
    select: { id: true, tenantId: true },
  });
  let decided = 0;
  for (const c of open) {
    const result = await evaluateCampaign(c.tenantId, c.id);
    if (result.startsWith('winner')) {
      decided++;
      log?.info({ tenantId: c.tenantId, campaignId: c.id, result }, 'A/B test decided');
    }
  }
  return `evaluated ${open.length}, decided ${decided}`;
}

/**
 * An operator's choice of winner (for tests without an automatic winner, or whose variants are too
 * close to call): the hold-out receives `variant`. The figures at that moment are logged with it.
 */
export async function chooseAbWinner(tenantId: string, campaignId: string, variant: string, actor: string): Promise<number> {
  const s = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: AB_SELECT });
  if (!s) throw new NotFoundError('Campaign', campaignId);
  if (!s.abEnabled) throw ValidationError.field(['campaignId'], 'the campaign has no A/B test');
  const { samples, decision } = await currentDecision(s);
  const confidence = decision.status === 'WINNER' && decision.winner === variant ? decision.confidence : null;
  return release(tenantId, campaignId, { variant, confidence, samples, automatic: false, actor });
}

export interface DecisionRecord {
  winner: string;
  confidence: number | null;
  automatic: boolean;
  released: number;
  decidedAt: Date;
}

/** The logged decisions of decided tests (the figures each was made on are in the log's details). */
export async function decisionRecords(tenantId: string, ids: readonly string[]): Promise<Map<string, DecisionRecord>> {
  const rows = await prisma.$queryRaw<Array<{ campaign_id: string; details: Record<string, unknown> | null; created_at: Date }>>`
    SELECT DISTINCT ON (campaign_id) campaign_id, details, created_at FROM campaign_log
    WHERE campaign_id = ANY(${ids}::uuid[]) AND tenant_id = ${tenantId}::uuid AND type = 'AB_WINNER'
    ORDER BY campaign_id, created_at DESC, id DESC`;
  const out = new Map<string, DecisionRecord>();
  for (const row of rows) {
    const d = row.details ?? {};
    out.set(row.campaign_id, {
      winner: String(d.winner ?? ''),
      confidence: typeof d.confidence === 'number' ? d.confidence : null,
      automatic: d.automatic === true,
      released: typeof d.released === 'number' ? d.released : 0,
      decidedAt: row.created_at,
    });
  }
  return out;
}

/** Recipients held back for the winner (PENDING, no variation yet), per campaign. */
export async function holdOutCounts(tenantId: string, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<Array<{ campaign_id: string; n: number }>>`
    SELECT campaign_id, count(*)::int AS n FROM recipient
    WHERE campaign_id = ANY(${ids}::uuid[]) AND tenant_id = ${tenantId}::uuid AND status = 'PENDING' AND message_id IS NULL
    GROUP BY campaign_id`;
  return new Map(ids.map((id) => [id, rows.find((r) => r.campaign_id === id)?.n ?? 0]));
}
