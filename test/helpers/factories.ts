import { createTenant } from '../../src/features/auth/api-keys.js';
import { graphql } from '../gql/index.js';
import { gqlOk } from './graphql.js';
import { SIM_API_KEY, type Stack } from './stack.js';

export async function newTenant(name = 'Tenant') {
  const { tenant, key } = await createTenant({ name });
  return { tenantId: tenant.id, key };
}

const RegisterServer = graphql(`
  mutation RegisterServer($input: RegisterEvolutionServerInput!) {
    registerEvolutionServer(input: $input) {
      __typename
      ... on RegisterEvolutionServerSuccess { data { id } }
      ... on Error { message }
    }
  }
`);

const RegisterInstance = graphql(`
  mutation RegisterInstance($input: RegisterInstanceInput!) {
    registerInstance(input: $input) {
      __typename
      ... on RegisterInstanceSuccess { data { id name webhookUrl } }
      ... on Error { message }
    }
  }
`);

export interface SenderOptions {
  name?: string;
  limitPerMinute?: number;
  limitPerHour?: number;
  limitPerDay?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  jwtKey?: string;
  /** Evolution's integration for the instance (default WHATSAPP-BAILEYS), on the simulator and as registered. */
  integration?: 'WHATSAPP-BAILEYS' | 'WHATSAPP-BUSINESS';
}

/**
 * Registers an Evolution server and an instance through GraphQL, then configures that instance on
 * the simulator exactly as on a real Evolution (POST /instance/create with the webhook URL we gave).
 */
export async function addSender(stack: Stack, key: string, opts: SenderOptions = {}) {
  const name = opts.name ?? `inst-${Math.random().toString(36).slice(2, 8)}`;
  const server = await gqlOk(stack.url, key, RegisterServer, {
    input: { name: `evo-${name}`, baseUrl: stack.sim.url, apiKey: SIM_API_KEY },
  });
  if (server.registerEvolutionServer.__typename !== 'RegisterEvolutionServerSuccess') throw new Error(JSON.stringify(server));
  const instance = await gqlOk(stack.url, key, RegisterInstance, {
    input: {
      serverId: server.registerEvolutionServer.data.id,
      name,
      limitPerMinute: opts.limitPerMinute ?? 1000,
      limitPerHour: opts.limitPerHour ?? 60_000,
      limitPerDay: opts.limitPerDay ?? 1_000_000,
      minDelayMs: opts.minDelayMs ?? 0,
      maxDelayMs: opts.maxDelayMs ?? 0,
      jwtKey: opts.jwtKey,
      ...(opts.integration ? { integration: opts.integration === 'WHATSAPP-BUSINESS' ? ('WHATSAPP_BUSINESS' as const) : ('WHATSAPP_BAILEYS' as const) } : {}),
    },
  });
  if (instance.registerInstance.__typename !== 'RegisterInstanceSuccess') throw new Error(JSON.stringify(instance));
  const { id, webhookUrl } = instance.registerInstance.data;
  const res = await fetch(`${stack.sim.url}/instance/create`, {
    method: 'POST',
    headers: { apikey: SIM_API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      instanceName: name,
      integration: opts.integration ?? 'WHATSAPP-BAILEYS',
      // A Cloud API instance is created with Meta's access token and phone number id.
      ...(opts.integration === 'WHATSAPP-BUSINESS' ? { token: `EAAG${Math.random().toString(36).slice(2)}`, businessId: '102290129340398' } : {}),
      number: `55119${Math.floor(10_000_000 + Math.random() * 89_999_999)}`,
      webhook: {
        url: webhookUrl,
        byEvents: false,
        base64: false,
        headers: opts.jwtKey ? { jwt_key: opts.jwtKey } : {},
        events: ['MESSAGES_UPDATE', 'SEND_MESSAGE', 'MESSAGES_UPSERT', 'CONNECTION_UPDATE', 'QRCODE_UPDATED'],
      },
    }),
  });
  if (res.status !== 201) throw new Error(`simulator refused the instance: ${res.status} ${await res.text()}`);
  stack.sim.setConnectionState(name, 'open');
  return { instanceId: id, name, webhookUrl: webhookUrl as string };
}

const AddContacts = graphql(`
  mutation AddContacts($contacts: [ContactInput!]!) {
    addContacts(contacts: $contacts) {
      __typename
      ... on AddContactsSuccess { data { created updated skipped failed } }
      ... on Error { message }
    }
  }
`);

/** `n` valid Brazilian mobile numbers, distinct for a given `seed`. */
export function phones(n: number, seed = 0): string[] {
  return Array.from({ length: n }, (_, i) => `+55119${String(60_000_000 + seed * 100_000 + i).padStart(8, '0')}`);
}

export async function addContacts(stack: Stack, key: string, list: Array<{ phone: string; name?: string; tags?: string[] }>) {
  const data = await gqlOk(stack.url, key, AddContacts, { contacts: list });
  if (data.addContacts.__typename !== 'AddContactsSuccess') throw new Error(JSON.stringify(data));
  return data.addContacts.data;
}
