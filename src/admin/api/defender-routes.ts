import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { DefenderError, DefenderHosts } from '../../accounts/defender.js';
import type { Database } from '../../db/schema.js';
import { defenderHostJson } from '../../views/defender-view.js';
import { ApiError } from '../api-error.js';
import { principalOf } from '../auth.js';

/** The defender's banned and watched addresses: the same as `ferry defender list|unban`, in the same JSON shape. */
export function registerDefenderRoutes(server: FastifyInstance, db: Kysely<Database>, windowMs: number): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const hosts = new DefenderHosts(db);

  api.get('/defender/hosts', { schema: { summary: 'Banned addresses, and addresses with failed logins in the current window' } }, async () =>
    (await hosts.list(windowMs)).map((h) => defenderHostJson(h)),
  );

  api.delete(
    '/defender/hosts/:address',
    {
      config: { access: 'admin' as const },
      schema: { summary: 'Lift the ban of an address and forget its failures', params: z.object({ address: z.string().min(1).max(100) }) },
    },
    async (request) => {
      let address: string | null;
      try {
        address = await hosts.unban(request.params.address);
      } catch (err) {
        if (err instanceof DefenderError) throw new ApiError(400, err.message);
        throw err;
      }
      if (!address) throw new ApiError(404, `the defender has no record of ${request.params.address}: it is not banned`);
      request.log.info({ address, admin: principalOf(request).name }, 'address unbanned');
      return { address, unbanned: true };
    },
  );
}
