import { config } from '../../infra/config/index.js';
import { prisma } from '../../infra/db/client.js';
import { EvolutionClient } from '../../infra/evolution/client.js';
import type { MetaTemplate } from '../../infra/evolution/wire.js';
import { decryptSecret } from '../../infra/lib/crypto.js';
import type { FieldIssue } from '../../domain/errors.js';
import { checkTemplate } from '../../domain/template.js';
import { type TemplateChoice, templateBody, templateProblems } from '../../domain/wa-template.js';

/** The templates of a campaign's WHATSAPP_BUSINESS instances, as their Evolution lists them (or why it could not). */
export type TemplateCatalog = Array<{ instanceId: string; name: string } & ({ ok: true; templates: MetaTemplate[] } | { ok: false; message: string })>;

/** The message templates of one instance (`GET /template/find`), read from its Evolution now. */
export async function instanceTemplates(instance: { name: string; server: { baseUrl: string; apiKeyEncrypted: string } }) {
  const client = new EvolutionClient({ baseUrl: instance.server.baseUrl, apiKey: decryptSecret(instance.server.apiKeyEncrypted), timeoutMs: Math.min(config.evolutionTimeoutMs, 10_000) });
  return client.findTemplates(instance.name);
}

/**
 * Reads the templates of the tenant's WHATSAPP_BUSINESS instances among `instanceIds` from Evolution,
 * outside any transaction (a slow Evolution must not hold one).
 */
export async function loadTemplateCatalog(tenantId: string, instanceIds: readonly string[]): Promise<TemplateCatalog> {
  const business = await prisma.whatsAppInstance.findMany({
    where: { tenantId, id: { in: [...instanceIds] }, integration: 'WHATSAPP_BUSINESS' },
    select: { id: true, name: true, server: { select: { baseUrl: true, apiKeyEncrypted: true } } },
    orderBy: { name: 'asc' },
  });
  return Promise.all(
    business.map(async (i) => {
      const r = await instanceTemplates(i);
      return r.ok ? { instanceId: i.id, name: i.name, ok: true as const, templates: r.templates } : { instanceId: i.id, name: i.name, ok: false as const, message: r.message };
    }),
  );
}

/**
 * Checks a variation's template against every WHATSAPP_BUSINESS instance of the campaign (each must
 * have it approved, with as many parameters as given) and its parameter texts like a variation's
 * text. Returns the template's body as Meta has it (stored as the variation's text), or null.
 */
export function checkTemplateChoice(
  choice: TemplateChoice,
  catalog: TemplateCatalog,
  customFieldKeys: readonly string[],
  path: Array<string | number>,
  issues: FieldIssue[],
): string | null {
  choice.bodyParams.forEach((p, i) => {
    for (const x of checkTemplate(p, customFieldKeys)) issues.push({ path: [...path, 'bodyParams', i], message: `${x.variable}: ${x.reason}` });
  });
  choice.headerParams.forEach((p, i) => {
    for (const x of checkTemplate(p, customFieldKeys)) issues.push({ path: [...path, 'headerParams', i], message: `${x.variable}: ${x.reason}` });
  });
  if (catalog.length === 0) {
    issues.push({ path, message: 'a template is sent by a WHATSAPP_BUSINESS instance: the campaign has none in instanceIds to read its templates from' });
    return null;
  }
  let body: string | null = null;
  for (const entry of catalog) {
    if (!entry.ok) {
      issues.push({ path, message: `could not list the templates of instance ${entry.name}: ${entry.message}` });
      continue;
    }
    const problems = templateProblems(choice, entry.templates);
    for (const p of problems) issues.push({ path: [...path, p.field], message: `instance ${entry.name}: ${p.reason}` });
    if (problems.length === 0 && body === null) {
      const t = entry.templates.find((x) => x.name === choice.name && x.language === choice.language);
      body = t ? templateBody(t) : null;
    }
  }
  return body;
}
