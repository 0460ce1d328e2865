import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/schema.js';
import type { ClusterMode } from '../../observability/capacity/headroom.js';
import { loadCapacityReport } from '../../observability/capacity/load-report.js';
import { capacityWindow, CapacityWindowError } from '../../observability/capacity/window.js';
import { capacityJson } from '../../views/capacity-view.js';
import { ApiError } from '../api-error.js';

export interface CapacitySettings {
  windowMs: number;
  intervalMs: number;
  nodeThroughput?: number;
  mode: ClusterMode;
  minSamples: number;
}

/** The capacity report as `ferry capacity --json` shows it (docs/capacity.md). */
export function registerCapacityRoutes(server: FastifyInstance, db: Kysely<Database>, settings: CapacitySettings): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/capacity',
    {
      schema: {
        summary: 'Transfer-time statistics per interval, nearing capacity, failover headroom',
        querystring: z.object({ since: z.string().optional(), interval: z.string().optional() }),
      },
    },
    async (request) => {
      let window;
      try {
        window = capacityWindow(request.query, settings);
      } catch (err) {
        if (err instanceof CapacityWindowError) throw new ApiError(400, err.message);
        throw err;
      }
      const report = await loadCapacityReport(db, {
        ...window,
        capacity: settings.nodeThroughput,
        defaultMode: settings.mode,
        minSamples: settings.minSamples,
      });
      return capacityJson(report);
    },
  );
}
