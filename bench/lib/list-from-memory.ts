// The nested campaigns list of bench:api served from memory by graphql-yoga + Pothos: the same query,
// the same shape and sizes (50 campaigns, 2 variations and 2 instances each, counters), with no
// database, no authentication and no plugins. A reference for bench:api: what GraphQL execution and
// serialisation of that response cost on their own. With MEMORY_JIT=1 the query is executed by
// graphql-jit (compiled once per query) instead of graphql-js. Prints {"port": …} when listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { createYoga } from 'graphql-yoga';

interface Message { id: string; text: string; abVariant: string | null }
interface Health { score: number; status: string; sentToday: number }
interface Instance { id: string; name: string; connectionState: string; health: Health }
interface Counters { targeted: number; sent: number; delivered: number; read: number; failed: number; percentDone: number; deliveryRate: number; readRate: number }
interface Campaign { id: string; name: string; status: string; rotationMode: string; messages: Message[]; instances: Instance[]; counters: Counters }

const builder = new SchemaBuilder({} as never);
const MessageRef = builder.objectRef<Message>('Message').implement({
  fields: (t) => ({ id: t.exposeID('id'), text: t.exposeString('text'), abVariant: t.exposeString('abVariant', { nullable: true }) }),
});
const HealthRef = builder.objectRef<Health>('Health').implement({
  fields: (t) => ({ score: t.exposeFloat('score'), status: t.exposeString('status'), sentToday: t.exposeInt('sentToday') }),
});
const InstanceRef = builder.objectRef<Instance>('Instance').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    connectionState: t.exposeString('connectionState'),
    health: t.field({ type: HealthRef, resolve: (i) => i.health }),
  }),
});
const CountersRef = builder.objectRef<Counters>('Counters').implement({
  fields: (t) => ({
    targeted: t.exposeInt('targeted'),
    sent: t.exposeInt('sent'),
    delivered: t.exposeInt('delivered'),
    read: t.exposeInt('read'),
    failed: t.exposeInt('failed'),
    percentDone: t.exposeFloat('percentDone'),
    deliveryRate: t.exposeFloat('deliveryRate'),
    readRate: t.exposeFloat('readRate'),
  }),
});
const CampaignRef = builder.objectRef<Campaign>('Campaign').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    status: t.exposeString('status'),
    rotationMode: t.exposeString('rotationMode'),
    messages: t.field({ type: [MessageRef], resolve: (c) => c.messages }),
    instances: t.field({ type: [InstanceRef], resolve: (c) => c.instances }),
    counters: t.field({ type: CountersRef, resolve: (c) => c.counters }),
  }),
});
const EdgeRef = builder.objectRef<{ node: Campaign }>('CampaignEdge').implement({
  fields: (t) => ({ node: t.field({ type: CampaignRef, resolve: (e) => e.node }) }),
});
const ConnectionRef = builder.objectRef<{ totalCount: number; edges: Array<{ node: Campaign }> }>('CampaignConnection').implement({
  fields: (t) => ({ totalCount: t.exposeInt('totalCount'), edges: t.field({ type: [EdgeRef], resolve: (c) => c.edges }) }),
});

const instances: Instance[] = [1, 2].map((n) => ({
  id: `V2hhdHNBcHBJbnN0YW5jZTo${n}`,
  name: `inst-${n}`,
  connectionState: 'UNKNOWN',
  health: { score: 100, status: 'HEALTHY', sentToday: 0 },
}));
const campaigns: Campaign[] = Array.from({ length: 50 }, (_, i) => ({
  id: `Q2FtcGFpZ246${i}`,
  name: `Campaign ${i}`,
  status: i % 3 ? 'COMPLETED' : 'RUNNING',
  rotationMode: 'ROUND_ROBIN',
  messages: [
    { id: `TWVzc2FnZTo${i}a`, text: 'Olá {{primeiro_nome}}!', abVariant: null },
    { id: `TWVzc2FnZTo${i}b`, text: 'Oi {{nome}}', abVariant: null },
  ],
  instances,
  counters: { targeted: 1000, sent: 900 + i, delivered: 800 + i, read: 400 + i, failed: 0, percentDone: 90 + i / 10, deliveryRate: 0.88, readRate: 0.5 },
}));
builder.queryType({
  fields: (t) => ({
    campaigns: t.field({
      type: ConnectionRef,
      args: { first: t.arg.int() },
      resolve: (_, { first }) => ({ totalCount: campaigns.length, edges: campaigns.slice(0, first ?? 50).map((node) => ({ node })) }),
    }),
  }),
});

const jit = process.env.MEMORY_JIT === '1';
const yoga = createYoga({ schema: builder.toSchema(), graphiql: false, logging: false, plugins: jit ? [useGraphQlJit()] : [] });
const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
