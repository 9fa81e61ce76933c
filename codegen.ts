import type { CodegenConfig } from '@graphql-codegen/cli';

// Printing the schema connects to nothing, but loading it parses the app configuration: give the
// variables it requires harmless values when they are not set (CI, a fresh clone).
process.env.DATABASE_URL ??= 'postgresql://codegen@localhost:5432/codegen';
process.env.REDIS_URL ??= 'redis://localhost:6379';
process.env.ENCRYPTION_KEY ??= Buffer.alloc(32).toString('base64');
process.env.LOG_LEVEL ??= 'silent';

const config: CodegenConfig = {
  // The Pothos schema, imported through tsx (see the codegen npm script).
  schema: './src/api/schema/codegen-entry.ts',
  documents: ['test/**/*.ts', '!test/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'schema.graphql': {
      plugins: ['schema-ast'],
      config: { includeDirectives: false, sort: true, commentDescriptions: false },
    },
    'test/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
      },
    },
  },
};

export default config;
