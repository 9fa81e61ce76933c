import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/features/auth/api-keys.js';
import { config } from '../../src/infra/config/index.js';
import { prisma } from '../../src/infra/db/client.js';
import { REPORT_COLUMNS } from '../../src/features/exports/report.js';
import { reportToken } from '../../src/features/exports/token.js';
import { recordConversion } from '../../src/features/conversions/record.js';
import { graphql } from '../gql/index.js';
import { gqlOk } from '../helpers/graphql.js';
import { globalId } from '../helpers/ids.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { applyReceipt, applyReply, campaignWith, contactsFor, freeze, keyId, markSent, markUnsent, tenantWithInstances } from './fixtures.js';

const Export = graphql(`
  mutation ExportReport($id: ID!) {
    exportCampaignReport(campaignId: $id) {
      __typename
      ... on ExportCampaignReportSuccess { data { url expiresAt } }
      ... on NotFoundError { resource }
      ... on Error { message }
    }
  }
`);

const HOUR = 3_600_000;

describe('the campaign report (CSV)', () => {
  let stack: Stack;
  let t: Awaited<ReturnType<typeof tenantWithInstances>>;
  let campaignId: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    t = await tenantWithInstances('Report', 2);
    const contacts = await contactsFor(t.tenantId, 30);
    // A name a spreadsheet would run as a formula, and one with a comma and quotes.
    await prisma.contact.update({ where: { id: contacts[0]?.id }, data: { name: '=HYPERLINK("http://evil.example","x")' } });
    await prisma.contact.update({ where: { id: contacts[1]?.id }, data: { name: 'Silva, "Zé"' } });
    const startedAt = new Date(Date.now() - 30 * HOUR);
    const campaign = await campaignWith(t.tenantId, {
      startedAt,
      messages: [
        { text: 'Variação A', abVariant: 'A' },
        { text: 'Variação B', abVariant: 'B' },
      ],
      instanceIds: t.instances.map((i) => i.id),
      ab: { share: 0 },
    });
    campaignId = campaign.id;
    const frozen = await freeze(
      t.tenantId,
      campaign.id,
      contacts.map((c, i) => {
        const m = campaign.messages[i % 2] as (typeof campaign.messages)[number];
        return { contactId: c.id, phone: c.phone, messageId: m.id, abVariant: m.abVariant, status: 'QUEUED' as const };
      }),
    );
    const sends = frozen.slice(0, 20).map((r, i) => ({
      id: r.id,
      instanceId: (t.instances[i % 2] as { id: string }).id,
      sentAt: new Date(startedAt.getTime() + i * 60_000),
      durationMs: 100 + i,
      keyId: keyId(),
      phone: r.phone,
    }));
    await markSent(campaign.id, sends);
    await markUnsent(campaign.id, 'FAILED', frozen.slice(20, 24).map((r) => ({ id: r.id, instanceId: t.instances[0]?.id as string, at: new Date(), code: 'REJECTED', error: '-1 invalid number' })));
    await markUnsent(campaign.id, 'SKIPPED', frozen.slice(24, 26).map((r) => ({ id: r.id, instanceId: null, at: new Date(), error: 'campaign cancelled' })));
    for (const s of sends.slice(0, 15)) await applyReceipt(t.tenantId, s.instanceId, s.keyId, s.id.charCodeAt(0) % 2 ? 'READ' : 'DELIVERY_ACK', new Date(s.sentAt.getTime() + HOUR));
    for (const s of sends.slice(0, 3)) await applyReply(t.tenantId, s.instanceId, s.phone, 'Tenho interesse', new Date(s.sentAt.getTime() + 2 * HOUR));
    await recordConversion(t.tenantId, { recipientId: sends[1]?.id, value: 123.45, occurredAt: new Date(startedAt.getTime() + 3 * HOUR) }, 'test');
  });

  afterAll(async () => {
    await stack.close();
  });

  /** The report as the database has it: one expected row per recipient, keyed by recipient id. */
  async function expectedRows() {
    const rows = await prisma.$queryRaw<Array<Record<string, unknown>>>`
      SELECT r.id, r.contact_id, ct.name, r.phone, m.ab_variant AS variation, r.ab_variant, i.name AS instance, r.status::text AS status, r.attempts,
             r.queued_at, r.sending_at, r.sent_at, r.delivered_at, r.read_at, r.played_at, r.failed_at, r.skipped_at, r.replied_at, r.clicked_at,
             r.converted_at, r.send_duration_ms, r.error_code, r.error, r.conversion_value::text AS conversion_value
      FROM recipient r JOIN contact ct ON ct.id = r.contact_id LEFT JOIN campaign_message m ON m.id = r.message_id
      LEFT JOIN whatsapp_instance i ON i.id = r.instance_id
      WHERE r.campaign_id = ${campaignId}::uuid`;
    const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));
    const time = (v: unknown) => (v instanceof Date ? v.toISOString() : '');
    return new Map(
      rows.map((r) => [
        r.id as string,
        {
          recipient_id: r.id,
          contact_id: r.contact_id,
          contact_name: /^[=+\-@]/.test(text(r.name)) ? `'${text(r.name)}` : text(r.name),
          phone: r.phone,
          variation: text(r.variation),
          ab_variant: text(r.ab_variant),
          instance: text(r.instance),
          status: r.status,
          attempts: text(r.attempts),
          queued_at: time(r.queued_at),
          sending_at: time(r.sending_at),
          sent_at: time(r.sent_at),
          delivered_at: time(r.delivered_at),
          read_at: time(r.read_at),
          played_at: time(r.played_at),
          failed_at: time(r.failed_at),
          skipped_at: time(r.skipped_at),
          replied_at: time(r.replied_at),
          clicked_at: time(r.clicked_at),
          converted_at: time(r.converted_at),
          send_duration_ms: text(r.send_duration_ms),
          error_code: text(r.error_code),
          error: /^[=+\-@]/.test(text(r.error)) ? `'${text(r.error)}` : text(r.error),
          replied: r.replied_at ? 'true' : 'false',
          clicked: r.clicked_at ? 'true' : 'false',
          converted: r.converted_at ? 'true' : 'false',
          conversion_value: r.conversion_value,
        },
      ]),
    );
  }

  function parseCsv(body: string) {
    const [header, ...rows] = parse(body, { relax_column_count: false }) as string[][];
    return { header, rows: rows.map((cells) => Object.fromEntries((header as string[]).map((h, i) => [h, cells[i]]))) };
  }

  it('streams one correct row per recipient through a short-lived link, no other credential needed', async () => {
    const created = await gqlOk(stack.url, t.key, Export, { id: globalId('Campaign', campaignId) });
    if (created.exportCampaignReport.__typename !== 'ExportCampaignReportSuccess') throw new Error(JSON.stringify(created));
    const { url, expiresAt } = created.exportCampaignReport.data;
    expect(url.startsWith(`${config.publicUrl}/exports/campaigns/${campaignId}/report.csv?token=`)).toBe(true);
    const ttl = new Date(expiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain(`campaign-${campaignId}-report.csv`);
    const { header, rows } = parseCsv(await res.text());
    expect(header).toEqual([...REPORT_COLUMNS]);
    const expected = await expectedRows();
    expect(rows).toHaveLength(30);
    expect(new Map(rows.map((r) => [r.recipient_id as string, r]))).toEqual(expected);

    // The content really covers the states we built.
    const byStatus = rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status as string]: (acc[r.status as string] ?? 0) + 1 }), {});
    expect(byStatus).toMatchObject({ FAILED: 4, SKIPPED: 2, QUEUED: 4 });
    expect(rows.filter((r) => r.replied === 'true')).toHaveLength(3);
    expect(rows.find((r) => r.converted === 'true')?.conversion_value).toBe('123.45');
    expect(rows.some((r) => r.contact_name === `'=HYPERLINK("http://evil.example","x")`)).toBe(true);
    expect(rows.some((r) => r.contact_name === 'Silva, "Zé"')).toBe(true);
    expect(rows.some((r) => r.error === "'-1 invalid number")).toBe(true);
  });

  it('also serves the report with an API key, by UUID or GraphQL id', async () => {
    const viewer = await createApiKey(t.tenantId, 'reports', 'VIEWER');
    for (const id of [campaignId, encodeURIComponent(globalId('Campaign', campaignId))]) {
      const res = await fetch(`${stack.url}/exports/campaigns/${id}/report.csv`, { headers: { authorization: `Bearer ${viewer.key}` } });
      expect(res.status).toBe(200);
      expect(parseCsv(await res.text()).rows).toHaveLength(30);
    }
  });

  it('refuses missing, forged, expired or misused links, and answers another tenant like an unknown route', async () => {
    const path = `/exports/campaigns/${campaignId}/report.csv`;
    const expectStatus = async (url: string, status: number, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { headers });
      const body = await res.text();
      expect(res.status, `${url} ${body}`).toBe(status);
      return body;
    };
    await expectStatus(`${stack.url}${path}`, 401);
    await expectStatus(`${stack.url}${path}`, 401, { authorization: 'Bearer wcp_not_a_key' });
    const good = reportToken({ tenantId: t.tenantId, campaignId, expires: Math.floor(Date.now() / 1000) + 600 });
    const [payload, sig] = good.split('.') as [string, string];
    await expectStatus(`${stack.url}${path}?token=${payload}.${sig.slice(0, -2)}xx`, 401);
    await expectStatus(`${stack.url}${path}?token=${payload}`, 401);
    const expired = reportToken({ tenantId: t.tenantId, campaignId, expires: Math.floor(Date.now() / 1000) - 1 });
    expect(await expectStatus(`${stack.url}${path}?token=${expired}`, 401)).toContain('expired');

    // A valid link for one campaign does not open another.
    const second = await campaignWith(t.tenantId, { startedAt: new Date(), messages: [{ text: 'x' }], instanceIds: [] });
    await expectStatus(`${stack.url}/exports/campaigns/${second.id}/report.csv?token=${good}`, 401);

    // Another tenant: its key, or even a link signed for it, finds nothing.
    const other = await tenantWithInstances('Other', 1);
    const unknown = await expectStatus(`${stack.url}/exports/campaigns/00000000-0000-4000-8000-000000000000/report.csv`, 404, { authorization: `Bearer ${other.key}` });
    const foreign = await expectStatus(`${stack.url}${path}`, 404, { authorization: `Bearer ${other.key}` });
    expect(foreign).toBe(unknown.replace('00000000-0000-4000-8000-000000000000', campaignId));
    const signedForOther = reportToken({ tenantId: other.tenantId, campaignId, expires: Math.floor(Date.now() / 1000) + 600 });
    await expectStatus(`${stack.url}${path}?token=${signedForOther}`, 404);
    const mutation = await gqlOk(stack.url, other.key, Export, { id: globalId('Campaign', campaignId) });
    expect(mutation.exportCampaignReport).toMatchObject({ __typename: 'NotFoundError', resource: 'Campaign' });

    // An empty campaign has a header and no row.
    const empty = await fetch(`${stack.url}/exports/campaigns/${second.id}/report.csv`, { headers: { authorization: `Bearer ${t.key}` } });
    expect(await empty.text()).toBe(`${REPORT_COLUMNS.join(',')}\n`);
  });
});
