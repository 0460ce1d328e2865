import type { FastifyInstance } from 'fastify';

export interface MetricsEndpoint {
  scrape(): Promise<string>;
  contentType: string;
}

/** GET /metrics in the Prometheus text format, without login (what Prometheus expects). */
export function registerMetricsRoute(server: FastifyInstance, metrics: MetricsEndpoint): void {
  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.scrape();
  });
}
