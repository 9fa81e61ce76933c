import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { GraphiQLOptions } from 'graphql-yoga';
import { logger } from '../infra/lib/logger.js';

// GraphiQL served from our own routes. yoga's default page loads GraphiQL, its styles and Monaco's
// workers from unpkg.com: no GraphiQL offline, behind a proxy or a strict firewall. The same bundle
// yoga would load is in @graphql-yoga/render-graphiql (as strings, the version matching yoga's); it is
// read on the first GraphiQL request only and served as separate, cacheable files.

/** Where GraphiQL's files are served (only when GRAPHIQL is on). */
export const GRAPHIQL_ASSETS_PATH = '/graphiql';

const require = createRequire(import.meta.url);
const VERSION = (require('@graphql-yoga/render-graphiql/package.json') as { version: string }).version;

type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

const ASSETS: Record<string, { type: string; from: (b: Bundle) => Buffer }> = {
  'yoga-graphiql.js': { type: 'text/javascript; charset=utf-8', from: (b) => Buffer.from(b.js) },
  'graphiql.css': { type: 'text/css; charset=utf-8', from: (b) => Buffer.from(b.css) },
  'editor.worker.js': { type: 'text/javascript; charset=utf-8', from: (b) => Buffer.from(b.editorWorkerService) },
  'json.worker.js': { type: 'text/javascript; charset=utf-8', from: (b) => Buffer.from(b.jsonWorker) },
  'graphql.worker.js': { type: 'text/javascript; charset=utf-8', from: (b) => Buffer.from(b.graphqlWorker) },
  'favicon.ico': { type: 'image/x-icon', from: (b) => Buffer.from(b.favicon.slice(b.favicon.indexOf(',') + 1), 'base64') },
};

/** Monaco's web workers by label (the labels yoga's GraphiQL asks for). */
const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };

let bundle: Promise<Bundle> | null = null;
const files = new Map<string, { plain: Buffer; gzipped?: Promise<Buffer> }>();

async function asset(name: string) {
  const spec = ASSETS[name];
  if (!spec) return null;
  let file = files.get(name);
  if (!file) {
    bundle ??= import('@graphql-yoga/render-graphiql/graphiql');
    file = { plain: spec.from(await bundle) };
    files.set(name, file);
  }
  return { type: spec.type, file };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** yoga's renderGraphiQL: the same page as yoga's, with every file from GRAPHIQL_ASSETS_PATH. */
export function renderLocalGraphiQL(opts: GraphiQLOptions): string {
  const at = (file: string) => `${GRAPHIQL_ASSETS_PATH}/${file}?v=${VERSION}`;
  const workers = Object.fromEntries(Object.entries(WORKERS).map(([label, file]) => [label, at(file)]));
  // JSON inside a <script>: "<" escaped so that no value can close the element.
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(opts.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${at('favicon.ico')}" />
    <link rel="stylesheet" href="${at('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      const workers = ${json(workers)};
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] ?? workers.editorWorkerService };
    </script>
    <script src="${at('yoga-graphiql.js')}"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${json(opts)});
    </script>
  </body>
</html>`;
}

/** GET GRAPHIQL_ASSETS_PATH/<name>: one of GraphiQL's files, gzipped when the client takes it. */
export async function serveGraphiQLAsset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  try {
    const found = req.method === 'GET' || req.method === 'HEAD' ? await asset(name) : null;
    if (!found) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found');
      return;
    }
    const etag = `"${VERSION}-${name}"`;
    // The page asks for each file with ?v=<version>: a new version is a new URL.
    const headers: Record<string, string | number> = { 'content-type': found.type, etag, 'cache-control': 'public, max-age=86400' };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let body = found.file.plain;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      found.file.gzipped ??= promisify(gzip)(found.file.plain);
      body = await found.file.gzipped;
      headers['content-encoding'] = 'gzip';
    }
    headers.vary = 'accept-encoding';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    logger.error({ err, asset: name }, 'a GraphiQL file could not be served');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('GraphiQL is unavailable');
  }
}
