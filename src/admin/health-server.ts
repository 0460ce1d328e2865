import Fastify, { type FastifyInstance } from 'fastify';
import type { NodeStatus } from '../cluster/coordinator.js';
import { registerMetricsRoute, type MetricsEndpoint } from '../observability/metrics-route.js';

/**
 * /health/live and /health/ready for load balancers: live while the process
 * answers; ready (200, else 503) while this node should get client sessions,
 * which depends on the cluster mode, its role, its state and the database.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  /** Undefined while the node is still starting. */
  status: () => (NodeStatus & { nodeId: string; name: string }) | undefined;
  metrics: MetricsEndpoint;
}): Promise<{ server: FastifyInstance; port: number }> {
  const server = Fastify({ logger: false });
  server.get('/health/live', async () => ({ live: true }));
  server.get('/health/ready', async (_request, reply) => {
    const s = options.status();
    if (!s) {
      reply.code(503);
      return { ready: false, reason: 'starting' };
    }
    reply.code(s.ready ? 200 : 503);
    return { ready: s.ready, reason: s.reason, role: s.role, mode: s.mode, state: s.state, node: s.name, nodeId: s.nodeId };
  });
  registerMetricsRoute(server, options.metrics);
  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  return { server, port: typeof address === 'object' && address ? address.port : options.port };
}
