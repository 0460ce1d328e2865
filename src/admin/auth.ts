import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminRole } from '../db/schema.js';
import type { AdminTokens, Principal } from './admin-tokens.js';
import { ApiError } from './api-error.js';

export const SESSION_COOKIE = 'ferry_session';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Who may call the route: public (no login), operator (reads, resubmits), admin (changes). Default operator. */
    access?: 'public' | AdminRole;
  }
}

const RANK: Record<AdminRole, number> = { operator: 1, admin: 2 };

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** A browser request that changes something must come from the console's own origin (cookies alone do not prove that). */
function crossSite(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (!origin || ['GET', 'HEAD', 'OPTIONS'].includes(request.method)) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

/**
 * Installed inside the /api/v1 plugin, so it runs for every route the router
 * matched there, however the URL was spelled (percent-encoded, absolute form):
 * each needs a logged-in principal with enough role unless its config says
 * `access: 'public'`. Scripts send `Authorization: Bearer <token>`; the console
 * sends its session cookie (HttpOnly, Secure, SameSite=Strict).
 */
export function installAuthentication(api: FastifyInstance, tokens: AdminTokens): void {
  api.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const access = request.routeOptions.config?.access ?? 'operator';
    if (access === 'public') return;
    const bearer = bearerToken(request);
    const token = bearer ?? request.cookies[SESSION_COOKIE];
    const principal = token ? await tokens.check(token) : undefined;
    if (!principal) throw new ApiError(401, 'log in first: send a bearer token or the session cookie');
    if (!bearer && crossSite(request)) throw new ApiError(403, 'cross-site request refused');
    if (RANK[principal.role] < RANK[access]) throw new ApiError(403, `this needs the ${access} role; ${principal.name} is ${principal.role}`);
    request.principal = principal;
  });
}

/** The logged-in principal of an API request (the hook above set it; refused if somehow not). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError(401, 'log in first: send a bearer token or the session cookie');
  return request.principal;
}
