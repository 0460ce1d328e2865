import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import type { AdminTokens } from '../admin-tokens.js';
import type { AdminUsers } from '../../accounts/admin-users.js';
import { ApiError } from '../api-error.js';
import { principalOf, SESSION_COOKIE } from '../auth.js';

const MAX_TOKEN_TTL_MS = 366 * 24 * 60 * 60 * 1000;

/** Log in and out, who am I, and long-lived API tokens for scripts. */
export function registerSessionRoutes(
  server: FastifyInstance,
  deps: { users: AdminUsers; tokens: AdminTokens; sessionTtlMs: number; loginRateLimit: number },
): void {
  const api = server.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/login',
    {
      config: { access: 'public', rateLimit: { max: deps.loginRateLimit, timeWindow: 60_000 } },
      schema: {
        summary: 'Log in: sets the console session cookie and returns the same token for scripts',
        security: [],
        body: z.object({ name: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
      },
    },
    async (request, reply) => {
      const user = await deps.users.verify(request.body.name, request.body.password);
      if (!user) {
        request.log.warn({ admin: request.body.name, address: request.ip }, 'admin login failed');
        throw new ApiError(401, 'wrong name or password');
      }
      const { token, expiresAt } = await deps.tokens.issue(user.id, 'session', deps.sessionTtlMs);
      reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, secure: true, sameSite: 'strict', expires: new Date(expiresAt) });
      return { token, expires: new Date(expiresAt).toISOString(), user: { name: user.name, role: user.role } };
    },
  );

  api.post('/logout', { schema: { summary: 'End this session or revoke this token' } }, async (request, reply) => {
    await deps.tokens.revoke(principalOf(request).tokenId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { loggedOut: true };
  });

  api.get('/me', { schema: { summary: 'The logged-in admin user' } }, async (request) => ({
    name: principalOf(request).name,
    role: principalOf(request).role,
  }));

  api.post(
    '/tokens',
    {
      schema: {
        summary: 'Make an API token for scripts (with the caller’s role); only from a login session, not from another API token',
        body: z.object({ label: z.string().max(100).default(''), ttl: z.string().default('90d') }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A stolen token must not be able to outlive itself by minting a longer one.
      if (principal.kind !== 'session') throw new ApiError(403, 'API tokens are made from a login session (POST /api/v1/login), not with another API token');
      let ttlMs: number;
      try {
        ttlMs = parseDuration(request.body.ttl);
      } catch (err) {
        throw new ApiError(400, `invalid ttl: ${(err as Error).message}`);
      }
      if (ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS) throw new ApiError(400, 'ttl must be between 1 s and 366 days');
      const { token, expiresAt } = await deps.tokens.issue(principal.adminId, 'api', ttlMs, request.body.label);
      return { token, expires: new Date(expiresAt).toISOString(), label: request.body.label };
    },
  );

  api.get('/tokens', { schema: { summary: 'Live sessions and API tokens: your own; an admin sees everyone’s' } }, async (request) => {
    const principal = principalOf(request);
    const rows = await deps.tokens.list(principal.role === 'admin' ? undefined : principal.adminId);
    return rows.map((t) => ({
      id: Number(t.id),
      user: t.name,
      kind: t.kind,
      label: t.label,
      created: new Date(Number(t.created_at)).toISOString(),
      expires: new Date(Number(t.expires_at)).toISOString(),
      lastUsed: t.last_used_at === null ? null : new Date(Number(t.last_used_at)).toISOString(),
      current: Number(t.id) === principal.tokenId,
    }));
  });

  api.delete(
    '/tokens/:id',
    {
      schema: {
        summary: 'Revoke a session or API token: your own; an admin may revoke anyone’s',
        params: z.object({ id: z.coerce.number().int().positive() }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const revoked = await deps.tokens.revokeById(request.params.id, principal.role === 'admin' ? undefined : principal.adminId);
      if (!revoked) throw new ApiError(404, `no token with id ${request.params.id}`);
      return { id: request.params.id, revoked: true };
    },
  );
}
