import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import { registerMetricsRoute, type MetricsEndpoint } from '../observability/metrics-route.js';
import { VERSION } from '../version.js';
import { AdminTokens } from './admin-tokens.js';
import { AdminUsers } from '../accounts/admin-users.js';
import { ApiError } from './api-error.js';
import { registerAccountRoutes } from './api/account-routes.js';
import { registerCapacityRoutes, type CapacitySettings } from './api/capacity-routes.js';
import { registerCatalogRoutes } from './api/catalog-routes.js';
import { registerDefenderRoutes } from './api/defender-routes.js';
import { registerClusterRoutes } from './api/cluster-routes.js';
import { registerSessionRoutes } from './api/session-routes.js';
import { registerTransferRoutes } from './api/transfer-routes.js';
import { installAuthentication } from './auth.js';
import { registerHealthRoutes, type HealthStatus } from './health-routes.js';
import { domainErrorStatus } from './domain-errors.js';

const TOKEN_PURGE_INTERVAL_MS = 60 * 60 * 1000;

export interface AdminServerOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string };
  db: Kysely<Database>;
  dialect: Dialect;
  deadAfterMs: number;
  /** node.heartbeat_interval: a node whose heartbeat is 3 of these late shows as suspect. */
  heartbeatIntervalMs: number;
  sessionTtlMs: number;
  loginRateLimit: number;
  status: () => HealthStatus | undefined;
  /** GET /metrics (Prometheus text format, no login). */
  metrics: MetricsEndpoint;
  log: Logger;
  /** The defaults of the capacity report (capacity.*, cluster.mode). */
  capacity: CapacitySettings;
  /** defender.window: how far back GET /defender/hosts shows failures. */
  defenderWindowMs?: number;
}

/**
 * The console's built files (vite build → dist/console): one folder up from the
 * shipped bundle (dist/cli), two from the compiled module (dist/src/admin).
 */
export function consoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return ['../console', '../../console'].map((up) => path.resolve(here, up)).find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

/**
 * The admin port: HTTPS serving the health checks, the REST API (/api/v1,
 * described at /openapi.json) and the web console. One per node, in the
 * supervisor; everything it shows and changes lives in the database, so any
 * node's console shows the whole cluster.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<{ server: FastifyInstance; port: number }> {
  // Typed as a plain FastifyInstance: the route modules need nothing of the HTTPS server or pino types.
  const server = Fastify({
    loggerInstance: options.log.child({ component: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
    https: { cert: options.tls.cert, key: options.tls.key },
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);
  server.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details = error.validation.map((v) => `${v.instancePath.replace(/^\//, '').replace(/\//g, '.') || error.validationContext}: ${v.message}`);
      return reply.code(400).send({ error: `invalid ${error.validationContext}: ${details.join('; ')}` });
    }
    const status = error instanceof ApiError ? error.statusCode : (domainErrorStatus(error) ?? error.statusCode ?? 500);
    if (status >= 500) options.log.error({ err: error.message, url: request.url }, 'admin API request failed');
    return reply.code(status).send({ error: status >= 500 ? 'internal error (see the node log)' : error.message });
  });

  await server.register(fastifyCookie);
  await server.register(fastifyRateLimit, { global: false });
  await server.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Ferry REST API',
        version: VERSION,
        description: 'Operate a Ferry node or cluster. Log in with POST /api/v1/login, then send Authorization: Bearer <token>.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  server.addHook('onSend', async (_request, reply) => {
    // The console loads only its own files and may not be framed by another site.
    reply.header('content-security-policy', "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('strict-transport-security', 'max-age=31536000');
  });
  const tokens = new AdminTokens(options.db);
  // Expired sessions and tokens are refused anyway; deleting them keeps the table small. Any node may.
  const purge = setInterval(() => {
    tokens.purgeExpired().catch((err) => options.log.warn({ err: (err as Error).message }, 'could not purge expired admin tokens'));
  }, TOKEN_PURGE_INTERVAL_MS);
  purge.unref();
  server.addHook('onClose', async () => clearInterval(purge));
  server.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: `no ${request.method} ${request.url.split('?')[0]}` }));
  registerHealthRoutes(server, options.status);
  registerMetricsRoute(server, options.metrics);
  server.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => server.swagger());

  await server.register(
    async (api) => {
      installAuthentication(api, tokens);
      registerSessionRoutes(api, { users: new AdminUsers(options.db), tokens, sessionTtlMs: options.sessionTtlMs, loginRateLimit: options.loginRateLimit });
      registerClusterRoutes(api, options.db, options.dialect, { deadAfterMs: options.deadAfterMs, heartbeatIntervalMs: options.heartbeatIntervalMs });
      registerTransferRoutes(api, options.db);
      registerAccountRoutes(api, options.db);
      registerCatalogRoutes(api, options.db);
      registerCapacityRoutes(api, options.db, options.capacity);
      registerDefenderRoutes(api, options.db, options.defenderWindowMs ?? 15 * 60_000);
    },
    { prefix: '/api/v1' },
  );

  const consoleRoot = consoleDir();
  if (consoleRoot) await server.register(fastifyStatic, { root: consoleRoot, prefix: '/', index: 'index.html' });

  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  return { server, port: typeof address === 'object' && address ? address.port : options.port };
}
