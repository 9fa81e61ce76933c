import { prisma } from '../../infra/db/client.js';
import { PREDEFINED_SEGMENTS, parseStoredRules, rulesToJson, type SegmentRules } from '../../domain/segment-rules.js';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { isUuid } from '../../infra/lib/uuid.js';
import { reachableSql, rulesSql } from './sql.js';

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}

/** The predefined segments of a tenant; creates any that are missing (a no-op once they exist). */
export async function ensurePredefinedSegments(tenantId: string) {
  const json = JSON.stringify(PREDEFINED_SEGMENTS.map((s) => ({ key: s.key, name: s.name, description: s.description, rules: rulesToJson(s.rules) })));
  await prisma.$executeRaw`
    INSERT INTO segment (tenant_id, name, description, rules, system_key, updated_at)
    SELECT ${tenantId}::uuid, p.name, p.description, p.rules, p.key, now()
    FROM jsonb_to_recordset(${json}::jsonb) AS p(key text, name text, description text, rules jsonb)
    WHERE NOT EXISTS (SELECT 1 FROM segment s WHERE s.tenant_id = ${tenantId}::uuid AND s.system_key = p.key)
    ON CONFLICT (tenant_id, name) DO NOTHING`;
}

export async function createSegment(tenantId: string, input: { name: string; description?: string | null; rules: SegmentRules }) {
  try {
    return await prisma.segment.create({
      data: { tenantId, name: input.name, description: input.description ?? null, rules: rulesToJson(input.rules) as Prisma.InputJsonValue },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a segment named "${input.name}" exists`, 'name');
    throw err;
  }
}

async function editable(tenantId: string, id: string) {
  const segment = isUuid(id) ? await prisma.segment.findFirst({ where: { id, tenantId } }) : null;
  if (!segment) throw new NotFoundError('Segment', id);
  if (segment.systemKey) throw ValidationError.field(['id'], 'predefined segments cannot be changed or deleted; duplicate one instead');
  return segment;
}

export async function updateSegment(
  tenantId: string,
  id: string,
  input: { name?: string | null; description?: string | null; rules?: SegmentRules | null },
) {
  await editable(tenantId, id);
  try {
    return await prisma.segment.update({
      where: { id },
      data: {
        ...(input.name ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.rules ? { rules: rulesToJson(input.rules) as Prisma.InputJsonValue } : {}),
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a segment named "${input.name}" exists`, 'name');
    throw err;
  }
}

/** A segment used by a campaign that has not finished cannot be deleted (its audience would vanish). */
export async function deleteSegment(tenantId: string, id: string) {
  await editable(tenantId, id);
  const inUse = await prisma.campaign.count({
    where: { tenantId, audienceSegmentId: id, status: { in: ['DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED'] } },
  });
  if (inUse > 0) throw new ConflictError(`${inUse} campaign(s) not yet finished target this segment`, 'id');
  await prisma.segment.delete({ where: { id } });
  return id;
}

export interface SegmentPreview {
  count: number;
  sampleIds: string[];
}

/** How many reachable contacts match, and a sample of them (newest first). */
export async function previewRules(tenantId: string, rules: SegmentRules, sampleSize = 10): Promise<SegmentPreview> {
  const where = Prisma.sql`c.tenant_id = ${tenantId}::uuid AND ${reachableSql(tenantId)} AND (${rulesSql(rules)})`;
  const [count] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM contact c WHERE ${where}`;
  const sample = sampleSize > 0
    ? await prisma.$queryRaw<Array<{ id: string }>>`SELECT c.id FROM contact c WHERE ${where} ORDER BY c.created_at DESC, c.id LIMIT ${sampleSize}`
    : [];
  return { count: count?.n ?? 0, sampleIds: sample.map((s) => s.id) };
}

/** Live audience counts of several segments in one scan of the tenant's contacts. */
export async function countSegments(tenantId: string, segments: Array<{ id: string; rules: unknown }>): Promise<Map<string, number>> {
  if (segments.length === 0) return new Map();
  const now = new Date();
  const columns = segments.map((s, i) => Prisma.sql`count(*) FILTER (WHERE ${rulesSql(parseStoredRules(s.rules), now)})::int AS ${Prisma.raw(`c${i}`)}`);
  const [row] = await prisma.$queryRaw<Array<Record<string, number>>>`
    SELECT ${Prisma.join(columns, ', ')} FROM contact c WHERE c.tenant_id = ${tenantId}::uuid AND ${reachableSql(tenantId)}`;
  return new Map(segments.map((s, i) => [s.id, row?.[`c${i}`] ?? 0]));
}
