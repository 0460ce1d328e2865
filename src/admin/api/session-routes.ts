import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import type { AdminTokens } from '../admin-tokens.js';
import type { AdminUsers } from '../admin-users.js';
import { ApiError } from '../api-error.js';
import { SESSION_COOKIE } from '../auth.js';

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
    await deps.tokens.revoke(request.principal!.tokenId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { loggedOut: true };
  });

  api.get('/me', { schema: { summary: 'The logged-in admin user' } }, async (request) => ({
    name: request.principal!.name,
    role: request.principal!.role,
  }));

  api.post(
    '/tokens',
    {
      schema: {
        summary: 'Make an API token for scripts (with the caller’s role)',
        body: z.object({ label: z.string().max(100).default(''), ttl: z.string().default('90d') }),
      },
    },
    async (request) => {
      let ttlMs: number;
      try {
        ttlMs = parseDuration(request.body.ttl);
      } catch (err) {
        throw new ApiError(400, `invalid ttl: ${(err as Error).message}`);
      }
      if (ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS) throw new ApiError(400, 'ttl must be between 1 s and 366 days');
      const { token, expiresAt } = await deps.tokens.issue(request.principal!.adminId, 'api', ttlMs, request.body.label);
      return { token, expires: new Date(expiresAt).toISOString(), label: request.body.label };
    },
  );
}
