/**
 * WhatsApp Business (Cloud API) message templates, as Meta approves them and Evolution lists them
 * (`GET /template/find/{instance}`): their `{{1}}`…`{{n}}` parameters, what a variation must give to
 * send one, and the components of a send (`POST /message/sendTemplate`). Plain functions, no I/O.
 */
import type { MetaTemplate, TemplateSendComponent } from '../infra/evolution/wire.js';
import { renderTemplate, type TemplateContact } from './template.js';

/** A variation's template: Meta's name and language, and a text per parameter (rendered per recipient). */
export interface TemplateChoice {
  name: string;
  language: string;
  bodyParams: string[];
  headerParams: string[];
}

const PARAM = /\{\{\s*(\d+)\s*\}\}/g;

/** How many parameters a template text has: its highest `{{n}}` (Meta numbers them from 1 without gaps). */
export function parameterCount(text: string | undefined): number {
  let n = 0;
  for (const m of (text ?? '').matchAll(PARAM)) n = Math.max(n, Number(m[1]));
  return n;
}

function component(t: MetaTemplate, type: string) {
  return t.components?.find((c) => c.type?.toUpperCase() === type);
}

/** The template's body text as Meta has it (`Olá {{1}}, …`), or '' when it has none. */
export function templateBody(t: MetaTemplate): string {
  return component(t, 'BODY')?.text ?? '';
}

/** What a template needs: the parameter counts of its body and of its text header. */
export function templateShape(t: MetaTemplate): { body: number; header: number } {
  const header = component(t, 'HEADER');
  return { body: parameterCount(templateBody(t)), header: header && (header.format ?? 'TEXT').toUpperCase() === 'TEXT' ? parameterCount(header.text) : 0 };
}

/**
 * Why `choice` cannot be sent with the templates of one instance (empty when it can): the template must
 * exist in that language, be APPROVED, and get exactly as many parameters as it has.
 */
export function templateProblems(choice: TemplateChoice, templates: readonly MetaTemplate[]): Array<{ field: 'name' | 'language' | 'bodyParams' | 'headerParams'; reason: string }> {
  const named = templates.filter((t) => t.name === choice.name);
  if (named.length === 0) return [{ field: 'name', reason: `no template named "${choice.name}"` }];
  const t = named.find((x) => x.language === choice.language);
  if (!t) return [{ field: 'language', reason: `template "${choice.name}" has no "${choice.language}" version (it has ${named.map((x) => x.language).join(', ')})` }];
  const problems: ReturnType<typeof templateProblems> = [];
  if (t.status?.toUpperCase() !== 'APPROVED') problems.push({ field: 'name', reason: `template "${choice.name}" (${choice.language}) is ${t.status}, not APPROVED: Meta refuses it` });
  const shape = templateShape(t);
  if (choice.bodyParams.length !== shape.body) problems.push({ field: 'bodyParams', reason: `the template's body has ${shape.body} parameter(s); ${choice.bodyParams.length} given` });
  if (choice.headerParams.length !== shape.header) problems.push({ field: 'headerParams', reason: `the template's header has ${shape.header} parameter(s); ${choice.headerParams.length} given` });
  return problems;
}

/** The template text with each `{{n}}` replaced by the n-th value (what the customer reads). */
export function fillParameters(text: string, values: readonly string[]): string {
  return text.replace(PARAM, (raw, n: string) => values[Number(n) - 1] ?? raw);
}

/** Meta's send components for the rendered values: a header and a body component when they have parameters. */
export function sendComponents(body: readonly string[], header: readonly string[]): TemplateSendComponent[] {
  const out: TemplateSendComponent[] = [];
  // Meta refuses an empty text parameter: a value rendered empty is sent as a dash.
  const param = (text: string) => ({ type: 'text' as const, text: text.trim() === '' ? '-' : text });
  if (header.length) out.push({ type: 'header', parameters: header.map(param) });
  if (body.length) out.push({ type: 'body', parameters: body.map(param) });
  return out;
}

/** A template choice as stored (`campaign_message.template_params`), read back leniently. */
export function storedParams(json: unknown): { bodyParams: string[]; headerParams: string[] } {
  const o = (json && typeof json === 'object' ? json : {}) as { body?: unknown; header?: unknown };
  const strings = (v: unknown) => (Array.isArray(v) ? v.map((x) => String(x)) : []);
  return { bodyParams: strings(o.body), headerParams: strings(o.header) };
}

/** A variation as stored: its text, and its template when it is one. */
export interface StoredVariation {
  text: string;
  templateName: string | null;
  templateLanguage: string | null;
  templateParams: unknown;
}

/** A variation rendered for one contact: the text the contact reads and, for a template, what is sent. */
export interface RenderedVariation {
  text: string;
  template: { name: string; language: string; components: TemplateSendComponent[] } | null;
}

/**
 * Renders a variation for a contact. A template's parameters are rendered like a variation's text and
 * put into its body (`text`, what the contact reads); free text is rendered as it is.
 */
export function renderVariation(v: StoredVariation, contact: TemplateContact, now: Date): RenderedVariation {
  if (!v.templateName || !v.templateLanguage) return { text: renderTemplate(v.text, contact, now), template: null };
  const { bodyParams, headerParams } = storedParams(v.templateParams);
  const body = bodyParams.map((p) => renderTemplate(p, contact, now));
  const header = headerParams.map((p) => renderTemplate(p, contact, now));
  return { text: fillParameters(v.text, body), template: { name: v.templateName, language: v.templateLanguage, components: sendComponents(body, header) } };
}
