import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { authenticateApiKey } from '../../src/features/auth/api-keys.js';
import { prisma } from '../../src/infra/db/client.js';

/** Runs `npm run cli -- …` the way an operator does (same entry point), with this file's environment. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, LOG_LEVEL: 'silent' }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the CLI', () => {
  it('creates a tenant and prints its first ADMIN key as JSON, then creates and revokes keys', async () => {
    const created = cli('tenant:create', '--name', 'CLI Co', '--country', 'pt', '--timezone', 'Europe/Lisbon');
    expect(created.code, created.stderr).toBe(0);
    const t = JSON.parse(created.stdout) as { tenantId: string; apiKey: string; role: string };
    expect(t.role).toBe('ADMIN');
    const auth = await authenticateApiKey(t.apiKey);
    expect(auth).toMatchObject({ ok: true, viewer: { tenantId: t.tenantId, role: 'ADMIN' } });
    expect(await prisma.tenant.findUniqueOrThrow({ where: { id: t.tenantId } })).toMatchObject({ name: 'CLI Co', country: 'PT', timezone: 'Europe/Lisbon' });

    const k = cli('key:create', '--tenant', t.tenantId, '--name', 'ci', '--role', 'viewer');
    expect(k.code, k.stderr).toBe(0);
    const key = JSON.parse(k.stdout) as { apiKeyId: string; apiKey: string; role: string };
    expect(key.role).toBe('VIEWER');
    expect(await authenticateApiKey(key.apiKey)).toMatchObject({ ok: true, viewer: { role: 'VIEWER' } });

    const listed = JSON.parse(cli('key:list', '--tenant', t.tenantId).stdout) as Array<{ apiKeyId: string; prefix: string }>;
    expect(listed.map((l) => l.apiKeyId)).toContain(key.apiKeyId);
    expect(JSON.stringify(listed)).not.toContain(key.apiKey);

    const revoked = cli('key:revoke', '--tenant', t.tenantId, '--key', key.apiKeyId);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await authenticateApiKey(key.apiKey)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('refuses bad usage with exit code 64 and says why', () => {
    const none = cli();
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/a command is required/);
    const badRole = cli('key:create', '--tenant', '00000000-0000-4000-8000-000000000000', '--role', 'ROOT');
    expect(badRole.code).toBe(64);
    expect(badRole.stderr).toMatch(/--role must be one of ADMIN, OPERATOR, VIEWER/);
    const noName = cli('tenant:create');
    expect(noName.code).toBe(64);
    expect(noName.stderr).toMatch(/--name is required/);
  });
});
