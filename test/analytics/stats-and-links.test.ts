import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decideAbTest, normalCdf, twoProportionZTest } from '../../src/domain/ab-test.js';
import { fillSlots, roi } from '../../src/domain/analytics.js';
import { rate, ratesOf } from '../../src/domain/counters.js';
import { isHumanClick, isLinkCode, linkCodeFrom, replaceUrls, trackableUrls } from '../../src/domain/links.js';

describe('the two-proportion z-test', () => {
  it('matches the normal distribution at its textbook points', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 6);
    expect(normalCdf(3)).toBeCloseTo(0.998650, 6);
  });

  it('gives the pooled z and two-sided p of a worked example', () => {
    // 60/200 vs 40/200: pooled 0.25, se = sqrt(0.25·0.75·(2/200)) = 0.0433, z = 0.1/0.0433 = 2.3094
    const t = twoProportionZTest({ successes: 60, trials: 200 }, { successes: 40, trials: 200 });
    expect(t.z).toBeCloseTo(2.3094, 4);
    expect(t.pValue).toBeCloseTo(0.02092, 4);
    expect(t.confidence).toBeCloseTo(0.97908, 4);
    // Symmetric, and identical or degenerate proportions carry no confidence.
    expect(twoProportionZTest({ successes: 40, trials: 200 }, { successes: 60, trials: 200 }).z).toBeCloseTo(-2.3094, 4);
    expect(twoProportionZTest({ successes: 0, trials: 50 }, { successes: 0, trials: 80 }).confidence).toBe(0);
    expect(twoProportionZTest({ successes: 50, trials: 50 }, { successes: 80, trials: 80 }).confidence).toBe(0);
    expect(twoProportionZTest({ successes: 0, trials: 0 }, { successes: 3, trials: 10 }).confidence).toBe(0);
  });
});

describe('the A/B decision', () => {
  const rules = { minSample: 100, significance: 0.95 };

  it('waits until every variant has the minimum sample, and says which are short', () => {
    const d = decideAbTest(
      [
        { variant: 'A', trials: 150, successes: 10 },
        { variant: 'B', trials: 99, successes: 90 },
      ],
      rules,
    );
    expect(d.status).toBe('COLLECTING');
    if (d.status === 'COLLECTING') {
      expect(d.short).toEqual([{ variant: 'B', trials: 99, needed: 100 }]);
      expect(d.reason).toContain('B has 99');
    }
  });

  it('declares the leader the winner when it beats every other variant at the significance', () => {
    const d = decideAbTest(
      [
        { variant: 'A', trials: 200, successes: 40 },
        { variant: 'B', trials: 200, successes: 60 },
      ],
      rules,
    );
    expect(d).toMatchObject({ status: 'WINNER', winner: 'B' });
    if (d.status === 'WINNER') expect(d.confidence).toBeCloseTo(0.97908, 4);
  });

  it('declares nobody when the difference is not significant enough, naming the leader', () => {
    const d = decideAbTest(
      [
        { variant: 'A', trials: 200, successes: 40 },
        { variant: 'B', trials: 200, successes: 60 },
      ],
      { minSample: 100, significance: 0.99 },
    );
    expect(d).toMatchObject({ status: 'NOT_SIGNIFICANT', leader: 'B' });
    expect(d.reason).toContain('99% required');
  });

  it('needs the leader to beat every variant: a close second blocks the decision', () => {
    const d = decideAbTest(
      [
        { variant: 'A', trials: 200, successes: 20 },
        { variant: 'B', trials: 200, successes: 61 },
        { variant: 'C', trials: 200, successes: 58 },
      ],
      rules,
    );
    expect(d).toMatchObject({ status: 'NOT_SIGNIFICANT', leader: 'B' });
    expect(decideAbTest([{ variant: 'A', trials: 500, successes: 5 }], rules).status).toBe('NOT_ENOUGH_VARIANTS');
    expect(
      decideAbTest(
        [
          { variant: 'A', trials: 300, successes: 30 },
          { variant: 'B', trials: 300, successes: 30 },
        ],
        rules,
      ),
    ).toMatchObject({ status: 'NOT_SIGNIFICANT', leader: null, confidence: 0 });
  });
});

describe('analytics definitions', () => {
  it('computes rates over the right denominators and ROI only with a cost', () => {
    expect(ratesOf({ sent: 200, delivered: 150, read: 75, replied: 15, clicked: 30, converted: 3 })).toEqual({
      deliveryRate: 0.75,
      readRate: 0.5,
      replyRate: 0.1,
      clickRate: 0.2,
      conversionRate: 0.02,
    });
    expect(rate(1, 0)).toBeNull();
    expect(roi(1500, 500)).toBe(2);
    expect(roi(100, null)).toBeNull();
    expect(roi(100, 0)).toBeNull();
    expect(fillSlots([{ slot: 2, n: 5 }], 1, 3, (slot) => ({ slot, n: 0 }))).toEqual([
      { slot: 1, n: 0 },
      { slot: 2, n: 5 },
      { slot: 3, n: 0 },
    ]);
  });
});

describe('tracked links', () => {
  it('tracks the URLs of a variation but not those built from variables, and swaps them in the rendered text', () => {
    const template = 'Oi {{nome}}! Veja https://loja.example.com/ofertas?c=bf. Ou (https://loja.example.com/a_b) e https://x.example/?u={{nome}}.';
    expect(trackableUrls(template)).toEqual(['https://loja.example.com/ofertas?c=bf', 'https://loja.example.com/a_b']);
    const rendered = template.replaceAll('{{nome}}', 'Ana');
    const out = replaceUrls(
      rendered,
      new Map([
        ['https://loja.example.com/ofertas?c=bf', 'https://t.example/l/AAAA'],
        ['https://loja.example.com/a_b', 'https://t.example/l/BBBB'],
      ]),
    );
    expect(out).toBe('Oi Ana! Veja https://t.example/l/AAAA. Ou (https://t.example/l/BBBB) e https://x.example/?u=Ana.');
    // A tracked URL that is the prefix of a longer one does not eat into it.
    expect(replaceUrls('https://a.example/x https://a.example/xy', new Map([['https://a.example/x', 'S']]))).toBe('S https://a.example/xy');
  });

  it('draws codes of 12 base62 characters and recognises only those', () => {
    const codes = new Set(Array.from({ length: 2000 }, () => linkCodeFrom(randomBytes)));
    expect(codes.size).toBe(2000);
    for (const c of codes) expect(isLinkCode(c)).toBe(true);
    for (const bad of ['', 'abc', 'abcdefghijk!', 'abcdefghijklm', '../etc/passwd', 'abcdefghij%2']) expect(isLinkCode(bad)).toBe(false);
  });

  it('counts browsers, not link previews, crawlers or HEAD requests', () => {
    const chrome = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
    expect(isHumanClick('GET', chrome)).toBe(true);
    expect(isHumanClick('HEAD', chrome)).toBe(false);
    expect(isHumanClick('GET', 'WhatsApp/2.23.20.0 A')).toBe(false);
    expect(isHumanClick('GET', 'facebookexternalhit/1.1')).toBe(false);
    expect(isHumanClick('GET', 'Mozilla/5.0 (compatible; Googlebot/2.1)')).toBe(false);
    expect(isHumanClick('GET', undefined)).toBe(false);
  });
});
