import {
  AppError,
  CampaignNotReadyError,
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
} from '../../domain/errors.js';
import { builder } from './builder.js';

/** Every typed error a client may receive implements this interface. */
export const ErrorInterface = builder.interfaceRef<AppError>('Error').implement({
  description: 'A failure the client can act on; the union member says which.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One invalid input value: where it is and what is wrong with it.',
  fields: (t) => ({
    path: t.stringList({ description: 'Path of the field in the input, e.g. ["input", "messages", "0", "text"].', resolve: (i) => i.path.map(String) }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ resource: t.exposeString('resource'), id: t.exposeString('id') }),
});

builder.objectType(InvalidTransitionError, {
  name: 'InvalidTransitionError',
  description: 'The action is not allowed in the current state.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    currentState: t.exposeString('currentState'),
    requestedAction: t.exposeString('requestedAction'),
    allowedFrom: t.exposeStringList('allowedFrom'),
  }),
});

export const NotReadyReasonEnum = builder.enumType('CampaignNotReadyReason', {
  values: ['NO_VARIATION', 'NO_USABLE_INSTANCE', 'EMPTY_AUDIENCE'] as const,
});

builder.objectType(CampaignNotReadyError, {
  name: 'CampaignNotReadyError',
  description: 'The campaign cannot start; `reason` says what is missing.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ reason: t.field({ type: NotReadyReasonEnum, resolve: (e) => e.reason }) }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description: "The API key's role does not allow this operation.",
  interfaces: [ErrorInterface],
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The change conflicts with existing data (a name or phone already used).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString('field', { nullable: true }) }),
});

/** The errors every mutation can return. */
export const MUTATION_ERRORS = [ValidationError, ForbiddenError, NotFoundError] as const;
