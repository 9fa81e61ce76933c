// A graphql-yoga + Pothos hello world: the baseline of the GraphQL benchmarks (same stack, no work).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { createYoga } from 'graphql-yoga';

// Other builders' plugin options are declared globally by their plugins; this one uses none of them.
const builder = new SchemaBuilder({} as never);
builder.queryType({ fields: (t) => ({ hello: t.string({ resolve: () => 'world' }) }) });
const yoga = createYoga({ schema: builder.toSchema(), graphiql: false, logging: false });
const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
