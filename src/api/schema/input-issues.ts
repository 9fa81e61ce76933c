import SchemaBuilder, { BasePlugin, type PartialResolveInfo, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLResolveInfo } from 'graphql';
import { type FieldIssue, ValidationError } from '../../domain/errors.js';
import { allInputIssues } from './all-issues.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text that cannot be stored as sent: PostgreSQL refuses U+0000 in text and jsonb, and a lone UTF-16
 * surrogate has no UTF-8 form (it would be stored as U+FFFD, changed). Returns an issue for every such
 * string in `value` (keys of JSON objects included), with its path.
 */
export function unstorableText(value: unknown, path: Array<string | number>): FieldIssue[] {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return [{ path, message: 'contains a NUL character (U+0000), which cannot be stored' }];
    if (LONE_SURROGATE.test(value)) return [{ path, message: 'contains an unpaired UTF-16 surrogate, which is not text' }];
    return [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => unstorableText(v, [...path, i]));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.entries(value).flatMap(([k, v]) => [...unstorableText(k, [...path, k]), ...unstorableText(v, [...path, k])]);
  }
  return [];
}

/** Every argument's unstorable text, with paths from the argument name. */
export function unstorableArgs(args: Record<string, unknown>): FieldIssue[] {
  return Object.entries(args).flatMap(([name, v]) => unstorableText(v, [name]));
}

const pluginName = 'inputIssues';

/**
 * Reports every bad field of a field's arguments at once, before the resolver runs: the input rules
 * (`validate`) of every input field, each checked on its own (src/api/schema/all-issues.ts; the validation
 * plugin stops at an input's first bad field), and text PostgreSQL cannot store (a NUL in a campaign
 * name used to reach PostgreSQL and come back as an internal error). Listed just before the validation
 * plugin, which then only transforms valid input. The errors plugin, listed first, turns the
 * ValidationError into the field's typed result.
 */
export class InputIssuesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  // Arguments go through the field's arg mappers, in order, before its resolver or subscribe. Plugins
  // add theirs last plugin first (the validation plugin's is there already): this one goes in front,
  // so it sees the arguments exactly as the validation plugin's does, and runs before it.
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (Object.keys(fieldConfig.args).length === 0) return fieldConfig;
    const check = (args: Record<string, unknown>, _ctx: Types['Context'], info: PartialResolveInfo) => {
      const issues = argumentIssues(args, info as unknown as GraphQLResolveInfo);
      if (issues.length > 0) throw new ValidationError(issues);
      return args;
    };
    return { ...fieldConfig, argMappers: [check, ...(fieldConfig.argMappers ?? [])] };
  }
}

/** The input rules' issues and the unstorable text of a field's arguments, each (path, message) once. */
export function argumentIssues(args: Record<string, unknown>, info: Pick<GraphQLResolveInfo, 'parentType' | 'fieldName'>): FieldIssue[] {
  const seen = new Set<string>();
  return [...allInputIssues(args, info), ...unstorableArgs(args)].filter((i) => {
    const k = JSON.stringify([i.path.map(String), i.message]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputIssues: InputIssuesPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, InputIssuesPlugin);

export default pluginName;
