import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUERY_LIMITS } from '../../src/api/schema/limits.js';
import { newTenant } from '../helpers/factories.js';
import { wsClient } from '../helpers/graphql.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** Raw documents on purpose: these are the shapes an abusive client sends, not operations of ours. */
async function post(stack: Stack, key: string, query: string) {
  const res = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
}

function nested(depth: number): string {
  // campaigns > edges > node > parentCampaign > … > id: `depth` levels, none of them a list.
  let inner = 'id';
  for (let d = depth - 4; d > 0; d--) inner = `parentCampaign { ${inner} }`;
  return `{ campaigns(first: 1) { edges { node { ${inner} } } } }`;
}

describe('abuse limits', () => {
  let stack: Stack;
  let key: string;

  beforeAll(async () => {
    stack = await startStack({ workers: false });
    ({ key } = await newTenant('Limits'));
  });
  afterAll(async () => {
    await stack.close();
  });

  it('accepts a query at the depth limit and refuses one level deeper', async () => {
    const ok = await post(stack, key, nested(QUERY_LIMITS.depth));
    expect(ok.body.errors, JSON.stringify(ok.body.errors)).toBeUndefined();
    const deep = await post(stack, key, nested(QUERY_LIMITS.depth + 1));
    expect(deep.body.data ?? null).toBeNull();
    expect(deep.body.errors?.[0]?.message).toMatch(/depth/i);
  });

  it('refuses too many aliases', async () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: viewer { role }`).join(' ');
    expect((await post(stack, key, `{ ${fields(QUERY_LIMITS.aliases)} }`)).body.errors).toBeUndefined();
    const r = await post(stack, key, `{ ${fields(QUERY_LIMITS.aliases + 1)} }`);
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.[0]?.message).toMatch(/alias/i);
  });

  it('refuses a document with too many tokens before executing it', async () => {
    const r = await post(stack, key, `{ ${'__typename '.repeat(QUERY_LIMITS.tokens)} }`);
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.[0]?.message).toMatch(/token/i);
  });

  it('refuses too many directives', async () => {
    const r = await post(stack, key, `{ viewer { role ${'@include(if: true) '.repeat(QUERY_LIMITS.directives + 1)} } }`);
    expect(r.body.errors?.[0]?.message).toMatch(/directive/i);
  });

  it('refuses a query whose estimated cost is over the limit, saying so', async () => {
    const r = await post(stack, key, '{ campaigns(first: 500) { edges { node { messages { id } instances { id server { instances { id name } } } } } } }');
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', kind: 'complexity', limit: QUERY_LIMITS.complexity });
    const small = await post(stack, key, '{ campaigns(first: 20) { edges { node { messages { id } instances { id server { name } } } } } }');
    expect(small.body.errors).toBeUndefined();
  });

  it('still answers the introspection query (GraphiQL, codegen)', async () => {
    const r = await post(stack, key, getIntrospectionQuery());
    expect(r.body.errors).toBeUndefined();
    expect((r.body.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(50);
  });

  it('applies the same limits over graphql-ws', async () => {
    const ws = wsClient(stack.url, key);
    const errors: unknown[] = [];
    await new Promise<void>((resolve) => {
      ws.client.subscribe(
        { query: nested(QUERY_LIMITS.depth + 2) },
        { next: () => undefined, error: (e) => (errors.push(e), resolve()), complete: () => resolve() },
      );
    });
    await ws.client.dispose();
    expect(JSON.stringify(errors)).toMatch(/depth/i);
  });
});
