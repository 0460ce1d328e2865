import type { FastifyInstance } from 'fastify';
import type { NodeStatus } from '../cluster/coordinator.js';

export type HealthStatus = NodeStatus & { nodeId: string; name: string };

/**
 * /health/live and /health/ready for load balancers: live while the process
 * answers; ready (200, else 503) while this node should get client sessions,
 * which depends on the cluster mode, its role, its state and the database.
 */
export function registerHealthRoutes(server: FastifyInstance, status: () => HealthStatus | undefined): void {
  server.get('/health/live', { config: { access: 'public' } }, async () => ({ live: true }));
  server.get('/health/ready', { config: { access: 'public' } }, async (_request, reply) => {
    const s = status();
    if (!s) {
      reply.code(503);
      return { ready: false, reason: 'starting' };
    }
    reply.code(s.ready ? 200 : 503);
    return { ready: s.ready, reason: s.reason, role: s.role, mode: s.mode, state: s.state, node: s.name, nodeId: s.nodeId };
  });
}
