import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/schema.js';
import { deliveryHistory, resubmitDelivery } from '../../routing/resubmit.js';
import { TRANSFER_STATUSES, TransferLog } from '../../transfers/transfer-log.js';
import { attemptJson, transferJson } from '../../views/transfer-view.js';
import { ApiError } from '../api-error.js';
import { principalOf } from '../auth.js';

const time = z.iso.datetime({ offset: true }).transform((t) => Date.parse(t));
const id = z.object({ id: z.coerce.number().int().positive() });

/** File tracking: search the transfer log, one transfer with its delivery attempts, resubmit, throughput. */
export function registerTransferRoutes(server: FastifyInstance, db: Kysely<Database>): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const log = new TransferLog(db);

  api.get(
    '/transfers',
    {
      schema: {
        summary: 'Search the transfer log, newest first; page with before=<last id>',
        querystring: z.object({
          account: z.string().optional(),
          status: z.enum(TRANSFER_STATUSES as [string, ...string[]]).optional(),
          direction: z.enum(['upload', 'download', 'delivery']).optional(),
          path: z.string().max(1024).optional().describe('paths containing this text'),
          since: time.optional().describe('started at or after (RFC 3339)'),
          until: time.optional().describe('started before (RFC 3339)'),
          before: z.coerce.number().int().positive().optional().describe('only ids below this: the next page'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await log.list({
        account: q.account,
        status: q.status as (typeof TRANSFER_STATUSES)[number] | undefined,
        direction: q.direction,
        pathContains: q.path,
        since: q.since,
        until: q.until,
        beforeId: q.before,
        limit: q.limit,
      });
      return { transfers: rows.map(transferJson), next: rows.length === q.limit ? Number(rows[rows.length - 1]!.id) : null };
    },
  );

  api.get('/transfers/:id', { schema: { summary: 'One transfer; a delivery with every attempt', params: id } }, async (request) => {
    const row = await log.get(request.params.id);
    if (!row) throw new ApiError(404, `no transfer with id ${request.params.id}`);
    const history = row.job_id === null ? undefined : (await deliveryHistory(db, Number(row.job_id))).map(attemptJson);
    return { ...transferJson(row), ...(history ? { history } : {}) };
  });

  api.post('/transfers/:id/resubmit', { schema: { summary: 'Queue a failed delivery again', params: id } }, async (request) => {
    await resubmitDelivery(db, request.params.id);
    request.log.info({ transfer: request.params.id, admin: principalOf(request).name }, 'delivery resubmitted');
    return { id: request.params.id, queued: true };
  });

  api.get(
    '/throughput',
    {
      schema: {
        summary: 'Bytes and transfers per minute, by direction, over the last minutes',
        querystring: z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(30) }),
      },
    },
    async (request) => {
      const now = Date.now();
      const from = Math.floor((now - request.query.minutes * 60_000) / 60_000) * 60_000;
      const totals = await log.completedPerMinute(from);
      return {
        from: new Date(from).toISOString(),
        minutes: totals.map((t) => ({ ...t, minute: new Date(t.minute).toISOString() })),
      };
    },
  );
}
