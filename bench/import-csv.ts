// `npm run bench:import`: importing 100,000 contacts from CSV through the product (parse, validate
// and normalise every phone to E.164, upsert in chunks, per-row report) against a plain COPY of the
// same rows (already normalised) into the same table, both in this run. Goal: ≥ 0.3×.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { fmt, table } from './lib/measure.js';
import { dropRedisPrefix, productDatabase, productEnv, useProductEnv } from './lib/product.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);

const db = await productDatabase();
const env = productEnv(db.url);
useProductEnv(env);
const { prisma } = await import('../src/infra/db/client.js');
const { createTenant } = await import('../src/features/auth/api-keys.js');
const { importContacts, processImport } = await import('../src/features/contacts/import.js');
const { closeQueues } = await import('../src/infra/queues/index.js');
const { closePubsub } = await import('../src/infra/realtime/pubsub.js');

const CITIES = ['São Paulo', 'Rio de Janeiro', 'Belo Horizonte', 'Curitiba', 'Recife'];
function row(i: number) {
  const local = String(60_000_000 + i).padStart(8, '0');
  return { raw: `(11) 9${local.slice(0, 4)}-${local.slice(4)}`, e164: `+55119${local}`, name: `Contato ${i}`, email: `c${i}@example.com`, city: CITIES[i % CITIES.length] as string };
}
const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

try {
  const a = await createTenant({ name: 'import bench' });
  const b = await createTenant({ name: 'copy bench' });

  // The product: the CSV as a user would upload it (local phone format, a header, a custom field).
  const lines = ['telefone,nome,email,tags,cidade'];
  for (let i = 0; i < ROWS; i++) {
    const r = row(i);
    lines.push([r.raw, r.name, r.email, 'bench;vip', r.city].map(csvCell).join(','));
  }
  const csv = lines.join('\n');
  let importId = '';
  const started = performance.now();
  const record = await importContacts(a.tenant.id, { format: 'CSV', data: csv, strategy: 'UPDATE', groupTag: 'bench-import' }, async (id) => {
    importId = id;
  });
  const done = importId ? await processImport(a.tenant.id, importId) : record;
  const importSeconds = (performance.now() - started) / 1000;
  if (done.status !== 'COMPLETED' || done.createdCount !== ROWS) throw new Error(`import did not complete as expected: ${JSON.stringify({ ...done, payload: undefined }).slice(0, 400)}`);

  // The baseline: the same rows, already normalised, COPYed into the same table.
  const copyLines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const r = row(i);
    copyLines.push([b.tenant.id, r.e164, r.name, r.email, '{bench,vip,bench-import}', JSON.stringify({ cidade: r.city }), new Date().toISOString()].map(csvCell).join(','));
  }
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined); // ended by DROP DATABASE … WITH (FORCE) after a failure
  await client.connect();
  const copyStarted = performance.now();
  await pipeline(
    Readable.from(copyLines.map((l) => `${l}\n`)),
    client.query(copyFrom('COPY contact (tenant_id, phone, name, email, tags, custom_fields, updated_at) FROM STDIN WITH (FORMAT csv)')),
  );
  const copySeconds = (performance.now() - copyStarted) / 1000;
  const copied = await client.query('SELECT count(*)::int AS n FROM contact WHERE tenant_id = $1', [b.tenant.id]);
  await client.end();
  if (copied.rows[0].n !== ROWS) throw new Error('COPY did not load every row');

  const importRate = ROWS / importSeconds;
  const copyRate = ROWS / copySeconds;
  const ratio = importRate / copyRate;
  table([
    ['measure', 'rows/s', 'time'],
    [`plain COPY of ${fmt(ROWS)} rows (baseline)`, fmt(copyRate), `${copySeconds.toFixed(2)} s`],
    [`importContacts CSV, ${fmt(ROWS)} rows`, fmt(importRate), `${importSeconds.toFixed(2)} s (${done.createdCount} created, ${done.failedCount} failed)`],
    ['ratio (goal ≥ 0.3×)', `${ratio.toFixed(3)}×`, ratio >= 0.3 ? 'goal met' : 'GOAL MISSED'],
  ]);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await closeQueues();
  await closePubsub();
  await prisma.$disconnect();
  await db.drop();
  await dropRedisPrefix(env.REDIS_PREFIX as string);
}
process.exit(process.exitCode ?? 0);
