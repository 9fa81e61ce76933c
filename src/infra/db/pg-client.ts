import pg from 'pg';

const TEXT_OID = 25;
/** Catalog types the WebAssembly schema engine cannot read, with their text-compatible stand-in. */
const AS_TEXT = new Set([
  18, // "char" (pg_class.relkind, pg_constraint.contype, …)
  19, // name
]);

type FieldsCarrier = { fields?: Array<{ dataTypeID: number }> } | undefined | null;

function reportCatalogTypesAsText<T>(result: T): T {
  const results = Array.isArray(result) ? result : [result];
  for (const r of results as FieldsCarrier[]) {
    for (const field of r?.fields ?? []) {
      if (AS_TEXT.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

/**
 * A pg Client that reports PostgreSQL `name` and `"char"` columns as `text`.
 *
 * Prisma's WebAssembly schema engine cannot deserialize them (prisma/orm#27403), and the catalog
 * queries behind `migrate` return them. Both the callback and the promise forms of `query` are wrapped,
 * because pg's Pool uses the former and the adapter the latter.
 */
export class NameAsTextClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // A connection that breaks emits 'error' on its client. The pool listens only while the client is
    // idle in it; one checked out (a transaction between two statements, say) had no listener, and an
    // unheard 'error' ends the process: a database restart killed every busy worker. The error is not
    // lost: the query in flight fails with it, the client is no longer queryable (its next query
    // fails, its transaction rolls back), and the pool discards it when it comes back.
    this.on('error', () => undefined);
  }

  // biome-ignore lint: pg's query has many overloads; we forward them untouched.
  override query(...args: any[]): any {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) => last(err, err ? res : reportCatalogTypesAsText(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const ret = (super.query as (...a: unknown[]) => unknown)(...args);
    if (ret && typeof (ret as Promise<unknown>).then === 'function') {
      return (ret as Promise<unknown>).then(reportCatalogTypesAsText);
    }
    return ret;
  }
}

/** Discrete pg pool settings from a postgres:// URL (the adapter derives its shadow database from these). */
export function poolConfigFromUrl(url: string, max?: number): pg.PoolConfig {
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(u.hostname) || 'localhost',
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    ssl: sslmode && sslmode !== 'disable' ? { rejectUnauthorized: sslmode === 'verify-full' } : undefined,
    max,
    Client: NameAsTextClient,
  };
}
