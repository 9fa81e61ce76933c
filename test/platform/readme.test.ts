import { readFileSync } from 'node:fs';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/api/schema/index.js';

/** The README's GraphQL examples, one operation each (placeholders such as "<id>" are plain strings). */
function readmeOperations(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const operations: string[] = [];
  for (const block of blocks) {
    let current: string[] = [];
    for (const line of block.split('\n')) {
      if (/^(query|mutation|subscription)\b/.test(line)) {
        if (current.length) operations.push(current.join('\n'));
        current = [line];
      } else if (current.length && line.trim() && !line.startsWith('#')) current.push(line);
    }
    if (current.length) operations.push(current.join('\n'));
  }
  return operations;
}

describe('README', () => {
  const operations = readmeOperations();

  it('has GraphQL examples', () => {
    expect(operations.length).toBeGreaterThan(40);
  });

  for (const op of operations) {
    it(`example is valid against the schema: ${op.slice(0, 70).replace(/\s+/g, ' ')}`, () => {
      const errors = validate(schema, parse(op));
      expect(errors.map((e) => e.message)).toEqual([]);
    });
  }
});
