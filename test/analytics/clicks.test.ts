import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../src/infra/config/index.js';
import { prisma } from '../../src/infra/db/client.js';
import { graphql } from '../gql/index.js';
import { addContacts, addSender, newTenant, phones } from '../helpers/factories.js';
import { gqlOk } from '../helpers/graphql.js';
import { uuidOf } from '../helpers/ids.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { BROWSER, click } from './fixtures.js';

const Create = graphql(`
  mutation ClicksCreate($input: CreateCampaignInput!) {
    createCampaign(input: $input) {
      __typename
      ... on CreateCampaignSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

const Start = graphql(`
  mutation ClicksStart($id: ID!) {
    startCampaign(id: $id) {
      __typename
      ... on StartCampaignSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

const Figures = graphql(`
  query ClicksFigures($id: ID!) {
    campaign(id: $id) {
      status
      counters { clicked }
      analytics { funnel { sent clicked } rates { clickRate } }
    }
  }
`);

const SHOP = 'https://loja.example.com/black-friday?utm_source=whatsapp';
const ABOUT = 'https://loja.example.com/sobre';

describe('tracked links and the /l/ route', () => {
  let stack: Stack;
  let key: string;
  let campaignId: string;
  let codes: Map<string, { shop: string; about: string }>;

  beforeAll(async () => {
    stack = await startStack({ sim: { noReadRate: 1 } });
    ({ key } = await newTenant('Clicks'));
    const sender = await addSender(stack, key);
    const numbers = phones(6, 31);
    await addContacts(stack, key, numbers.map((phone, i) => ({ phone, name: `Cliente ${i}` })));
    const created = await gqlOk(stack.url, key, Create, {
      input: {
        name: 'Tracked',
        messages: [{ text: `Oi {{primeiro_nome}}! Ofertas: ${SHOP}. Quem somos: ${ABOUT}`, trackLinks: true }],
        audience: { all: true },
        instanceIds: [sender.instanceId],
      },
    });
    if (created.createCampaign.__typename !== 'CreateCampaignSuccess') throw new Error(JSON.stringify(created));
    campaignId = created.createCampaign.data.id;
    expect((await gqlOk(stack.url, key, Start, { id: campaignId })).startCampaign.__typename).toBe('StartCampaignSuccess');
    await waitFor(async () => (await gqlOk(stack.url, key, Figures, { id: campaignId })).campaign?.status === 'COMPLETED', 60_000);

    // What the simulator received: each recipient got its own short links instead of the URLs.
    const sends = stack.sim.sends.filter((s) => s.instance === sender.name);
    expect(sends).toHaveLength(6);
    codes = new Map();
    const pattern = new RegExp(`^Oi Cliente! Ofertas: ${config.publicUrl}/l/([A-Za-z0-9]{12})\\. Quem somos: ${config.publicUrl}/l/([A-Za-z0-9]{12})$`);
    for (const s of sends) {
      const m = (s.text ?? '').match(pattern);
      expect(m, s.text ?? '').not.toBeNull();
      codes.set(`+${s.number}`, { shop: m?.[1] as string, about: m?.[2] as string });
    }
    const all = [...codes.values()].flatMap((c) => [c.shop, c.about]);
    expect(new Set(all).size).toBe(12);
    // What we store as sent is what the recipient received.
    const stored = await prisma.recipient.findMany({ where: { campaignId: uuidOf(campaignId) }, select: { phone: true, renderedText: true } });
    for (const r of stored) expect(r.renderedText).toContain(`/l/${codes.get(r.phone)?.shop}`);
  });

  afterAll(async () => {
    await stack.close();
  });

  const clicksOf = (code: string) => prisma.recipientLink.findUniqueOrThrow({ where: { code }, include: { clicks: true, recipient: { select: { clickedAt: true } } } });

  it('redirects to the tracked URL and records the first and every click; the recipient counts once', async () => {
    const [phone, mine] = [...codes.entries()][0] as [string, { shop: string; about: string }];
    const first = await click(`${config.publicUrl}/l/${mine.shop}`);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(SHOP);
    expect(first.headers.get('cache-control')).toContain('no-store');

    let link = await clicksOf(mine.shop);
    expect(link.clickCount).toBe(1);
    expect(link.firstClickedAt).not.toBeNull();
    expect(link.clicks).toHaveLength(1);
    expect(link.clicks[0]?.userAgent).toBe(BROWSER);
    expect(link.clicks[0]?.ipHash).toMatch(/^[0-9a-f]{64}$/);
    expect(link.recipient.clickedAt).not.toBeNull();
    const firstClickedAt = link.recipient.clickedAt;

    // Again, and the recipient's other link: every click is recorded, the recipient still counts once.
    expect((await click(`${config.publicUrl}/l/${mine.shop}`)).status).toBe(302);
    const other = await click(`${config.publicUrl}/l/${mine.about}`);
    expect(other.headers.get('location')).toBe(ABOUT);
    link = await clicksOf(mine.shop);
    expect(link.clickCount).toBe(2);
    expect(link.clicks).toHaveLength(2);
    expect(link.lastClickedAt?.getTime()).toBeGreaterThan(link.firstClickedAt?.getTime() ?? 0);
    expect(link.recipient.clickedAt).toEqual(firstClickedAt);
    expect((await clicksOf(mine.about)).clickCount).toBe(1);

    // A second recipient clicks once.
    const second = [...codes.entries()][1]?.[1] as { shop: string };
    expect((await click(`${config.publicUrl}/l/${second.shop}`)).status).toBe(302);

    const figures = await gqlOk(stack.url, key, Figures, { id: campaignId });
    expect(figures.campaign?.counters.clicked).toBe(2);
    expect(figures.campaign?.analytics.funnel).toEqual({ sent: 6, clicked: 2 });
    const [recount] = await prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM recipient WHERE campaign_id = ${uuidOf(campaignId)}::uuid AND clicked_at IS NOT NULL`;
    expect(recount?.n).toBe(2);
    expect(phone).toMatch(/^\+55/);
  });

  it('redirects link previews, crawlers and HEAD requests without counting them', async () => {
    const mine = [...codes.values()][2] as { shop: string };
    for (const [agent, method] of [
      ['WhatsApp/2.24.10.79 A', 'GET'],
      ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'GET'],
      ['', 'GET'],
      [BROWSER, 'HEAD'],
    ] as const) {
      const res = await click(`${config.publicUrl}/l/${mine.shop}`, agent, method);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(SHOP);
    }
    const link = await clicksOf(mine.shop);
    expect(link.clickCount).toBe(0);
    expect(link.clicks).toHaveLength(0);
    expect(link.recipient.clickedAt).toBeNull();
  });

  it('answers unknown and malformed codes exactly like an unknown route, and records nothing', async () => {
    const before = await prisma.linkClick.count();
    const unknownRoute = async (path: string, method = 'GET') => {
      const res = await fetch(`${config.publicUrl}${path}`, { method, redirect: 'manual', headers: { 'user-agent': BROWSER } });
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    };
    const reference = await unknownRoute('/no-such-route/AAAAAAAAAAAA');
    expect(reference.status).toBe(404);
    const valid = ([...codes.values()][0] as { shop: string }).shop;
    const probes: Array<[string, string]> = [
      ['/l/AAAAAAAAAAAA', 'GET'], // well formed, unknown
      [`/l/${valid.slice(0, 11)}${valid.endsWith('A') ? 'B' : 'A'}`, 'GET'], // one character off a real code
      ['/l/abc', 'GET'],
      ['/l/', 'GET'],
      [`/l/${valid}/extra`, 'GET'],
      ['/l/%27%20OR%201=1--', 'GET'],
      ['/l/..%2F..%2Fetc%2Fpasswd', 'GET'],
      [`/l/${valid}`, 'POST'],
      [`/l/${valid}`, 'DELETE'],
    ];
    for (const [path, method] of probes) {
      const got = await unknownRoute(path, method);
      expect(got.status, `${method} ${path}`).toBe(404);
      expect(got.type).toBe(reference.type);
      // The same page as any unknown route: only the echoed request line differs.
      expect(got.body).toBe(reference.body.replace('GET /no-such-route/AAAAAAAAAAAA', `${method} ${path}`));
    }
    expect(await prisma.linkClick.count()).toBe(before);
  });
});
