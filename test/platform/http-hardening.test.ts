import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../../src/infra/db/client.js';
import { newTenant } from '../helpers/factories.js';
import { type Stack, startStack, waitFor } from '../helpers/stack.js';
import { tenantWithInstance } from '../webhooks/senders.js';

interface Answer {
  status: number;
  body: string;
  /** The local port of the connection: the same port means the same keep-alive connection. */
  localPort: number;
  ms: number;
}

/**
 * One request on `agent` (one socket, kept alive); `body` may be a string or chunks written one by
 * one without a Content-Length (chunked transfer encoding).
 */
function send(agent: Agent, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | string[] }): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'POST', agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), localPort: req.socket?.localPort ?? -1, ms: Date.now() - started }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
    if (Array.isArray(opts.body)) {
      const chunks = [...opts.body];
      const next = () => {
        const c = chunks.shift();
        if (c === undefined) return void req.end();
        if (req.write(c)) setImmediate(next);
        else req.once('drain', next);
      };
      next();
    } else req.end(opts.body);
  });
}

const MB = 1024 * 1024;
const chunked = (bytes: number, chunk = 64 * 1024) => Array.from({ length: Math.ceil(bytes / chunk) }, () => 'x'.repeat(chunk));

describe('HTTP hardening', () => {
  let stack: Stack;
  let key: string;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
    key = (await newTenant('HTTP')).key;
  });
  afterAll(async () => {
    await stack.close();
  });

  const mutation = JSON.stringify({ query: 'mutation { createApiKey(name: "by-form", role: ADMIN) { __typename } }' });

  it('executes GraphQL POSTed as JSON only: a form or text POST is refused with 415 and runs nothing', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const form = await send(agent, `${stack.url}/graphql`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${key}` },
        body: `query=${encodeURIComponent('mutation { createApiKey(name: "by-form", role: ADMIN) { __typename } }')}`,
      });
      expect(form.status).toBe(415);
      expect(JSON.parse(form.body).errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const text = await send(agent, `${stack.url}/graphql`, { headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` }, body: mutation });
      expect(text.status).toBe(415);
      expect(await prisma.apiKey.count({ where: { name: 'by-form' } })).toBe(0);

      for (const type of ['application/json; charset=utf-8', 'application/graphql-response+json']) {
        const ok = await send(agent, `${stack.url}/graphql`, { headers: { 'content-type': type, authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
        expect(ok.status, type).toBe(200);
        expect(JSON.parse(ok.body).data.viewer.role).toBe('ADMIN');
      }
    } finally {
      agent.destroy();
    }
  });

  it('refuses a GraphQL body over 1 MB (declared or chunked) with 413, and the same connection serves the next request at once', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
      const literal = 'x'.repeat(2 * MB);
      const declared = await send(agent, `${stack.url}/graphql`, { headers, body: JSON.stringify({ query: `{ viewer { role } } # ${literal}` }) });
      expect(declared.status).toBe(413);
      const first = await send(agent, `${stack.url}/graphql`, { headers, body: JSON.stringify({ query: '{ viewer { role } }' }) });
      expect(first.status).toBe(200);

      const big = await send(agent, `${stack.url}/graphql`, { headers: { ...headers, 'transfer-encoding': 'chunked' }, body: ['{"query":"{ viewer { role } }","x":"', ...chunked(10 * MB), '"}'] });
      expect(big.status).toBe(413);
      const after = await send(agent, `${stack.url}/graphql`, { headers, body: JSON.stringify({ query: '{ viewer { role } }' }) });
      expect(after.status).toBe(200);
      expect(after.ms).toBeLessThan(5000);
    } finally {
      agent.destroy();
    }
  });

  it('a chunked 10 MB webhook is refused with 413 and nothing is written; the next request on the connection is answered', async () => {
    const s = await tenantWithInstance();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const [before] = await prisma.$queryRaw<Array<{ n: bigint }>>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM webhook_inbox_id_seq`;
      const big = await send(agent, s.url, { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: ['{"event":"messages.update","data":"', ...chunked(10 * MB), '"}'] });
      expect(big.status).toBe(413);
      const next = await send(agent, s.url, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'presence.update', instance: s.name, data: {} }),
      });
      expect(next.status).toBe(200);
      expect(next.ms).toBeLessThan(5000);
      const [after] = await prisma.$queryRaw<Array<{ n: bigint }>>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM webhook_inbox_id_seq`;
      expect(after?.n).toBe(before?.n);
    } finally {
      agent.destroy();
    }
  });

  it('takes a contact file larger than a GraphQL request at POST /imports/contacts, and imports it', async () => {
    const { tenantId, key: operator } = await newTenant('Big import');
    const rows = 24_000;
    const lines = ['telefone,nome,cidade,observacao'];
    for (let i = 0; i < rows; i++) lines.push(`+55119${String(70_000_000 + i).padStart(8, '0')},Contato ${i},Campinas,${'obs '.repeat(5)}`);
    const csv = `${lines.join('\n')}\n`;
    expect(Buffer.byteLength(csv)).toBeGreaterThan(MB);

    // The same file through GraphQL is over its body limit.
    const viaGraphql = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
      body: JSON.stringify({ query: 'mutation($d: String!) { importContacts(input: { format: CSV, data: $d }) { __typename } }', variables: { d: csv } }),
    });
    expect(viaGraphql.status).toBe(413);
    await viaGraphql.text();

    const bad = await fetch(`${stack.url}/imports/contacts?strategy=MERGE&delimiter=ab&columns=%7Bnope`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${operator}` }, body: csv });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: { issues: Array<{ path: string[] }> } };
    expect(badBody.error.issues.map((i) => i.path.join('.')).sort()).toEqual(['query.columns', 'query.delimiter', 'query.strategy']);

    const viewer = await fetch(`${stack.url}/imports/contacts`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: 'Bearer nope' }, body: 'x' });
    expect(viewer.status).toBe(401);
    await viewer.text();

    const res = await fetch(`${stack.url}/imports/contacts?tags=bf,2026&idempotencyKey=big-1`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${operator}` },
      body: csv,
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { import: { id: string; status: string; totalRows: number } };
    expect(body.import).toMatchObject({ status: 'PENDING', totalRows: rows });
    const importId = Buffer.from(body.import.id, 'base64').toString('utf8').split(':')[1] as string;
    // No worker in this file: run the import as the worker would.
    const { processImport } = await import('../../src/features/contacts/import.js');
    await processImport(tenantId, importId);
    await waitFor(async () => (await prisma.contactImport.findUniqueOrThrow({ where: { id: importId } })).status === 'COMPLETED', 60_000);
    expect(await prisma.contact.count({ where: { tenantId } })).toBe(rows);
    expect(await prisma.contact.count({ where: { tenantId, tags: { hasEvery: ['bf', '2026'] } } })).toBe(rows);
  });
});
