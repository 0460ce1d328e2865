import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/schema.js';
import { MonitorStore } from '../../monitor/monitors.js';
import { PartnerStore } from '../../routing/partners.js';
import { RouteStore } from '../../routing/routes.js';
import { ScheduleStore } from '../../scheduler/schedules.js';
import { monitorJson, partnerJson, routeJson, scheduleJson } from '../../views/catalog-views.js';
import { ApiError } from '../api-error.js';
import { principalOf } from '../auth.js';

interface NamedStore<Row> {
  list(): Promise<Row[]>;
  find(name: string): Promise<Row | undefined>;
  remove(name: string): Promise<void>;
}

/** GET /things, GET /things/:name and (admin) DELETE /things/:name for one kind of named thing. */
function registerNamed<Row>(server: FastifyInstance, plural: string, noun: string, store: NamedStore<Row>, json: (row: Row) => unknown): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const params = z.object({ name: z.string().min(1).max(64) });
  api.get(`/${plural}`, { schema: { summary: `All ${plural}` } }, async () => (await store.list()).map(json));
  api.get(`/${plural}/:name`, { schema: { summary: `One ${noun}`, params } }, async (request) => {
    const row = await store.find(request.params.name);
    if (!row) throw new ApiError(404, `no ${noun} named "${request.params.name}"`);
    return json(row);
  });
  api.delete(`/${plural}/:name`, { config: { access: 'admin' }, schema: { summary: `Remove a ${noun}`, params } }, async (request) => {
    await store.remove(request.params.name);
    request.log.info({ [noun]: request.params.name, admin: principalOf(request).name }, `${noun} removed`);
    return { name: request.params.name, removed: true };
  });
}

/** Partners, routes, schedules and folder monitors, in the shapes of their `--json` output. */
export function registerCatalogRoutes(server: FastifyInstance, db: Kysely<Database>): void {
  registerNamed(server, 'partners', 'partner', new PartnerStore(db), partnerJson);
  registerNamed(server, 'routes', 'route', new RouteStore(db), routeJson);
  registerNamed(server, 'schedules', 'schedule', new ScheduleStore(db), scheduleJson);
  registerNamed(server, 'monitors', 'monitor', new MonitorStore(db), monitorJson);
}
