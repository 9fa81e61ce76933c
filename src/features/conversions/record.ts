import { markConverted } from '../recipients/engagement.js';
import { appendLog } from '../campaigns/logs.js';
import { bumpCampaign } from '../campaigns/progress.js';
import { prisma } from '../../infra/db/client.js';
import { inTransaction } from '../../infra/db/transaction.js';
import { normalizePhone } from '../../domain/phone.js';
import { ConflictError, type FieldIssue, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { clock } from '../../infra/lib/clock.js';
import { isUuid } from '../../infra/lib/uuid.js';

export interface ConversionInput {
  recipientId?: string | null;
  campaignId?: string | null;
  phone?: string | null;
  /** Money value (2 decimals); none for a conversion without a value. */
  value?: number | null;
  occurredAt?: Date | null;
  /** The integrator's id: recording the same id again changes nothing. */
  externalId?: string | null;
}

export interface RecordedConversion {
  id: string;
  recipientId: string;
  campaignId: string;
  contactId: string;
  value: number | null;
  occurredAt: Date;
  externalId: string | null;
  /** False when this external id was already recorded: nothing changed. */
  recorded: boolean;
}

const MAX_VALUE = 999_999_999_999.99;
/** Clocks differ: a conversion a little in the future is accepted as now-ish. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

interface Target {
  id: string;
  campaign_id: string;
  contact_id: string;
  instance_id: string | null;
  sent_at: Date | null;
}

function check(input: ConversionInput, path: string[]): { value: number | null; occurredAt: Date; externalId: string | null } {
  const issues: FieldIssue[] = [];
  const byRecipient = !!input.recipientId;
  const byPhone = !!input.campaignId || !!input.phone;
  if (byRecipient === byPhone) issues.push({ path, message: 'give either recipientId, or campaignId and phone' });
  if (byPhone && (!input.campaignId || !input.phone)) issues.push({ path: [...path, input.campaignId ? 'phone' : 'campaignId'], message: 'campaignId and phone go together' });
  if (input.recipientId && !isUuid(input.recipientId)) issues.push({ path: [...path, 'recipientId'], message: 'not a recipient id' });
  const value = input.value ?? null;
  if (value !== null && (!Number.isFinite(value) || value < 0 || value > MAX_VALUE)) {
    issues.push({ path: [...path, 'value'], message: `a value between 0 and ${MAX_VALUE}` });
  }
  const occurredAt = input.occurredAt ?? clock.now();
  if (occurredAt.getTime() > clock.ms() + FUTURE_TOLERANCE_MS) issues.push({ path: [...path, 'occurredAt'], message: 'is in the future' });
  const externalId = input.externalId?.trim() || null;
  if (externalId && externalId.length > 200) issues.push({ path: [...path, 'externalId'], message: 'at most 200 characters' });
  if (issues.length) throw new ValidationError(issues);
  return { value: value === null ? null : Math.round(value * 100) / 100, occurredAt, externalId };
}

async function findTarget(tenantId: string, input: ConversionInput, path: string[]): Promise<Target> {
  if (input.recipientId) {
    const [r] = await prisma.$queryRaw<Target[]>`
      SELECT id, campaign_id, contact_id, instance_id, sent_at FROM recipient
      WHERE id = ${input.recipientId}::uuid AND tenant_id = ${tenantId}::uuid`;
    if (!r) throw new NotFoundError('Recipient', input.recipientId);
    return r;
  }
  const campaignId = input.campaignId as string;
  const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { country: true } });
  const phone = normalizePhone(input.phone as string, tenant.country);
  if (!phone.ok) throw ValidationError.field([...path, 'phone'], phone.reason);
  const campaign = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: { id: true } });
  if (!campaign) throw new NotFoundError('Campaign', campaignId);
  const [r] = await prisma.$queryRaw<Target[]>`
    SELECT r.id, r.campaign_id, r.contact_id, r.instance_id, r.sent_at
    FROM contact ct JOIN recipient r ON r.contact_id = ct.id AND r.campaign_id = ${campaignId}::uuid
    WHERE ct.tenant_id = ${tenantId}::uuid AND ct.phone = ${phone.e164}`;
  if (!r) throw new NotFoundError('Recipient', `${phone.e164} in campaign ${campaignId}`);
  return r;
}

function toRecorded(row: { id: string; recipient_id: string; campaign_id: string; contact_id: string; value: string | null; occurred_at: Date; external_id: string | null }, recorded: boolean): RecordedConversion {
  return {
    id: row.id,
    recipientId: row.recipient_id,
    campaignId: row.campaign_id,
    contactId: row.contact_id,
    value: row.value === null ? null : Number(row.value),
    occurredAt: row.occurred_at,
    externalId: row.external_id,
    recorded,
  };
}

/**
 * Records a conversion for a campaign recipient: the conversion row, the recipient's first
 * conversion time and value, the campaign's converted counter (first conversion per recipient) and
 * conversion value, and a CONVERSION log entry, all in one transaction. With an external id it is
 * idempotent: the same id again returns the first record and changes nothing; the same id for
 * another recipient or value is a conflict.
 */
export async function recordConversion(tenantId: string, input: ConversionInput, actor: string, path: string[] = ['input']): Promise<RecordedConversion> {
  const { value, occurredAt, externalId } = check(input, path);
  const target = await findTarget(tenantId, input, path);
  if (!target.sent_at) {
    throw ValidationError.field([...path, input.recipientId ? 'recipientId' : 'phone'], 'the campaign message was never sent to this recipient, so no conversion can be attributed to it');
  }
  if (occurredAt < target.sent_at) {
    throw ValidationError.field([...path, 'occurredAt'], `is before the message was sent (${target.sent_at.toISOString()})`);
  }
  return inTransaction(async (tx, after) => {
    const [created] = await tx.$queryRaw<Array<Parameters<typeof toRecorded>[0]>>`
      INSERT INTO conversion (tenant_id, campaign_id, recipient_id, contact_id, value, occurred_at, external_id)
      VALUES (${tenantId}::uuid, ${target.campaign_id}::uuid, ${target.id}::uuid, ${target.contact_id}::uuid, ${value}::numeric, ${occurredAt}, ${externalId})
      ON CONFLICT (tenant_id, external_id) DO NOTHING
      RETURNING id, recipient_id, campaign_id, contact_id, value::text AS value, occurred_at, external_id`;
    if (!created) {
      const [existing] = await tx.$queryRaw<Array<Parameters<typeof toRecorded>[0]>>`
        SELECT id, recipient_id, campaign_id, contact_id, value::text AS value, occurred_at, external_id
        FROM conversion WHERE tenant_id = ${tenantId}::uuid AND external_id = ${externalId}`;
      if (!existing) throw new Error('conversion conflict without a row');
      const sameValue = (existing.value === null ? null : Number(existing.value)) === value;
      if (existing.recipient_id !== target.id || !sameValue) {
        throw new ConflictError(`conversion ${externalId} was already recorded with another recipient or value`, 'externalId');
      }
      return toRecorded(existing, false);
    }
    const first = await markConverted(tx, target.id, occurredAt, value);
    await appendLog(tx, after, {
      tenantId,
      campaignId: target.campaign_id,
      type: 'CONVERSION',
      message: value === null ? 'conversion recorded' : `conversion recorded (value ${value.toFixed(2)})`,
      details: { conversionId: created.id, value, occurredAt: occurredAt.toISOString(), externalId, first },
      instanceId: target.instance_id,
      contactId: target.contact_id,
      recipientId: target.id,
      actor,
    });
    await bumpCampaign(tx, after, target.campaign_id, { converted: first ? 1 : 0 }, [
      Prisma.sql`conversion_value = conversion_value + ${value ?? 0}::numeric`,
    ]);
    return toRecorded(created, true);
  });
}
