import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { recordDeliveryRequeued } from '../transfers/delivery-rows.js';

export class ResubmitError extends Error {}

/**
 * Puts a failed delivery back in the queue with fresh attempts (queue.max_attempts
 * more), keeping its history: the attempts that follow are numbered on from the
 * last one (deliver-handler.ts). Its transfer row shows 'queued' again. Refused for anything but a
 * failed delivery, so a resubmit can never send a file twice.
 */
export async function resubmitDelivery(db: Kysely<Database>, transferId: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const transfer = await trx.selectFrom('transfers').select(['direction', 'status', 'job_id']).where('id', '=', transferId).executeTakeFirst();
    if (!transfer) throw new ResubmitError(`no transfer with id ${transferId}`);
    if (transfer.direction !== 'delivery' || transfer.job_id === null) {
      throw new ResubmitError(`transfer ${transferId} is an ${transfer.direction}, not a delivery: only deliveries can be resubmitted`);
    }
    if (transfer.status !== 'failed') throw new ResubmitError(`transfer ${transferId} is ${transfer.status}: only a failed delivery can be resubmitted`);
    const job = await trx
      .updateTable('jobs')
      .set({ status: 'queued', attempts: 0, run_after: 0, last_error: null, updated_at: Date.now() })
      .where('id', '=', Number(transfer.job_id))
      .where('status', '=', 'failed')
      .executeTakeFirst();
    if (Number(job.numUpdatedRows) !== 1) throw new ResubmitError(`the work item of transfer ${transferId} is not failed any more`);
    await recordDeliveryRequeued(trx, transferId);
  });
}

export function deliveryHistory(db: Kysely<Database>, jobId: number) {
  return db.selectFrom('job_attempts').selectAll().where('job_id', '=', jobId).orderBy('id').execute();
}
