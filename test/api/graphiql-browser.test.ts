import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { config } from '../../src/infra/config/index.js';
import { prisma } from '../../src/infra/db/client.js';
import { closeQueues } from '../../src/infra/queues/index.js';
import { closePubsub } from '../../src/infra/realtime/pubsub.js';
import { type App, createApp } from '../../src/api/server.js';
import { newTenant } from '../helpers/factories.js';

// GraphiQL is on (as in development); the config reads this when it is first imported.
vi.hoisted(() => {
  process.env.GRAPHIQL = 'true';
});

/** Debian's Chromium; `npm test` installs it when it is missing (scripts/test.mjs). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('GraphiQL', () => {
  let app: App;
  let url: string;
  let browser: BrowserContext;
  let userDataDir: string;
  beforeAll(async () => {
    app = createApp();
    url = await app.listen(config.port, '127.0.0.1');
    userDataDir = mkdtempSync(join(tmpdir(), 'graphiql-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await app?.close();
    await closeQueues();
    await closePubsub();
    await prisma.$disconnect();
  });

  it('renders and runs a query with an API key header with the network closed: every file comes from our server', async () => {
    const { key } = await newTenant('GraphiQL offline');
    const page = await browser.newPage();
    const origin = new URL(url).origin;
    const ours: string[] = [];
    const refused: string[] = [];
    // Anything not addressed to our server is refused (and recorded): the machine is offline to the page.
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(`${origin}/`)) {
        ours.push(u);
        return route.continue();
      }
      refused.push(u);
      return route.abort('internetdisconnected');
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${url}/graphql`);
    // The query editor (Monaco) is up once GraphiQL's bundle ran.
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await queryEditor.waitFor({ timeout: 30_000 });

    await queryEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    // insertText: one input, not keystrokes (Monaco would close each brace it types itself).
    await page.keyboard.insertText('query Who { viewer { role tenant { name } } }');

    await page.getByRole('button', { name: /^headers$/i }).click();
    const headersEditor = page.locator('.graphiql-editor-tool .monaco-editor').last();
    await headersEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${key}` }));

    await page.locator('button.graphiql-execute-button').click();
    // Monaco shows spaces as no-break spaces.
    const response = async () => (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');
    await expect.poll(response, { timeout: 30_000 }).toContain('"tenant": { "name": "GraphiQL offline" }');
    expect(await response()).toContain('"role": "ADMIN"');

    expect(refused).toEqual([]);
    expect(ours.some((u) => u.includes('/graphiql/yoga-graphiql.js'))).toBe(true);
    expect(ours.some((u) => u.includes('/graphiql/graphiql.css'))).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('serves its files with a version in the URL, gzipped on request, and refuses unknown names', async () => {
    const js = await fetch(`${url}/graphiql/yoga-graphiql.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(1_000_000);
    const again = await fetch(`${url}/graphiql/yoga-graphiql.js`, { headers: { 'if-none-match': js.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    expect((await fetch(`${url}/graphiql/../package.json`)).status).toBe(404);
    expect((await fetch(`${url}/graphiql/nope.js`)).status).toBe(404);
    const html = await (await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn\./);
  });
});
