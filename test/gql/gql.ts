/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query WhoAmI {\n    viewer { role tenant { name } }\n  }\n": typeof types.WhoAmIDocument,
    "\n  subscription AuthProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) { status percentDone }\n  }\n": typeof types.AuthProgressDocument,
    "\n  mutation AuthCreateCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n": typeof types.AuthCreateCampaignDocument,
    "\n  query AuthReadCampaign($id: ID!) {\n    campaign(id: $id) { id name }\n    node(id: $id) { id }\n    campaigns(first: 50) { edges { node { id } } }\n  }\n": typeof types.AuthReadCampaignDocument,
    "\n  mutation AuthTransitions($id: ID!) {\n    startCampaign(id: $id) { __typename ... on Error { message } }\n    pauseCampaign(id: $id) { __typename ... on Error { message } }\n    resumeCampaign(id: $id) { __typename ... on Error { message } }\n    cancelCampaign(id: $id) { __typename ... on Error { message } }\n  }\n": typeof types.AuthTransitionsDocument,
    "\n  mutation CreateLoopCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id status } }\n      ... on ValidationError { issues { path message } }\n    }\n  }\n": typeof types.CreateLoopCampaignDocument,
    "\n  mutation StartLoopCampaign($id: ID!) {\n    startCampaign(id: $id) {\n      __typename\n      ... on StartCampaignSuccess { data { id status counters { targeted } } }\n      ... on Error { message }\n    }\n  }\n": typeof types.StartLoopCampaignDocument,
    "\n  query LoopCampaign($id: ID!) {\n    campaign(id: $id) {\n      status\n      counters { targeted sent delivered read failed skipped unknown remaining percentDone }\n    }\n  }\n": typeof types.LoopCampaignDocument,
    "\n  subscription LoopProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) {\n      status\n      percentDone\n      counters { targeted sent delivered read failed remaining }\n    }\n  }\n": typeof types.LoopProgressDocument,
    "\n  mutation RegisterServer($input: RegisterEvolutionServerInput!) {\n    registerEvolutionServer(input: $input) {\n      __typename\n      ... on RegisterEvolutionServerSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n": typeof types.RegisterServerDocument,
    "\n  mutation RegisterInstance($input: RegisterInstanceInput!) {\n    registerInstance(input: $input) {\n      __typename\n      ... on RegisterInstanceSuccess { data { id name webhookUrl } }\n      ... on Error { message }\n    }\n  }\n": typeof types.RegisterInstanceDocument,
    "\n  mutation AddContacts($contacts: [ContactInput!]!) {\n    addContacts(contacts: $contacts) {\n      __typename\n      ... on AddContactsSuccess { data { created updated skipped failed } }\n      ... on Error { message }\n    }\n  }\n": typeof types.AddContactsDocument,
};
const documents: Documents = {
    "\n  query WhoAmI {\n    viewer { role tenant { name } }\n  }\n": types.WhoAmIDocument,
    "\n  subscription AuthProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) { status percentDone }\n  }\n": types.AuthProgressDocument,
    "\n  mutation AuthCreateCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n": types.AuthCreateCampaignDocument,
    "\n  query AuthReadCampaign($id: ID!) {\n    campaign(id: $id) { id name }\n    node(id: $id) { id }\n    campaigns(first: 50) { edges { node { id } } }\n  }\n": types.AuthReadCampaignDocument,
    "\n  mutation AuthTransitions($id: ID!) {\n    startCampaign(id: $id) { __typename ... on Error { message } }\n    pauseCampaign(id: $id) { __typename ... on Error { message } }\n    resumeCampaign(id: $id) { __typename ... on Error { message } }\n    cancelCampaign(id: $id) { __typename ... on Error { message } }\n  }\n": types.AuthTransitionsDocument,
    "\n  mutation CreateLoopCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id status } }\n      ... on ValidationError { issues { path message } }\n    }\n  }\n": types.CreateLoopCampaignDocument,
    "\n  mutation StartLoopCampaign($id: ID!) {\n    startCampaign(id: $id) {\n      __typename\n      ... on StartCampaignSuccess { data { id status counters { targeted } } }\n      ... on Error { message }\n    }\n  }\n": types.StartLoopCampaignDocument,
    "\n  query LoopCampaign($id: ID!) {\n    campaign(id: $id) {\n      status\n      counters { targeted sent delivered read failed skipped unknown remaining percentDone }\n    }\n  }\n": types.LoopCampaignDocument,
    "\n  subscription LoopProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) {\n      status\n      percentDone\n      counters { targeted sent delivered read failed remaining }\n    }\n  }\n": types.LoopProgressDocument,
    "\n  mutation RegisterServer($input: RegisterEvolutionServerInput!) {\n    registerEvolutionServer(input: $input) {\n      __typename\n      ... on RegisterEvolutionServerSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n": types.RegisterServerDocument,
    "\n  mutation RegisterInstance($input: RegisterInstanceInput!) {\n    registerInstance(input: $input) {\n      __typename\n      ... on RegisterInstanceSuccess { data { id name webhookUrl } }\n      ... on Error { message }\n    }\n  }\n": types.RegisterInstanceDocument,
    "\n  mutation AddContacts($contacts: [ContactInput!]!) {\n    addContacts(contacts: $contacts) {\n      __typename\n      ... on AddContactsSuccess { data { created updated skipped failed } }\n      ... on Error { message }\n    }\n  }\n": types.AddContactsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WhoAmI {\n    viewer { role tenant { name } }\n  }\n"): (typeof documents)["\n  query WhoAmI {\n    viewer { role tenant { name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription AuthProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) { status percentDone }\n  }\n"): (typeof documents)["\n  subscription AuthProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) { status percentDone }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AuthCreateCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation AuthCreateCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuthReadCampaign($id: ID!) {\n    campaign(id: $id) { id name }\n    node(id: $id) { id }\n    campaigns(first: 50) { edges { node { id } } }\n  }\n"): (typeof documents)["\n  query AuthReadCampaign($id: ID!) {\n    campaign(id: $id) { id name }\n    node(id: $id) { id }\n    campaigns(first: 50) { edges { node { id } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AuthTransitions($id: ID!) {\n    startCampaign(id: $id) { __typename ... on Error { message } }\n    pauseCampaign(id: $id) { __typename ... on Error { message } }\n    resumeCampaign(id: $id) { __typename ... on Error { message } }\n    cancelCampaign(id: $id) { __typename ... on Error { message } }\n  }\n"): (typeof documents)["\n  mutation AuthTransitions($id: ID!) {\n    startCampaign(id: $id) { __typename ... on Error { message } }\n    pauseCampaign(id: $id) { __typename ... on Error { message } }\n    resumeCampaign(id: $id) { __typename ... on Error { message } }\n    cancelCampaign(id: $id) { __typename ... on Error { message } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateLoopCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id status } }\n      ... on ValidationError { issues { path message } }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateLoopCampaign($input: CreateCampaignInput!) {\n    createCampaign(input: $input) {\n      __typename\n      ... on CreateCampaignSuccess { data { id status } }\n      ... on ValidationError { issues { path message } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartLoopCampaign($id: ID!) {\n    startCampaign(id: $id) {\n      __typename\n      ... on StartCampaignSuccess { data { id status counters { targeted } } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation StartLoopCampaign($id: ID!) {\n    startCampaign(id: $id) {\n      __typename\n      ... on StartCampaignSuccess { data { id status counters { targeted } } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LoopCampaign($id: ID!) {\n    campaign(id: $id) {\n      status\n      counters { targeted sent delivered read failed skipped unknown remaining percentDone }\n    }\n  }\n"): (typeof documents)["\n  query LoopCampaign($id: ID!) {\n    campaign(id: $id) {\n      status\n      counters { targeted sent delivered read failed skipped unknown remaining percentDone }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LoopProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) {\n      status\n      percentDone\n      counters { targeted sent delivered read failed remaining }\n    }\n  }\n"): (typeof documents)["\n  subscription LoopProgress($campaignId: ID!) {\n    campaignProgress(campaignId: $campaignId) {\n      status\n      percentDone\n      counters { targeted sent delivered read failed remaining }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegisterServer($input: RegisterEvolutionServerInput!) {\n    registerEvolutionServer(input: $input) {\n      __typename\n      ... on RegisterEvolutionServerSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation RegisterServer($input: RegisterEvolutionServerInput!) {\n    registerEvolutionServer(input: $input) {\n      __typename\n      ... on RegisterEvolutionServerSuccess { data { id } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegisterInstance($input: RegisterInstanceInput!) {\n    registerInstance(input: $input) {\n      __typename\n      ... on RegisterInstanceSuccess { data { id name webhookUrl } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation RegisterInstance($input: RegisterInstanceInput!) {\n    registerInstance(input: $input) {\n      __typename\n      ... on RegisterInstanceSuccess { data { id name webhookUrl } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddContacts($contacts: [ContactInput!]!) {\n    addContacts(contacts: $contacts) {\n      __typename\n      ... on AddContactsSuccess { data { created updated skipped failed } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation AddContacts($contacts: [ContactInput!]!) {\n    addContacts(contacts: $contacts) {\n      __typename\n      ... on AddContactsSuccess { data { created updated skipped failed } }\n      ... on Error { message }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;