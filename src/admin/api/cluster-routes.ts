import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ClusterAdmin, type Liveness } from '../../cluster/cluster-admin.js';
import type { Dialect } from '../../db/connect.js';
import type { Database } from '../../db/schema.js';
import { clusterJson } from '../../views/cluster-view.js';

/** The cluster as `ferry cluster status --json` shows it: nodes, roles, readiness, heartbeat ages, sessions, events. */
export function registerClusterRoutes(server: FastifyInstance, db: Kysely<Database>, dialect: Dialect, liveness: Liveness): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const cluster = new ClusterAdmin(db, dialect, liveness);
  api.get(
    '/cluster',
    { schema: { summary: 'Nodes and recent cluster events', querystring: z.object({ events: z.coerce.number().int().min(0).max(1000).default(20) }) } },
    async (request) => clusterJson(await cluster.view(request.query.events)),
  );
}
