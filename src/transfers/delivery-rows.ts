import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The transfer-log rows that routing and the scheduler write: a delivery's row
 * (queued with its job, then one update per attempt) and a scheduled pull's
 * upload row. Only src/transfers/ writes the `transfers` table; the callers pass
 * the transaction their own writes are in, so a row and its cause commit together.
 */
type Db = Kysely<Database> | Transaction<Database>;

export interface QueuedDelivery {
  jobId: number;
  /** What caused it: `route:NAME`, `schedule:NAME`, `monitor:NAME` ... */
  origin: string;
  account: string;
  path: string;
  /** `local`, `partner`, or both joined by `+`. */
  protocol: string;
  /** Where it goes, as people read it. */
  destination: string;
}

/** Records a delivery queued with its job: status `queued`, no attempt yet. Returns the row's id. */
export async function recordQueuedDelivery(db: Db, d: QueuedDelivery): Promise<number> {
  const row = await db
    .insertInto('transfers')
    .values({
      node_id: '',
      worker_pid: 0,
      session_id: d.origin,
      account: d.account,
      protocol: d.protocol,
      client_address: d.origin,
      path: d.path,
      direction: 'delivery',
      start_offset: 0,
      bytes: 0,
      started_at: Date.now(),
      status: 'queued',
      job_id: d.jobId,
      attempts: 0,
      destination: d.destination,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** A delivery's attempt `attempt` began on this node. */
export async function recordDeliveryAttemptStarted(db: Db, transferId: number, attempt: { nodeId: string; workerPid: number; number: number }): Promise<void> {
  await db
    .updateTable('transfers')
    .set({ status: 'in-progress', node_id: attempt.nodeId, worker_pid: attempt.workerPid, attempts: attempt.number, error: null })
    .where('id', '=', transferId)
    .execute();
}

export type DeliveryOutcome =
  | { status: 'completed'; bytes: number; sha256: string | null; resumedAt: number; destinations: string[] }
  | { status: 'completed-unrecorded' }
  | { status: 'retry' | 'failed'; error: string };

/**
 * Records how an attempt ended: completed (with what was sent), queued again for a
 * retry, or failed for good. The attempt count is the highest attempt the job has
 * recorded, so it goes on across resubmits; nothing recorded leaves it as it was.
 */
export async function recordDeliveryOutcome(db: Db, transferId: number, jobId: number, outcome: DeliveryOutcome): Promise<void> {
  const now = Date.now();
  // An attempt whose start could not be recorded (the database refused it) has no history row: the count stays.
  const attempts = sql<number>`coalesce((select max(attempt) from job_attempts where job_id = ${jobId}), attempts)`;
  if (outcome.status === 'retry') {
    await db.updateTable('transfers').set({ status: 'queued', attempts, error: outcome.error }).where('id', '=', transferId).execute();
    return;
  }
  if (outcome.status === 'failed') {
    await db.updateTable('transfers').set({ status: 'failed', attempts, error: outcome.error, ended_at: now }).where('id', '=', transferId).execute();
    return;
  }
  await db
    .updateTable('transfers')
    .set({
      status: 'completed',
      attempts,
      error: null,
      ended_at: now,
      ...(outcome.status === 'completed'
        ? { bytes: outcome.bytes, sha256: outcome.sha256, start_offset: outcome.resumedAt, destination: outcome.destinations.join(', ') }
        : {}),
    })
    .where('id', '=', transferId)
    .execute();
}

/** A failed delivery resubmitted: queued again, its end cleared. */
export async function recordDeliveryRequeued(db: Db, transferId: number): Promise<void> {
  await db.updateTable('transfers').set({ status: 'queued', ended_at: null }).where('id', '=', transferId).execute();
}

export interface PulledFile {
  nodeId: string;
  workerPid: number;
  schedule: string;
  partner: string;
  account: string;
  path: string;
  bytes: number;
  sha256: string;
  startedAt: number;
}

/** A file a schedule pulled from a partner into an account: a completed upload (protocol `sftp-pull`). */
export async function recordPulledFile(db: Db, f: PulledFile): Promise<void> {
  await db
    .insertInto('transfers')
    .values({
      node_id: f.nodeId,
      worker_pid: f.workerPid,
      session_id: `schedule:${f.schedule}`,
      account: f.account,
      protocol: 'sftp-pull',
      client_address: `partner:${f.partner}`,
      path: f.path,
      direction: 'upload',
      start_offset: 0,
      bytes: f.bytes,
      started_at: f.startedAt,
      ended_at: Date.now(),
      sha256: f.sha256,
      status: 'completed',
    })
    .execute();
}
