// What GraphQL Code Generator loads: the sorted schema as the module's `schema` export.
export { sortedSchema as schema } from './index.js';
