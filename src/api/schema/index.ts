import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './errors.js';
import './viewer.js';
import './sender.js';
import './contact.js';
import './segment.js';
import './counters.js';
import './campaign.js';
import './campaign-mutations.js';
import './plan.js';
import './log.js';
import './live.js';
import './analytics.js';
import './ab-test.js';
import './tenant-analytics.js';
import './conversion.js';

export const schema = builder.toSchema();
/** What codegen writes to schema.graphql. */
export const sortedSchema = lexicographicSortSchema(schema);
