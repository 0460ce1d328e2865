import { sql, type Expression, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import { dbNow } from '../db/clock.js';
import type { Dialect } from '../db/connect.js';
import type { Database, JobsTable } from '../db/schema.js';

export type JobRow = Selectable<JobsTable>;

export interface NewJob {
  kind: string;
  payload: unknown;
  maxAttempts: number;
  /** Work that must exist once only: a second enqueue with the same key is a no-op. */
  dedupeKey?: string;
  transferId?: number;
  runAfter?: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  /** Delay before the second attempt; doubles with every further attempt. */
  retryDelayMs: number;
  retryMaxDelayMs: number;
}

/** The claim a worker holds on a job: its id and the lease token of this claim. */
export interface JobClaim {
  id: number;
  leaseToken: number;
}

/** Delay before the next attempt after `attempts` failed ones: exponential, capped. */
export function backoffMs(attempts: number, policy: Pick<RetryPolicy, 'retryDelayMs' | 'retryMaxDelayMs'>): number {
  return Math.min(policy.retryMaxDelayMs, policy.retryDelayMs * 2 ** Math.max(0, attempts - 1));
}

/**
 * Inserts a job inside the caller's transaction, so the job exists exactly when
 * the event that caused it is committed. Returns its id, or undefined when a job
 * with the same dedupe key already exists.
 */
export async function enqueueJob(trx: Kysely<Database> | Transaction<Database>, job: NewJob): Promise<number | undefined> {
  const now = Date.now();
  const row = await trx
    .insertInto('jobs')
    .values({
      kind: job.kind,
      dedupe_key: job.dedupeKey ?? null,
      payload: JSON.stringify(job.payload),
      status: 'queued',
      attempts: 0,
      max_attempts: job.maxAttempts,
      run_after: job.runAfter ?? 0,
      lease_token: 0,
      transfer_id: job.transferId ?? null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row ? Number(row.id) : undefined;
}

/**
 * The persistent work queue. Nodes claim jobs with a lease on the database clock
 * (PostgreSQL: FOR UPDATE SKIP LOCKED, so claimers never wait on each other) and
 * heartbeat it while they work; a job whose lease runs out is claimed again by any
 * node. Every write after the claim carries the claim's lease token, so a worker
 * whose lease was taken over cannot complete or fail the job any more.
 */
export class WorkQueue {
  constructor(
    readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly nodeId: string,
    private readonly leaseTtlMs: number,
  ) {}

  /** Claims up to `limit` runnable jobs: queued and due, or running with an expired lease. */
  async claim(limit: number): Promise<JobRow[]> {
    const now = dbNow(this.dialect);
    const lock = this.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const result = await sql<JobRow>`
      update jobs set
        status = 'running',
        attempts = attempts + 1,
        lease_owner = ${this.nodeId},
        lease_token = lease_token + 1,
        lease_expires_at = ${now} + ${this.leaseTtlMs},
        updated_at = ${Date.now()}
      where id in (
        select id from jobs
        where status in ('queued', 'running')
          and ((status = 'queued' and run_after <= ${now}) or (status = 'running' and lease_expires_at <= ${now}))
        order by run_after, id
        limit ${limit}
        ${lock}
      )
      returning *`.execute(this.db);
    return result.rows.map(normalizeJob);
  }

  /** Extends the leases of the given claims; returns the ids whose lease this node no longer holds. */
  async heartbeat(claims: JobClaim[]): Promise<number[]> {
    if (claims.length === 0) return [];
    const now = dbNow(this.dialect);
    const kept = await this.db
      .updateTable('jobs')
      .set({ lease_expires_at: sql`${now} + ${this.leaseTtlMs}` })
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.nodeId)
      .where((eb) => eb.or(claims.map((c) => eb.and([eb('id', '=', c.id), eb('lease_token', '=', c.leaseToken)]))))
      .returning('id')
      .execute();
    const alive = new Set(kept.map((r) => Number(r.id)));
    return claims.filter((c) => !alive.has(c.id)).map((c) => c.id);
  }

  /** Saves a handler's resume point; false when the lease is lost. */
  async checkpoint(claim: JobClaim, data: unknown): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ checkpoint: JSON.stringify(data), updated_at: Date.now() })
      .where('id', '=', claim.id)
      .where('lease_token', '=', claim.leaseToken)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Runs `work` in a transaction that first re-checks this claim: the callback's
   * writes commit only if the claim is still current. Returns false when it is not.
   */
  async whileClaimed(
    claim: JobClaim,
    change: Partial<Pick<JobRow, 'status' | 'run_after' | 'last_error'>>,
    work?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('jobs')
        .set({ ...change, lease_owner: null, lease_expires_at: null, updated_at: Date.now() })
        .where('id', '=', claim.id)
        .where('lease_token', '=', claim.leaseToken)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (work) await work(trx);
      return true;
    });
  }

  async get(jobId: number): Promise<JobRow | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
    return row && normalizeJob(row);
  }

  async counts(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['status', sql<number>`count(*)`.as('n')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

/**
 * Deletes completed jobs (and their attempt history) last touched before `before`;
 * the transfer log keeps every delivery's row. Fenced: only the primary purges.
 */
export async function purgeCompletedJobs(db: Kysely<Database>, before: number, fence: Expression<SqlBool>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const old = trx.selectFrom('jobs').select('id').where('status', '=', 'completed').where('updated_at', '<', before);
    await trx.deleteFrom('job_attempts').where('job_id', 'in', old).where(fence).execute();
    const result = await trx.deleteFrom('jobs').where('status', '=', 'completed').where('updated_at', '<', before).where(fence).executeTakeFirst();
    return Number(result.numDeletedRows);
  });
}

/** Raw SQL rows bypass the pg int8 parser on some paths: make every number a number. */
function normalizeJob(row: JobRow): JobRow {
  return {
    ...row,
    id: Number(row.id),
    attempts: Number(row.attempts),
    max_attempts: Number(row.max_attempts),
    run_after: Number(row.run_after),
    lease_token: Number(row.lease_token),
    lease_expires_at: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
    transfer_id: row.transfer_id === null ? null : Number(row.transfer_id),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}
