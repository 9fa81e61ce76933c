import { type GraphQLInputType, type GraphQLResolveInfo, isInputObjectType, isListType, isNonNullType } from 'graphql';
import type { FieldIssue } from '../../domain/errors.js';

interface StandardSchema {
  '~standard': {
    validate(value: unknown): { issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> } | Promise<unknown>;
  };
}

function schemaOf(extensions: unknown): StandardSchema | null {
  const v = (extensions as { pothosOptions?: { validate?: unknown } } | null | undefined)?.pothosOptions?.validate;
  return v && typeof v === 'object' && '~standard' in v ? (v as StandardSchema) : null;
}

function check(schema: StandardSchema | null, value: unknown, path: Array<string | number>, out: FieldIssue[]) {
  if (!schema) return;
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise || !('issues' in result) || !result.issues) return;
  for (const issue of result.issues) {
    const rest = (issue.path ?? []).map((p) => (typeof p === 'object' && p !== null ? String(p.key) : typeof p === 'number' ? p : String(p)));
    out.push({ path: [...path, ...rest], message: issue.message });
  }
}

function walk(type: GraphQLInputType, value: unknown, path: Array<string | number>, out: FieldIssue[]) {
  if (value === null || value === undefined) return;
  if (isNonNullType(type)) return walk(type.ofType, value, path, out);
  if (isListType(type)) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(type.ofType, item, [...path, i], out));
    return;
  }
  if (!isInputObjectType(type) || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  for (const field of Object.values(type.getFields())) {
    const v = obj[field.name];
    if (v === null || v === undefined) continue;
    check(schemaOf(field.extensions), v, [...path, field.name], out);
    walk(field.type, v, [...path, field.name], out);
  }
  check(schemaOf(type.extensions), value, path, out);
}

/**
 * Every input rule (`validate`) of a field's arguments, each checked on its own, with its path. The
 * validation plugin stops at the first bad field of an input object (it skips the later fields' rules
 * once one failed); a client should learn of every bad field at once.
 */
export function allInputIssues(args: Record<string, unknown>, info: Pick<GraphQLResolveInfo, 'parentType' | 'fieldName'>): FieldIssue[] {
  const field = info.parentType.getFields()[info.fieldName];
  if (!field) return [];
  const out: FieldIssue[] = [];
  for (const arg of field.args) {
    const v = args[arg.name];
    if (v === null || v === undefined) continue;
    check(schemaOf(arg.extensions), v, [arg.name], out);
    walk(arg.type, v, [arg.name], out);
  }
  return out;
}
