import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { authenticateApiKey } from '../../features/auth/api-keys.js';
import { bearerToken } from '../../features/auth/bearer-token.js';
import { prisma } from '../../infra/db/client.js';
import type { Logger } from '../../infra/lib/logger.js';
import { isUuid } from '../../infra/lib/uuid.js';
import { writeCampaignReport } from '../../features/exports/report.js';
import { verifyReportToken } from '../../features/exports/token.js';

/** A campaign's UUID from the path: the UUID itself or its GraphQL id. */
function campaignIdFrom(raw: string): string | null {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (isUuid(id)) return id.toLowerCase();
  try {
    const g = decodeGlobalID(id);
    return g.typename === 'Campaign' && isUuid(g.id) ? g.id.toLowerCase() : null;
  } catch {
    return null;
  }
}

function refuse(res: ServerResponse, status: number, code: string, message: string) {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
  res.end(body);
}

/**
 * GET /exports/campaigns/<campaign id>/report.csv — the campaign's report, streamed. Authorised by
 * the API key (Authorization: Bearer) or by the signed, short-lived `token` of a link from
 * exportCampaignReport. A campaign of another tenant, or none, gets the unknown-route 404.
 */
export async function handleCampaignExport(req: IncomingMessage, res: ServerResponse, rawId: string, notFound: () => void, log: Logger, access?: { tenantId?: string }): Promise<void> {
  if (req.method !== 'GET') return notFound();
  const campaignId = campaignIdFrom(rawId);
  if (!campaignId) return notFound();
  try {
    const token = new URL(req.url ?? '/', 'http://local').searchParams.get('token');
    let tenantId: string;
    if (token) {
      const check = verifyReportToken(token);
      if (!check.ok) {
        return refuse(res, 401, 'INVALID_LINK', check.reason === 'expired' ? 'this report link has expired: ask for a new one (exportCampaignReport)' : 'invalid report link');
      }
      if (check.grant.campaignId !== campaignId) return refuse(res, 401, 'INVALID_LINK', 'invalid report link');
      tenantId = check.grant.tenantId;
    } else {
      const auth = await authenticateApiKey(bearerToken(req.headers.authorization));
      if (!auth.ok) return refuse(res, 401, 'UNAUTHENTICATED', 'send "Authorization: Bearer <api key>" or use a report link');
      tenantId = auth.viewer.tenantId;
    }
    if (access) access.tenantId = tenantId;
    const campaign = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: { id: true } });
    if (!campaign) return notFound();

    res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="campaign-${campaignId}-report.csv"`,
      'cache-control': 'private, no-store',
    });
    const rows = await writeCampaignReport(tenantId, campaignId, res);
    log.info({ tenantId, campaignId, rows, via: token ? 'link' : 'api-key' }, 'campaign report exported');
  } catch (err) {
    log.error({ err, campaignId }, 'campaign report export failed');
    // Once the CSV has started, the status is sent: cutting the connection tells the client it is incomplete.
    if (!res.headersSent) refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'the report could not be produced');
    else res.destroy();
  }
}
